#include "gguf/gguf_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/model_file.h"
#include "platform/error.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class GgufWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("tandem_gguf_writer_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(seed + i * 7);
  return out;
}

GgufValue u8_array(std::vector<uint8_t> values) {
  GgufValue::Array items;
  for (uint8_t v : values) items.push_back(GgufValue::of_uint(GgufValueType::kUint8, v));
  return GgufValue::of_array(GgufValueType::kUint8, std::move(items));
}

// One value of every type, arrays of strings, nested arrays and an empty array.
void add_every_type(GgufWriter& writer) {
  writer.add("t.u8", GgufValue::of_uint(GgufValueType::kUint8, 255));
  writer.add("t.i8", GgufValue::of_int(GgufValueType::kInt8, -128));
  writer.add("t.u16", GgufValue::of_uint(GgufValueType::kUint16, 65535));
  writer.add("t.i16", GgufValue::of_int(GgufValueType::kInt16, -32768));
  writer.add_uint32("t.u32", 4000000000u);
  writer.add_int32("t.i32", -2000000000);
  writer.add_float32("t.f32", 1e-6f);
  writer.add_bool("t.bool_true", true);
  writer.add_bool("t.bool_false", false);
  writer.add_string("t.string", "h\xc3\xa9llo\nworld");
  writer.add_string("t.empty_string", "");
  writer.add("t.u64", GgufValue::of_uint(GgufValueType::kUint64, 18446744073709551615ull));
  writer.add("t.i64", GgufValue::of_int(GgufValueType::kInt64, -9223372036854775807ll));
  writer.add("t.f64", GgufValue::of_float(GgufValueType::kFloat64, 3.141592653589793));
  writer.add_string_array("t.strings", {"a", "", "<|endoftext|>", "\xe2\x82\xac"});
  writer.add_int32_array("t.i32s", {1, -2, 3});
  writer.add("t.nested", GgufValue::of_array(GgufValueType::kArray,
                                             {u8_array({1, 2}), u8_array({}), u8_array({3})}));
  writer.add("t.empty_array", GgufValue::of_array(GgufValueType::kFloat32, {}));
}

void expect_same_value(const GgufValue& want, const GgufValue& got, const std::string& key) {
  ASSERT_EQ(want.type, got.type) << key;
  if (want.type == GgufValueType::kArray) {
    ASSERT_EQ(want.element_type, got.element_type) << key;
    ASSERT_EQ(want.as_array().size(), got.as_array().size()) << key;
    for (size_t i = 0; i < want.as_array().size(); ++i) {
      expect_same_value(want.as_array()[i], got.as_array()[i], key + "[" + std::to_string(i) + "]");
    }
    return;
  }
  if (want.type == GgufValueType::kFloat32) {
    EXPECT_EQ(static_cast<float>(want.as_double()), static_cast<float>(got.as_double())) << key;
    return;
  }
  ASSERT_EQ(want.data.index(), got.data.index()) << key;
  if (want.type == GgufValueType::kString) {
    EXPECT_EQ(want.as_string(), got.as_string()) << key;
  } else if (want.type == GgufValueType::kBool) {
    EXPECT_EQ(want.as_bool(), got.as_bool()) << key;
  } else if (want.is_float()) {
    EXPECT_EQ(want.as_double(), got.as_double()) << key;
  } else {
    EXPECT_EQ(want.as_int(), got.as_int()) << key;
  }
}

TEST_F(GgufWriterTest, EveryValueTypeAndTensorReadsBack) {
  GgufWriter writer;
  add_every_type(writer);
  writer.add_tensor({"a", TensorType::kF32, {3, 2}});    // 24 bytes, padded to 32
  writer.add_tensor({"b", TensorType::kQ8_0, {64, 3}});  // 2 blocks x 34 bytes x 3 rows
  writer.add_tensor({"c", TensorType::kF16, {5, 1, 1, 3}});
  const auto a = pattern(24, 1), b = pattern(204, 2), c = pattern(30, 3);
  writer.open(path("all.gguf"));
  writer.write(a);
  writer.write(b);
  writer.write(c);
  writer.close();

  const GgufFile file = GgufFile::open(path("all.gguf"));
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.file_size(), writer.file_size());
  ASSERT_EQ(file.metadata().size(), writer.metadata().size());
  for (size_t i = 0; i < writer.metadata().size(); ++i) {
    EXPECT_EQ(file.metadata()[i].first, writer.metadata()[i].first);
    expect_same_value(writer.metadata()[i].second, file.metadata()[i].second,
                      writer.metadata()[i].first);
  }
  ASSERT_EQ(file.tensors().size(), 3u);
  const std::vector<std::vector<uint8_t>> data = {a, b, c};
  for (size_t i = 0; i < 3; ++i) {
    const TensorInfo& t = file.tensors()[i];
    EXPECT_EQ(t.name, writer.tensors()[i].name);
    EXPECT_EQ(t.type, writer.tensors()[i].type);
    EXPECT_EQ(t.shape, writer.tensors()[i].shape);
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_EQ((file.data_offset() + t.offset) % 32, 0u);
    ASSERT_EQ(t.data.size(), data[i].size());
    EXPECT_EQ(0, std::memcmp(t.data.data(), data[i].data(), data[i].size())) << t.name;
  }
  EXPECT_EQ(file.tensors()[1].offset, 32u);   // 24 bytes padded to 32
  EXPECT_EQ(file.tensors()[2].offset, 256u);  // 32 + 204 padded to 224
}

// The bytes of a minimal file, spelled out from the GGUF v3 definition.
TEST_F(GgufWriterTest, HeaderBytesMatchTheFormat) {
  GgufWriter writer;
  writer.add_uint32("k", 7);
  writer.add_tensor({"w", TensorType::kF32, {2}});
  const float values[2] = {1.0f, -2.0f};
  writer.open(path("min.gguf"));
  writer.write({reinterpret_cast<const uint8_t*>(values), sizeof(values)});
  writer.close();

  std::vector<uint8_t> want = {'G', 'G', 'U', 'F', 3, 0, 0, 0,       // magic, version 3
                               1,   0,   0,   0,   0, 0, 0, 0,       // tensor count
                               1,   0,   0,   0,   0, 0, 0, 0,       // kv count
                               1,   0,   0,   0,   0, 0, 0, 0, 'k',  // key "k"
                               4,   0,   0,   0,                     // type u32
                               7,   0,   0,   0,                     // value
                               1,   0,   0,   0,   0, 0, 0, 0, 'w',  // tensor name "w"
                               1,   0,   0,   0,                     // one dimension
                               2,   0,   0,   0,   0, 0, 0, 0,       // ne[0] = 2
                               0,   0,   0,   0,                     // type F32
                               0,   0,   0,   0,   0, 0, 0, 0};      // offset 0
  want.resize(96, 0);                                                // 74 header bytes padded to 96
  const uint8_t data[] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
  want.insert(want.end(), data, data + 8);
  want.resize(128, 0);  // tensor data padded to 32
  EXPECT_EQ(read_all(path("min.gguf")), want);
}

TEST_F(GgufWriterTest, PiecewiseWritesEqualWholeWritesAndCustomAlignment) {
  auto make = [](GgufWriter& w) {
    w.add_uint32("general.alignment", 64);
    w.add_tensor({"x", TensorType::kQ4_K, {256, 4}});  // 144 bytes per row
    w.add_tensor({"y", TensorType::kF32, {7}});
  };
  const auto x = pattern(576, 9), y = pattern(28, 4);
  GgufWriter whole;
  make(whole);
  whole.open(path("whole.gguf"));
  whole.write(x);
  whole.write(y);
  whole.close();
  GgufWriter pieces;
  make(pieces);
  pieces.open(path("pieces.gguf"));
  for (size_t at = 0; at < x.size(); at += 100) {
    pieces.write(std::span<const uint8_t>(x).subspan(at, std::min<size_t>(100, x.size() - at)));
  }
  EXPECT_EQ(pieces.current_tensor(), 1u);
  pieces.write(std::span<const uint8_t>(y).first(1));
  pieces.write(std::span<const uint8_t>(y).subspan(1));
  pieces.close();
  EXPECT_EQ(read_all(path("whole.gguf")), read_all(path("pieces.gguf")));
  const GgufFile file = GgufFile::open(path("pieces.gguf"));
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset() % 64, 0u);
  EXPECT_EQ(file.tensors()[1].offset, 576u);
}

TEST_F(GgufWriterTest, MisuseThrows) {
  GgufWriter writer;
  writer.add_uint32("k", 1);
  EXPECT_THROW(writer.add_uint32("k", 2), Error);
  EXPECT_THROW(writer.add_tensor({"q", TensorType::kQ8_0, {33}}), Error);  // not a block multiple
  EXPECT_THROW(writer.add("general.alignment", GgufValue::of_uint(GgufValueType::kUint32, 48)),
               Error);
  writer.add_tensor({"w", TensorType::kF32, {4}});
  EXPECT_THROW(writer.add_tensor({"w", TensorType::kF32, {4}}), Error);
  writer.open(path("bad.gguf"));
  EXPECT_THROW(writer.write(pattern(20, 0)), Error);  // 16-byte tensor
  writer.write(pattern(8, 0));
  EXPECT_THROW(writer.close(), Error);  // half a tensor
}

TEST_F(GgufWriterTest, HoleFileHasFullSizeAndReadableHeader) {
  GgufWriter writer;
  writer.add_string("general.architecture", "qwen3");
  writer.add_tensor({"big", TensorType::kQ8_0, {4096, 4096}});  // 17.8 MB
  writer.add_tensor({"small", TensorType::kF32, {10}});
  writer.open(path("hole.gguf"));
  writer.close_as_hole();
  struct stat st {};
  ASSERT_EQ(::stat(path("hole.gguf").c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), writer.file_size());
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 1u << 20);  // sparse: the data is a hole
  const ModelFile model(path("hole.gguf"));
  EXPECT_EQ(model.tensor("big").bytes, 4096ull * 4096 / 32 * 34);
  EXPECT_EQ(model.architecture(), "qwen3");
}

TEST_F(GgufWriterTest, SplitFilesReadBackThroughModelFile) {
  GgufWriter whole;
  add_every_type(whole);
  std::vector<std::vector<uint8_t>> data;
  for (int i = 0; i < 7; ++i) {
    whole.add_tensor({"t" + std::to_string(i), TensorType::kF32, {8 * (i + 1)}});
    data.push_back(pattern(32 * (i + 1), static_cast<uint8_t>(i)));
  }
  GgufSplitWriter split(whole, path("model"), 3);
  ASSERT_EQ(split.paths().size(), 3u);
  EXPECT_EQ(split.paths()[0], path("model-00001-of-00003.gguf"));
  EXPECT_EQ(split.paths()[2], path("model-00003-of-00003.gguf"));
  split.open();
  for (const auto& d : data) split.write(d);
  split.close();

  const ModelFile model(split.paths()[0]);
  ASSERT_EQ(model.files().size(), 3u);
  ASSERT_EQ(model.tensors().size(), 7u);
  for (size_t i = 0; i < 7; ++i) {
    const TensorInfo& t = model.tensor("t" + std::to_string(i));
    ASSERT_EQ(t.data.size(), data[i].size());
    EXPECT_EQ(0, std::memcmp(t.data.data(), data[i].data(), data[i].size()));
  }
  for (size_t f = 0; f < 3; ++f) {
    const GgufFile& file = *model.files()[f];
    EXPECT_FALSE(file.tensors().empty());
    ASSERT_NE(file.find("split.no"), nullptr);
    EXPECT_EQ(file.find("split.no")->type, GgufValueType::kUint16);
    EXPECT_EQ(file.find("split.no")->as_int(), static_cast<int64_t>(f));
    EXPECT_EQ(file.find("split.count")->type, GgufValueType::kUint16);
    EXPECT_EQ(file.find("split.count")->as_int(), 3);
    EXPECT_EQ(file.find("split.tensors.count")->type, GgufValueType::kInt32);
    EXPECT_EQ(file.find("split.tensors.count")->as_int(), 7);
    EXPECT_EQ(file.find("t.strings") != nullptr, f == 0);  // metadata only in the first
  }
  expect_same_value(whole.metadata()[16].second, *model.find("t.nested"), "t.nested");
}

}  // namespace
}  // namespace tandem
