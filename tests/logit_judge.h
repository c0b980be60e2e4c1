#pragma once
// The agreement judgement of ../shared/reference/README.md ("How agreement is judged"),
// reusable by every architecture's model tests, and a reader for the per-model JSON.
//
// d(x, y) for one position: RMS over the vocabulary of (x - mean x) - (y - mean y).
// - reference mode: median_i d(engine, deqf32) <= 1e-3, argmax agreement >= 0.95;
// - fast mode: median_i d(engine, deqf32) <= 2 * median_i d(llama.cpp, deqf32) + 1e-3,
//   argmax agreement >= llama.cpp's - 0.05;
// - F16 files (no deqf32): vs the file's own logits, argmax at every position and
//   median d <= 0.01.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "test_paths.h"

namespace tandem::testing {

// Row-major [positions][vocab] float32 logits.
struct Logits {
  size_t vocab = 0;
  std::vector<float> values;

  size_t positions() const { return vocab ? values.size() / vocab : 0; }
  std::span<const float> row(size_t i) const { return {values.data() + i * vocab, vocab}; }
};

inline Logits read_logits(const std::string& path, size_t vocab) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  EXPECT_TRUE(in) << "cannot open " << path;
  Logits out{vocab, std::vector<float>(static_cast<size_t>(in.tellg()) / sizeof(float))};
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.values.data()),
          static_cast<std::streamsize>(out.values.size() * sizeof(float)));
  return out;
}

// RMS of the difference of two rows, each centred on its own mean.
inline double centred_rms_difference(std::span<const float> a, std::span<const float> b) {
  double mean_a = 0, mean_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    mean_a += a[i];
    mean_b += b[i];
  }
  mean_a /= static_cast<double>(a.size());
  mean_b /= static_cast<double>(b.size());
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = (a[i] - mean_a) - (b[i] - mean_b);
    sum += diff * diff;
  }
  return std::sqrt(sum / static_cast<double>(a.size()));
}

inline size_t argmax_of(std::span<const float> row) {
  return static_cast<size_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

struct LogitAgreement {
  std::vector<double> distances;  // d per position
  double median_distance = 0;
  double max_distance = 0;
  double argmax_agreement = 0;  // fraction of positions with the same argmax
};

inline LogitAgreement compare_logits(const Logits& a, const Logits& b) {
  LogitAgreement out;
  EXPECT_EQ(a.vocab, b.vocab);
  EXPECT_EQ(a.positions(), b.positions());
  const size_t n = std::min(a.positions(), b.positions());
  if (n == 0) return out;
  size_t same = 0;
  for (size_t i = 0; i < n; ++i) {
    out.distances.push_back(centred_rms_difference(a.row(i), b.row(i)));
    same += argmax_of(a.row(i)) == argmax_of(b.row(i)) ? 1 : 0;
  }
  std::vector<double> sorted = out.distances;
  std::sort(sorted.begin(), sorted.end());
  out.median_distance = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  out.max_distance = sorted.back();
  out.argmax_agreement = static_cast<double>(same) / static_cast<double>(n);
  return out;
}

inline constexpr double kReferenceMedianBound = 1e-3;
inline constexpr double kReferenceArgmaxBound = 0.95;
inline constexpr double kF16MedianBound = 0.01;

// Reference (exact) path against the dequantized-F32 logits.
inline void expect_reference_agreement(const Logits& engine, const Logits& deqf32,
                                       const std::string& label) {
  const LogitAgreement a = compare_logits(engine, deqf32);
  std::printf("%s: median d %.2e max d %.2e argmax %.3f\n", label.c_str(), a.median_distance,
              a.max_distance, a.argmax_agreement);
  EXPECT_LE(a.median_distance, kReferenceMedianBound) << label << " max d " << a.max_distance;
  EXPECT_GE(a.argmax_agreement, kReferenceArgmaxBound) << label;
}

// Fast path against the dequantized-F32 logits, with llama.cpp's own logits of the
// quantized file as the yardstick.
inline void expect_fast_agreement(const Logits& engine, const Logits& deqf32, const Logits& llama,
                                  const std::string& label) {
  const LogitAgreement ours = compare_logits(engine, deqf32);
  const LogitAgreement theirs = compare_logits(llama, deqf32);
  std::printf("%s: median d %.2e (llama.cpp %.2e) argmax %.3f (llama.cpp %.3f)\n", label.c_str(),
              ours.median_distance, theirs.median_distance, ours.argmax_agreement,
              theirs.argmax_agreement);
  EXPECT_LE(ours.median_distance, 2 * theirs.median_distance + 1e-3)
      << label << " llama.cpp median d " << theirs.median_distance;
  EXPECT_GE(ours.argmax_agreement, theirs.argmax_agreement - 0.05) << label;
}

// F16 files: against the file's own llama.cpp logits.
inline void expect_f16_agreement(const Logits& engine, const Logits& llama,
                                 const std::string& label) {
  const LogitAgreement a = compare_logits(engine, llama);
  std::printf("%s: median d %.2e max d %.2e argmax %.3f\n", label.c_str(), a.median_distance,
              a.max_distance, a.argmax_agreement);
  EXPECT_LE(a.median_distance, kF16MedianBound) << label << " max d " << a.max_distance;
  EXPECT_EQ(a.argmax_agreement, 1.0) << label;
}

// One prompt of a model's reference JSON.
struct ReferencePrompt {
  std::string name;
  std::vector<int32_t> token_ids;
  size_t vocab = 0;
  std::string logits_file;                 // llama.cpp on the file itself
  std::optional<std::string> deqf32_file;  // llama.cpp on the dequantized-F32 copy
  std::vector<int32_t> greedy_ids;         // greedy continuation of the file itself
  std::vector<double> greedy_margins;      // top-1 minus top-2 logit per greedy step
  std::vector<int32_t> deqf32_greedy_ids;  // greedy continuation of the deqf32 copy, if given
};

inline std::vector<ReferencePrompt> load_reference_prompts(const std::string& model) {
  std::ifstream in(reference_path(model + ".json"));
  EXPECT_TRUE(in) << "missing " << model << ".json";
  const nlohmann::json json = nlohmann::json::parse(in);
  std::vector<ReferencePrompt> prompts;
  for (const auto& p : json.at("prompts")) {
    ReferencePrompt prompt;
    prompt.name = p.at("name").get<std::string>();
    prompt.token_ids = p.at("token_ids").get<std::vector<int32_t>>();
    prompt.vocab = p.at("n_vocab").get<size_t>();
    prompt.logits_file = reference_path(p.at("logits_file").get<std::string>());
    // The JSON names the deqf32 file for some prompts only; the files follow one pattern.
    const std::string deqf32 = reference_path(model + "." + prompt.name + ".deqf32.logits.f32");
    if (std::filesystem::exists(deqf32)) prompt.deqf32_file = deqf32;
    prompt.greedy_ids = p.at("greedy_continuation_ids").get<std::vector<int32_t>>();
    prompt.greedy_margins = p.at("greedy_top1_margin").get<std::vector<double>>();
    if (p.contains("deqf32") && p.at("deqf32").is_object()) {
      prompt.deqf32_greedy_ids =
          p.at("deqf32").at("greedy_continuation_ids").get<std::vector<int32_t>>();
    }
    prompts.push_back(std::move(prompt));
  }
  return prompts;
}

}  // namespace tandem::testing
