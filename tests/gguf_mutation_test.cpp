// Mutated copies of a valid GGUF through the real binary: every one is either read or
// refused with a one-line error and exit code 1, never a crash; and `inspect --json`
// agrees with the reference README on every shipped model.

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "run_tandem.h"
#include "test_paths.h"

namespace {

using tandem::testing::run_tandem;
using tandem::testing::RunResult;

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(GgufMutation, HundredMutatedCopiesFailCleanly) {
  TANDEM_REQUIRE_SHARED();
  const std::vector<uint8_t> original =
      read_all(tandem::testing::reference_path("tokenizer-tiny4096.gguf"));
  ASSERT_GT(original.size(), 1000u);
  const auto dir =
      std::filesystem::temp_directory_path() / ("tandem-mutation-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::mt19937_64 random(12345);
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    std::vector<uint8_t> bytes = original;
    const int kind = i % 4;
    bool must_fail = false;
    if (kind == 0) {  // truncated anywhere in the header or metadata
      bytes.resize(random() % (bytes.size() - 1));
      must_fail = true;
    } else if (kind == 1) {  // a few bit flips in the first 4 KiB (header and metadata)
      for (int f = 0; f < 4; ++f)
        bytes[random() % 4096] ^= static_cast<uint8_t>(1u << (random() % 8));
    } else if (kind == 2) {  // tensor or key-value count absurdly large
      const size_t at = (random() % 2 == 0) ? 8 : 16;
      const uint64_t huge = (1ull << 40) + random() % 1000;
      std::memcpy(bytes.data() + at, &huge, 8);
      must_fail = true;
    } else {  // a random 8-byte run overwritten with 0xff (lengths, counts, types)
      const size_t at = 24 + random() % 2048;
      std::fill(bytes.begin() + static_cast<long>(at), bytes.begin() + static_cast<long>(at) + 8,
                0xff);
    }
    const std::string path = (dir / ("m" + std::to_string(i) + ".gguf")).string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    const RunResult r = run_tandem({"inspect", path}, path);
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << "copy " << i << " crashed: " << r.err;
    if (must_fail) {
      EXPECT_EQ(r.exit_code, 1) << "copy " << i;
    }
    if (r.exit_code == 1) {
      ++refused;
      EXPECT_NE(r.err.find("tandem: error: "), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(path), std::string::npos) << "the error names the file: " << r.err;
      EXPECT_NE(r.err.find("offset"), std::string::npos) << "the error names the offset: " << r.err;
    }
  }
  EXPECT_GE(refused, 50);
  std::filesystem::remove_all(dir);
}

TEST(GgufMutation, InspectJsonMatchesTheReferenceReadme) {
  TANDEM_REQUIRE_SHARED();
  struct Expected {
    std::string file;
    std::string architecture;
    size_t tensors;
  };
  // From the README's model table: 4 layers each; dense qwen3: 11 tensors a layer + embd +
  // output_norm (tied output); qwen3moe: 12 a layer + embd, output_norm, output;
  // qwen35moe: 3 DeltaNet layers of 19 and one attention layer of 16, + 3.
  const std::vector<Expected> expected = {
      {"qwen3-dense-tiny-Q8_0.gguf", "qwen3", 4 * 11 + 2},
      {"qwen3moe-tiny-F16.gguf", "qwen3moe", 4 * 12 + 3},
      {"qwen3moe-tiny-Q8_0.gguf", "qwen3moe", 4 * 12 + 3},
      {"qwen3moe-tiny-Q4_K_M.gguf", "qwen3moe", 4 * 12 + 3},
      {"qwen3moe-tiny-Q4_K-pure.gguf", "qwen3moe", 4 * 12 + 3},
      {"qwen35moe-tiny-Q8_0.gguf", "qwen35moe", 3 * 19 + 16 + 3},
      {"qwen35moe-tiny-Q4_K_M.gguf", "qwen35moe", 3 * 19 + 16 + 3},
  };
  for (const Expected& e : expected) {
    const std::string path = tandem::testing::reference_path(e.file);
    const RunResult r =
        run_tandem({"inspect", "--json", path}, "/tmp/tandem-inspect-" + std::to_string(getpid()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto json = nlohmann::json::parse(r.out);
    EXPECT_EQ(json["architecture"], e.architecture) << e.file;
    EXPECT_EQ(json["tensors"].size(), e.tensors) << e.file;
    EXPECT_EQ(json["metadata"][e.architecture + ".block_count"], 4) << e.file;
    // Cross-check with the reference JSON's tensor list.
    std::ifstream meta(
        tandem::testing::reference_path(e.file.substr(0, e.file.size() - 5) + ".json"));
    const auto reference = nlohmann::json::parse(meta);
    EXPECT_EQ(json["tensors"].size(), reference["tensors"].size()) << e.file;
    for (const auto& t : json["tensors"]) {
      EXPECT_TRUE(t.contains("name") && t.contains("type") && t.contains("shape") &&
                  t.contains("offset") && t.contains("bytes"));
    }
  }
}

}  // namespace

namespace {

TEST(InspectCommand, Qwen35At122BShapeWithoutWeights) {
  TANDEM_REQUIRE_SHARED();
  const std::string path = "/tmp/tandem-122b-" + std::to_string(getpid()) + ".gguf";
  auto synth = tandem::testing::run_tandem(
      {"synth", "--preset", "qwen3.5-122b-a10b", "--no-weights", "--vocab-from",
       tandem::testing::reference_path("tokenizer-tiny4096-qwen35pre.gguf"), "--out", path},
      path);
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  auto inspect = tandem::testing::run_tandem({"inspect", "--json", path}, path);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto json = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(json["architecture"], "qwen35moe");
  // 122B parameters (the vocabulary here is the tiny one, so a little less than the
  // published 122.1B with the full 248k vocabulary).
  const double billions = json["parameter_count"].get<double>() / 1e9;
  EXPECT_GT(billions, 119.0);
  EXPECT_LT(billions, 123.0);
  ASSERT_EQ(json["layers"].size(), 49u);  // 48 blocks + the tensors outside them
  // Every fourth block is full attention, a little smaller than a DeltaNet block.
  const auto& layers = json["layers"];
  EXPECT_LT(layers[4]["parameters"].get<uint64_t>(), layers[1]["parameters"].get<uint64_t>());
  std::filesystem::remove(path);
}

}  // namespace
