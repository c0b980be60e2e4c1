#include "gguf/gguf_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "gguf/model_file.h"
#include "platform/error.h"
#include "test_paths.h"

namespace tandem {
namespace {

// Builds GGUF bytes by hand, following the format definition.
class Bytes {
 public:
  Bytes& u32(uint32_t v) { return raw(&v, 4); }
  Bytes& u64(uint64_t v) { return raw(&v, 8); }
  Bytes& f32(float v) { return raw(&v, 4); }
  Bytes& str(const std::string& s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  Bytes& raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    data.insert(data.end(), b, b + n);
    return *this;
  }
  Bytes& pad_to(size_t alignment) {
    while (data.size() % alignment) data.push_back(0);
    return *this;
  }
  std::vector<uint8_t> data;
};

Bytes small_file() {
  Bytes b;
  b.u32(kGgufMagic).u32(3).u64(1).u64(3);
  b.str("general.architecture").u32(8).str("qwen3");
  b.str("qwen3.block_count").u32(4).u32(2);
  b.str("nested").u32(9).u32(9).u64(2);            // array of arrays
  b.u32(4).u64(2).u32(7).u32(8);                   //   [7, 8]
  b.u32(8).u64(1).str("x");                        //   ["x"]
  b.str("w").u32(2).u64(32).u64(2).u32(0).u64(0);  // f32 tensor 32 x 2 at offset 0
  b.pad_to(32);
  for (int i = 0; i < 64; ++i) b.f32(static_cast<float>(i));
  return b;
}

TEST(GgufFile, ParsesHandWrittenFile) {
  Bytes b = small_file();
  GgufFile file = GgufFile::parse(b.data, "hand.gguf");
  EXPECT_EQ(file.version(), 3u);
  ASSERT_NE(file.find("general.architecture"), nullptr);
  EXPECT_EQ(file.find("general.architecture")->as_string(), "qwen3");
  EXPECT_EQ(file.find("qwen3.block_count")->as_int(), 2);
  const auto& nested = file.find("nested")->as_array();
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(nested[0].as_array()[1].as_int(), 8);
  EXPECT_EQ(nested[1].as_array()[0].as_string(), "x");
  ASSERT_EQ(file.tensors().size(), 1u);
  const TensorInfo& w = file.tensors()[0];
  EXPECT_EQ(w.shape, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(w.bytes, 256u);
  float value;
  std::memcpy(&value, w.data.data() + 4 * 33, 4);
  EXPECT_EQ(value, 33.0f);
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  try {
    GgufFile::parse(bytes, "bad.gguf");
    FAIL() << "expected an error containing " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.gguf"), std::string::npos) << e.what();
  }
}

TEST(GgufFile, RefusesBadFiles) {
  Bytes good = small_file();
  expect_error({}, "magic");
  auto truncated = good.data;
  truncated.resize(truncated.size() - 8);
  expect_error(truncated, "outside the file");
  Bytes huge_kv;
  huge_kv.u32(kGgufMagic).u32(3).u64(0).u64(1ull << 60);
  expect_error(huge_kv.data, "kv_count");
  Bytes huge_string;
  huge_string.u32(kGgufMagic).u32(3).u64(0).u64(1).u64(~0ull).u64(0).u64(0);
  expect_error(huge_string.data, "runs past the end");
  Bytes bad_version;
  bad_version.u32(kGgufMagic).u32(1).u64(0).u64(0);
  expect_error(bad_version.data, "version");
  Bytes bad_type;
  bad_type.u32(kGgufMagic).u32(3).u64(1).u64(0).str("w").u32(1).u64(32).u32(99).u64(0);
  expect_error(bad_type.data, "unknown tensor type 99");
  Bytes overflow;
  overflow.u32(kGgufMagic)
      .u32(3)
      .u64(1)
      .u64(0)
      .str("w")
      .u32(2)
      .u64(1ull << 40)
      .u64(1ull << 40)
      .u32(0)
      .u64(0);
  expect_error(overflow.data, "overflows");
  Bytes huge_array;
  huge_array.u32(kGgufMagic).u32(3).u64(0).u64(1).str("a").u32(9).u32(6).u64(1ull << 40);
  expect_error(huge_array.data, "cannot fit");
}

TEST(ModelFile, ReferenceFilesMatchTheirReadme) {
  TANDEM_REQUIRE_SHARED();
  struct Expected {
    const char* file;
    const char* arch;
    size_t tensors;
  };
  // Counts follow the README: 4 layers each; per layer qwen3 has 11 tensors (norms, q/k/v/o,
  // q/k norm, ffn gate/up/down), qwen3moe 12 (router instead of nothing, *_exps), etc.
  for (const Expected& e : {Expected{"qwen3-dense-tiny-Q8_0.gguf", "qwen3", 0},
                            Expected{"qwen3moe-tiny-Q8_0.gguf", "qwen3moe", 0},
                            Expected{"qwen35moe-tiny-Q8_0.gguf", "qwen35moe", 0}}) {
    ModelFile model(testing::reference_path(e.file));
    EXPECT_EQ(model.architecture(), e.arch);
    EXPECT_EQ(model.get_uint(model.arch_key("block_count")), 4u);
    EXPECT_GT(model.tensors().size(), 20u);
    for (const auto& t : model.tensors()) EXPECT_EQ(t.data.size(), t.bytes) << t.name;
  }
}

TEST(ModelFile, SplitNames) {
  auto split = parse_split_name("/m/model-00001-of-00003.gguf");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->prefix, "/m/model");
  EXPECT_EQ(split->count, 3);
  EXPECT_EQ(split_path("/m/model", 2, 3), "/m/model-00002-of-00003.gguf");
  EXPECT_FALSE(parse_split_name("/m/model.gguf"));
}

}  // namespace
}  // namespace tandem
