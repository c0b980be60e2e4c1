// tandem synth against the reference models: the same hyperparameters must give the same
// tensor names, shapes and types and the same metadata as llama.cpp's files.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/model_file.h"
#include "model/synth/synth_writer.h"
#include "ops/quant/dequantize.h"
#include "test_paths.h"

namespace tandem::synth {
namespace {

namespace fs = std::filesystem;
using tandem::testing::reference_path;

class SynthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("tandem_synth_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// The hyperparameters of the reference models (reference README, "Models").
SynthOptions reference_options(const std::string& arch, FileType type) {
  SynthOptions o;
  o.config.architecture = arch;
  o.config.tied = arch == "qwen3";
  o.file_type = type;
  o.seed = 7;
  o.threads = 2;
  return o;
}

std::string vocab_for(const std::string& arch) {
  return reference_path(arch == "qwen35moe" ? "tokenizer-tiny4096-qwen35pre.gguf"
                                            : "tokenizer-tiny4096.gguf");
}

std::string describe(const GgufValue& v) {
  if (v.type == GgufValueType::kArray) {
    std::string out = "[";
    for (const auto& item : v.as_array()) out += describe(item) + ",";
    return out + "]";
  }
  if (v.type == GgufValueType::kString) return v.as_string();
  if (v.type == GgufValueType::kBool) return v.as_bool() ? "true" : "false";
  if (v.is_float()) return std::to_string(v.as_double());
  return std::to_string(v.as_int());
}

void expect_same_structure(const ModelFile& mine, const ModelFile& ref) {
  ASSERT_EQ(mine.tensors().size(), ref.tensors().size());
  for (size_t i = 0; i < ref.tensors().size(); ++i) {
    const TensorInfo& a = mine.tensors()[i];
    const TensorInfo& b = ref.tensors()[i];
    EXPECT_EQ(a.name, b.name) << i;
    EXPECT_EQ(type_name(a.type), type_name(b.type)) << b.name;
    EXPECT_EQ(a.shape, b.shape) << b.name;
    EXPECT_EQ(a.bytes, b.bytes) << b.name;
  }
  ASSERT_EQ(mine.metadata().size(), ref.metadata().size());
  for (size_t i = 0; i < ref.metadata().size(); ++i) {
    const auto& [key, want] = ref.metadata()[i];
    EXPECT_EQ(mine.metadata()[i].first, key);
    const GgufValue& got = mine.metadata()[i].second;
    EXPECT_EQ(got.type, want.type) << key;
    if (key == "general.name") continue;
    EXPECT_EQ(describe(got), describe(want)) << key;
  }
}

struct ReferenceCase {
  const char* file;
  const char* arch;
  FileType type;
};

TEST_F(SynthTest, MatchesEveryReferenceModelStructure) {
  TANDEM_REQUIRE_SHARED();
  const ReferenceCase cases[] = {
      {"qwen3-dense-tiny-Q8_0.gguf", "qwen3", FileType::kQ8_0},
      {"qwen3moe-tiny-F16.gguf", "qwen3moe", FileType::kF16},
      {"qwen3moe-tiny-Q4_K-pure.gguf", "qwen3moe", FileType::kQ4_K},
      {"qwen3moe-tiny-Q4_K_M.gguf", "qwen3moe", FileType::kQ4_K_M},
      {"qwen3moe-tiny-Q8_0.gguf", "qwen3moe", FileType::kQ8_0},
      {"qwen35moe-tiny-Q4_K_M.gguf", "qwen35moe", FileType::kQ4_K_M},
      {"qwen35moe-tiny-Q8_0.gguf", "qwen35moe", FileType::kQ8_0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const GgufFile vocab = GgufFile::open(vocab_for(c.arch));
    const std::string out = path(std::string("mine-") + c.file);
    write_synth_model(reference_options(c.arch, c.type), vocab, out);
    const ModelFile mine(out);
    const ModelFile ref(reference_path(c.file));
    expect_same_structure(mine, ref);
    EXPECT_EQ(fs::file_size(out), fs::file_size(reference_path(c.file)));
  }
}

TEST_F(SynthTest, SameSeedSameBytesOtherSeedOtherWeights) {
  TANDEM_REQUIRE_SHARED();
  const GgufFile vocab = GgufFile::open(vocab_for("qwen35moe"));
  SynthOptions o = reference_options("qwen35moe", FileType::kQ4_K_M);
  write_synth_model(o, vocab, path("a.gguf"));
  o.threads = 1;  // the thread count must not matter
  write_synth_model(o, vocab, path("b.gguf"));
  o.seed = 8;
  write_synth_model(o, vocab, path("c.gguf"));
  auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(bytes(path("a.gguf")), bytes(path("b.gguf")));
  EXPECT_NE(bytes(path("a.gguf")), bytes(path("c.gguf")));
}

struct Stats {
  double mean = 0;
  double std = 0;
  double min = 1e30;
  double max = -1e30;
};

Stats stats_of(const TensorInfo& t) {
  std::vector<float> values(t.element_count());
  const size_t row = static_cast<size_t>(t.row_length());
  const size_t row_size = row_bytes(t.type, row);
  for (size_t r = 0; r < t.row_count(); ++r) {
    dequantize_row(t.type, t.data.data() + r * row_size,
                   std::span<float>(values).subspan(r * row, row));
  }
  Stats s;
  for (float v : values) {
    s.mean += v;
    s.min = std::min<double>(s.min, v);
    s.max = std::max<double>(s.max, v);
  }
  s.mean /= values.size();
  for (float v : values) s.std += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(s.std / values.size());
  return s;
}

// The initialisation of the reference README, checked on an F32 model.
TEST_F(SynthTest, WeightsFollowTheReferenceInitialisation) {
  TANDEM_REQUIRE_SHARED();
  const GgufFile vocab = GgufFile::open(vocab_for("qwen35moe"));
  write_synth_model(reference_options("qwen35moe", FileType::kF32), vocab, path("f32.gguf"));
  const ModelFile model(path("f32.gguf"));
  auto near = [](double got, double want, double tolerance, const std::string& what) {
    EXPECT_NEAR(got, want, tolerance) << what;
  };
  const Stats embd = stats_of(model.tensor("token_embd.weight"));  // 1M values
  near(embd.std, 0.5, 0.005, "token_embd std");
  near(embd.mean, 0.0, 0.005, "token_embd mean");
  near(stats_of(model.tensor("output.weight")).std, 0.25, 0.005, "output std");
  near(stats_of(model.tensor("blk.0.ffn_gate_inp.weight")).std, 0.25, 0.03, "router std");
  const Stats experts = stats_of(model.tensor("blk.1.ffn_down_exps.weight"));  // fan-in 256
  near(experts.std, 0.7 / 16, 0.001, "ffn_down_exps std");
  near(stats_of(model.tensor("blk.3.attn_output.weight")).std, 0.7 / std::sqrt(512.0), 0.001,
       "attn_output std");
  const Stats norm = stats_of(model.tensor("blk.2.post_attention_norm.weight"));
  near(norm.mean, 1.0, 0.02, "norm mean");
  near(norm.std, 0.05, 0.01, "norm std");
  const Stats conv = stats_of(model.tensor("blk.0.ssm_conv1d.weight"));
  near(conv.std, 0.3, 0.02, "ssm_conv1d std");
  const Stats a = stats_of(model.tensor("blk.0.ssm_a"));
  EXPECT_GE(a.min, -16.0);
  EXPECT_LE(a.max, -1.0);
  const Stats dt = stats_of(model.tensor("blk.1.ssm_dt.bias"));
  EXPECT_GE(dt.min, -4.0);
  EXPECT_LE(dt.max, -2.0);
}

// The quantized file holds the F32 file's weights within the quantization step, so rows
// reach the right places through the chunked stream.
TEST_F(SynthTest, QuantizedWeightsAreTheF32WeightsRounded) {
  TANDEM_REQUIRE_SHARED();
  const GgufFile vocab = GgufFile::open(vocab_for("qwen3moe"));
  write_synth_model(reference_options("qwen3moe", FileType::kF32), vocab, path("f32.gguf"));
  write_synth_model(reference_options("qwen3moe", FileType::kQ8_0), vocab, path("q8.gguf"));
  const ModelFile exact(path("f32.gguf"));
  const ModelFile rounded(path("q8.gguf"));
  for (const char* name :
       {"token_embd.weight", "blk.3.ffn_up_exps.weight", "blk.0.attn_q.weight"}) {
    const TensorInfo& a = exact.tensor(name);
    const TensorInfo& b = rounded.tensor(name);
    ASSERT_EQ(b.type, TensorType::kQ8_0);
    const auto* values = reinterpret_cast<const float*>(a.data.data());
    const size_t row = static_cast<size_t>(a.row_length());
    std::vector<float> back(row);
    double worst = 0;
    for (size_t r = 0; r < a.row_count(); ++r) {
      dequantize_row(b.type, b.data.data() + r * row_bytes(b.type, row), back);
      for (size_t i = 0; i < row; ++i) {
        // Q8_0: |error| <= half a step of max|block| / 127.
        worst = std::max(worst, std::abs(double{back[i]} - values[r * row + i]));
      }
    }
    const Stats s = stats_of(a);
    EXPECT_LT(worst, 0.5 * std::max(std::abs(s.min), std::abs(s.max)) / 127 * 1.01) << name;
  }
}

// Every architecture with every file type: the file reads back, each tensor has the
// type its role asks for, and BF16 / F16 / K-quant rows decode to finite values.
TEST_F(SynthTest, EveryArchitectureAndTypeReadsBack) {
  TANDEM_REQUIRE_SHARED();
  for (const char* arch : {"qwen3", "qwen3moe", "qwen35moe"}) {
    const GgufFile vocab = GgufFile::open(vocab_for(arch));
    for (FileType type : {FileType::kF32, FileType::kF16, FileType::kBF16, FileType::kQ8_0,
                          FileType::kQ4_K, FileType::kQ6_K, FileType::kQ4_K_M}) {
      SCOPED_TRACE(std::string(arch) + " " + std::string(file_type_name(type)));
      SynthOptions o = reference_options(arch, type);
      const std::string out = path("model.gguf");
      write_synth_model(o, vocab, out);
      const ModelFile model(out);
      EXPECT_EQ(model.architecture(), arch);
      EXPECT_EQ(model.get_uint("general.file_type"), llama_file_type(type));
      SynthConfig config = o.config;
      config.vocab = 4122;
      const auto tensors = synth_tensors(config);
      ASSERT_EQ(model.tensors().size(), tensors.size());
      for (const TensorInfo& t : model.tensors()) {
        const bool stays_f32 = t.shape.size() == 1 ||
                               t.name.find("ffn_gate_inp.") != std::string::npos ||
                               t.name.find("ssm_conv1d") != std::string::npos;
        if (stays_f32) {
          EXPECT_EQ(t.type, TensorType::kF32) << t.name;
        } else if (type == FileType::kF16) {
          EXPECT_EQ(t.type, TensorType::kF16) << t.name;
        } else if (type == FileType::kBF16) {
          EXPECT_EQ(t.type, TensorType::kBF16) << t.name;
        } else if (type == FileType::kQ6_K) {
          EXPECT_EQ(t.type, TensorType::kQ6_K) << t.name;
        }
      }
      const Stats s = stats_of(
          model.tensor("blk.1.ffn_up" + std::string(config.is_moe() ? "_exps" : "") + ".weight"));
      EXPECT_TRUE(std::isfinite(s.std));
      EXPECT_NEAR(s.std, 0.7 / 16, 0.7 / 16 * 0.1);  // fan-in 256, within quantization noise
    }
  }
}

bool use_more_bits(int layer, int layers) {
  return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

// The Qwen3.5-122B-A10B shape as a header-only file: written in seconds, read by inspect.
TEST_F(SynthTest, Qwen35_122bPresetWithoutWeights) {
  TANDEM_REQUIRE_SHARED();
  const std::string out = path("q35-122b.gguf");
  const std::string command =
      tandem::testing::tandem_binary() +
      " synth --preset qwen3.5-122b-a10b --type q4_k_m --no-weights --out " + out +
      " --vocab-from " + reference_path("ggml-vocab-qwen2.gguf") + " > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const ModelFile model(out);
  EXPECT_EQ(model.architecture(), "qwen35moe");
  EXPECT_EQ(model.get_uint("qwen35moe.block_count"), 48u);
  EXPECT_EQ(model.get_uint("qwen35moe.expert_count"), 256u);
  EXPECT_EQ(model.get_int_array("qwen35moe.rope.dimension_sections"),
            (std::vector<int64_t>{11, 11, 10, 0}));
  EXPECT_EQ(model.get_string_array("tokenizer.ggml.tokens").size(), 248320u);
  EXPECT_EQ(model.tensor("token_embd.weight").shape, (std::vector<int64_t>{3072, 248320}));
  EXPECT_EQ(model.tensor("blk.5.ffn_down_exps.weight").shape,
            (std::vector<int64_t>{1024, 3072, 256}));
  EXPECT_EQ(model.tensor("blk.3.attn_q.weight").shape, (std::vector<int64_t>{3072, 16384}));
  EXPECT_EQ(model.tensor("blk.0.attn_qkv.weight").shape, (std::vector<int64_t>{3072, 12288}));
  EXPECT_EQ(model.find_tensor("blk.3.attn_qkv.weight"), nullptr);
  // Q4_K_M with 256 experts: no 8-expert bumps; attn_v-like and ffn_down get Q6_K on the
  // layers use_more_bits picks (attn_v-like counted over the 48 attn_qkv / attn_v tensors).
  EXPECT_EQ(model.tensor("output.weight").type, TensorType::kQ6_K);
  EXPECT_EQ(model.tensor("token_embd.weight").type, TensorType::kQ4_K);
  EXPECT_EQ(model.tensor("blk.3.attn_k.weight").type, TensorType::kQ4_K);
  EXPECT_EQ(model.tensor("blk.3.attn_output.weight").type, TensorType::kQ4_K);
  for (int il = 0; il < 48; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    const TensorType more = use_more_bits(il, 48) ? TensorType::kQ6_K : TensorType::kQ4_K;
    EXPECT_EQ(model.tensor(p + "ffn_down_exps.weight").type, more) << il;
    EXPECT_EQ(model.tensor(p + "ffn_down_shexp.weight").type, more) << il;
    const bool full = (il + 1) % 4 == 0;
    EXPECT_EQ(model.tensor(p + (full ? "attn_v.weight" : "attn_qkv.weight")).type, more) << il;
  }
  // About 70 GB of weights, none of it on disk.
  EXPECT_GT(model.total_tensor_bytes(), 65ull << 30);
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 64ull << 20);
}

TEST_F(SynthTest, SplitOutputReadsBack) {
  TANDEM_REQUIRE_SHARED();
  const GgufFile vocab = GgufFile::open(vocab_for("qwen3"));
  SynthOptions o = reference_options("qwen3", FileType::kQ8_0);
  write_synth_model(o, vocab, path("one.gguf"));
  o.splits = 3;
  const auto paths = write_synth_model(o, vocab, path("split.gguf"));
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(paths[0], path("split-00001-of-00003.gguf"));
  const ModelFile one(path("one.gguf"));
  const ModelFile split(paths[0]);
  ASSERT_EQ(split.tensors().size(), one.tensors().size());
  for (const TensorInfo& t : one.tensors()) {
    const TensorInfo& s = split.tensor(t.name);
    ASSERT_EQ(s.data.size(), t.data.size());
    EXPECT_TRUE(std::equal(t.data.begin(), t.data.end(), s.data.begin())) << t.name;
  }
}

}  // namespace
}  // namespace tandem::synth

namespace tandem::synth {
namespace {

// Dense Q4_K_M (not covered by the reference files), from llama-quantize's rules: with 8
// layers use_more_bits picks layers 0, 3, 6 and 7; a tied token_embd is treated as output.
TEST(SynthQuantMix, DenseQ4KMediumFollowsLlamaQuantize) {
  SynthConfig c;
  c.architecture = "qwen3";
  c.layers = 8;
  c.tied = true;
  c.vocab = 512;
  const auto tensors = synth_tensors(c);
  const auto types = choose_tensor_types(FileType::kQ4_K_M, tensors, c.layers, 0);
  auto type_of = [&](const std::string& name) {
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (tensors[i].name == name) return types[i];
    }
    ADD_FAILURE() << "no tensor " << name;
    return TensorType::kF32;
  };
  EXPECT_EQ(type_of("token_embd.weight"), TensorType::kQ6_K);
  EXPECT_EQ(type_of("output_norm.weight"), TensorType::kF32);
  for (int il = 0; il < 8; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    const bool more = il == 0 || il == 3 || il == 6 || il == 7;
    const TensorType big = more ? TensorType::kQ6_K : TensorType::kQ4_K;
    EXPECT_EQ(type_of(p + "attn_v.weight"), big) << il;
    EXPECT_EQ(type_of(p + "ffn_down.weight"), big) << il;
    EXPECT_EQ(type_of(p + "attn_k.weight"), TensorType::kQ4_K) << il;
    EXPECT_EQ(type_of(p + "attn_output.weight"), TensorType::kQ4_K) << il;
    EXPECT_EQ(type_of(p + "ffn_up.weight"), TensorType::kQ4_K) << il;
    EXPECT_EQ(type_of(p + "attn_q_norm.weight"), TensorType::kF32) << il;
  }
  // Pure types keep 1-D tensors in F32 and use one type for the rest.
  const auto pure = choose_tensor_types(FileType::kQ6_K, tensors, c.layers, 0);
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(pure[i], tensors[i].shape.size() == 1 ? TensorType::kF32 : TensorType::kQ6_K)
        << tensors[i].name;
  }
}

TEST(SynthQuantMix, RowsThatDoNotFitTheBlockFallBack) {
  SynthConfig c;
  c.architecture = "qwen3";
  c.hidden = 96;  // not a multiple of 256: Q6_K output falls back to Q8_0
  c.heads = 2;
  c.kv_heads = 1;
  c.head_dim = 64;
  c.vocab = 64;
  const auto tensors = synth_tensors(c);
  const auto types = choose_tensor_types(FileType::kQ4_K_M, tensors, c.layers, 0);
  EXPECT_EQ(tensors[0].name, "output.weight");
  EXPECT_EQ(types[0], TensorType::kQ8_0);
  EXPECT_EQ(types[2], TensorType::kQ5_0);  // token_embd: Q4_K -> Q5_0
}

}  // namespace
}  // namespace tandem::synth
