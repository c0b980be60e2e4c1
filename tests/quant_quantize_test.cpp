// Quantizers: round trips stay within the step each format's stored scales define,
// RMS error on Gaussian data, edge cases, and agreement with the blocks llama-quantize
// wrote into the reference models.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gguf/model_file.h"
#include "ops/quant/blocks.h"
#include "ops/quant/dequantize.h"
#include "ops/quant/quantize.h"
#include "platform/half.h"
#include "test_paths.h"

namespace tandem {
namespace {

using quant::BlockQ8_0;
using quant::BlockQ8_1;
using quant::BlockQ8_K;

std::vector<uint8_t> quantize(TensorType type, const std::vector<float>& x) {
  std::vector<uint8_t> bytes(row_bytes(type, x.size()));
  quantize_row(type, x, bytes.data());
  return bytes;
}

std::vector<float> round_trip(TensorType type, const std::vector<float>& x) {
  const std::vector<uint8_t> bytes = quantize(type, x);
  std::vector<float> out(x.size());
  dequantize_row(type, bytes.data(), out);
  return out;
}

std::vector<float> gaussian(size_t n, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

// Test inputs: Gaussian, uniform with an offset, heavy-tailed, and tiny magnitudes.
std::vector<std::vector<float>> sample_rows(size_t n) {
  std::vector<std::vector<float>> rows;
  rows.push_back(gaussian(n, 1.0f, 1));
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> uniform(-0.5f, 3.0f);
  std::vector<float> shifted(n);
  for (float& v : shifted) v = uniform(rng);
  rows.push_back(shifted);
  std::student_t_distribution<float> heavy(2.0f);
  std::vector<float> tails(n);
  for (float& v : tails) v = heavy(rng);
  rows.push_back(tails);
  rows.push_back(gaussian(n, 1e-3f, 3));
  return rows;
}

float max_abs(const float* x, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

TEST(QuantQuantize, Supported) {
  for (TensorType type :
       {TensorType::kF32, TensorType::kF16, TensorType::kBF16, TensorType::kQ8_0, TensorType::kQ8_1,
        TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kQ8_K}) {
    EXPECT_TRUE(can_quantize(type)) << type_name(type);
  }
  EXPECT_FALSE(can_quantize(TensorType::kQ2_K));
  EXPECT_FALSE(can_quantize(TensorType::kI32));
}

TEST(QuantQuantize, FloatTypes) {
  const std::vector<float> exact = {1.0f, -2.5f, 0.0f, 65504.0f, std::ldexp(1.0f, -24)};
  EXPECT_EQ(round_trip(TensorType::kF32, exact), exact);
  EXPECT_EQ(round_trip(TensorType::kF16, exact), exact);
  const std::vector<float> x = gaussian(512, 3.0f, 4);
  const auto f16 = round_trip(TensorType::kF16, x);
  const auto bf16 = round_trip(TensorType::kBF16, x);
  for (size_t i = 0; i < x.size(); ++i) {
    // Round to nearest: half an ulp, 2^-11 (F16) and 2^-8 (BF16) relative for normals.
    EXPECT_LE(std::fabs(f16[i] - x[i]), std::ldexp(std::fabs(x[i]), -11) + std::ldexp(1.0f, -25));
    EXPECT_LE(std::fabs(bf16[i] - x[i]), std::ldexp(std::fabs(x[i]), -8));
  }
}

int largest_level(const int8_t* qs, int n) {
  int m = 0;
  for (int i = 0; i < n; ++i) m = std::max(m, std::abs(static_cast<int>(qs[i])));
  return m;
}

// F16 rounding error of a value of magnitude v: half an ulp, 2^-11 relative for normals,
// 2^-25 absolute in the subnormal range (below 2^-14).
float f16_rounding(float v) {
  return std::max(std::ldexp(std::fabs(v), -11), std::ldexp(1.0f, -25));
}

// Q8_0 / Q8_1: d = amax / 127 rounded to F16, so |x - q d| <= d / 2 plus the F16
// rounding of d magnified by |q| <= 127.
float q8_legacy_bound(const float* block) {
  const float d = max_abs(block, 32) / 127;
  return d / 2 + 127 * f16_rounding(d);
}

TEST(QuantQuantize, Q8_0RoundTripWithinHalfStep) {
  for (const auto& x : sample_rows(1024)) {
    const std::vector<uint8_t> bytes = quantize(TensorType::kQ8_0, x);
    std::vector<float> y(x.size());
    dequantize_row(TensorType::kQ8_0, bytes.data(), y);
    for (size_t b = 0; b < x.size() / 32; ++b) {
      const float bound = q8_legacy_bound(&x[32 * b]);
      for (size_t i = 32 * b; i < 32 * b + 32; ++i) {
        ASSERT_LE(std::fabs(x[i] - y[i]), bound) << "element " << i;
      }
      const auto block = quant::load_block<BlockQ8_0>(bytes.data(), b);
      EXPECT_EQ(largest_level(block.qs, 32), 127);  // the largest magnitude uses the full range
    }
    // Dequantized values are on the grid: quantizing them again gives the same blocks.
    EXPECT_EQ(quantize(TensorType::kQ8_0, y), bytes);
  }
}

TEST(QuantQuantize, Q8_1RoundTripAndBlockSum) {
  for (const auto& x : sample_rows(1024)) {
    const std::vector<uint8_t> bytes = quantize(TensorType::kQ8_1, x);
    std::vector<float> y(x.size());
    dequantize_row(TensorType::kQ8_1, bytes.data(), y);
    for (size_t b = 0; b < x.size() / 32; ++b) {
      const float bound = q8_legacy_bound(&x[32 * b]);
      for (size_t i = 32 * b; i < 32 * b + 32; ++i) {
        ASSERT_LE(std::fabs(x[i] - y[i]), bound) << "element " << i;
      }
      const auto block = quant::load_block<BlockQ8_1>(bytes.data(), b);
      int sum = 0;
      for (int q : block.qs) sum += q;
      // s = d * sum(q) with d before F16 rounding, then rounded to F16 itself.
      const float d = f16_to_f32(block.d);
      const float expected = d * static_cast<float>(sum);
      EXPECT_NEAR(f16_to_f32(block.s), expected,
                  std::abs(sum) * f16_rounding(d) + 2 * f16_rounding(expected));
    }
  }
}

TEST(QuantQuantize, Q8_KRoundTripAndBlockSums) {
  for (const auto& x : sample_rows(1024)) {
    const std::vector<uint8_t> bytes = quantize(TensorType::kQ8_K, x);
    for (size_t b = 0; b < x.size() / 256; ++b) {
      const auto block = quant::load_block<BlockQ8_K>(bytes.data(), b);
      // d is an F32 of magnitude amax / 127: the only error is rounding to the level.
      EXPECT_NEAR(std::fabs(block.d), max_abs(&x[256 * b], 256) / 127, 1e-6f * std::fabs(block.d));
      EXPECT_EQ(largest_level(block.qs, 256), 127);
      for (int i = 0; i < 256; ++i) {
        const float y = block.d * static_cast<float>(block.qs[i]);
        ASSERT_LE(std::fabs(x[256 * b + i] - y), std::fabs(block.d) * (0.5f + 1e-5f)) << i;
      }
      for (int g = 0; g < 16; ++g) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += block.qs[16 * g + l];
        EXPECT_EQ(block.bsums[g], sum);
      }
    }
  }
}

// The grid of one K-quant sub-block as stored: values lo, lo + step, ..., hi.
struct Grid {
  size_t first;  // first element of the sub-block in its row
  size_t size;
  float step;
  float lo;
  float hi;
};

// Reads the sub-block grids of a K-quant row from its block bytes.
std::vector<Grid> k_grids(TensorType type, const uint8_t* bytes, size_t elements) {
  std::vector<Grid> grids;
  const size_t block_bytes = traits(type).block_bytes;
  for (size_t b = 0; b < elements / 256; ++b) {
    const uint8_t* block = bytes + b * block_bytes;
    if (type == TensorType::kQ6_K) {
      const auto q6 = quant::load_block<quant::BlockQ6_K>(bytes, b);
      for (int s = 0; s < 16; ++s) {
        const float step = f16_to_f32(q6.d) * q6.scales[s];
        grids.push_back({256 * b + 16 * s, 16, step, -32 * step, 31 * step});
      }
      continue;
    }
    uint16_t d_bits, dmin_bits;
    std::memcpy(&d_bits, block, 2);
    std::memcpy(&dmin_bits, block + 2, 2);
    const float max_level = type == TensorType::kQ5_K ? 31.0f : 15.0f;
    for (int s = 0; s < 8; ++s) {
      const auto sm = quant::unpack_k4_scale_min(s, block + 4);
      const float step = f16_to_f32(d_bits) * sm.scale;
      const float lo = -f16_to_f32(dmin_bits) * sm.min;
      grids.push_back({256 * b + 32 * s, 32, step, lo, lo + max_level * step});
    }
  }
  return grids;
}

// Every element must be rounded to the grid point nearest to it:
// |y - clamp(x, lo, hi)| <= step / 2, plus float rounding in the quantizer.
void expect_nearest_grid_point(TensorType type, const std::vector<float>& x) {
  const std::vector<uint8_t> bytes = quantize(type, x);
  std::vector<float> y(x.size());
  dequantize_row(type, bytes.data(), y);
  for (const Grid& grid : k_grids(type, bytes.data(), x.size())) {
    const float lo = std::min(grid.lo, grid.hi), hi = std::max(grid.lo, grid.hi);
    const float slack = 1e-6f * std::max(std::fabs(lo), std::fabs(hi));
    for (size_t i = grid.first; i < grid.first + grid.size; ++i) {
      const float target = std::clamp(x[i], lo, hi);
      ASSERT_LE(std::fabs(y[i] - target), std::fabs(grid.step) / 2 + slack)
          << type_name(type) << " element " << i << " x " << x[i] << " step " << grid.step;
    }
  }
}

double rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) sum += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
  return std::sqrt(sum / static_cast<double>(x.size()));
}

class QuantQuantizeK : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantQuantizeK, RoundsToNearestStoredGridPoint) {
  for (const auto& x : sample_rows(4096)) expect_nearest_grid_point(GetParam(), x);
}

TEST_P(QuantQuantizeK, EdgeCases) {
  const TensorType type = GetParam();
  // All zeros come back as exact zeros.
  const std::vector<float> zeros(512, 0.0f);
  for (float v : round_trip(type, zeros)) ASSERT_EQ(v, 0.0f);
  // One huge value among N(0, 1): it still lands within its step.
  std::vector<float> spike = gaussian(512, 1.0f, 7);
  spike[300] = 1e4f;
  expect_nearest_grid_point(type, spike);
  EXPECT_NEAR(round_trip(type, spike)[300], 1e4f, 1e4f / 30);
  // Negative values only, and a constant.
  std::vector<float> negative = gaussian(512, 1.0f, 8);
  for (float& v : negative) v = -1.0f - std::fabs(v);
  expect_nearest_grid_point(type, negative);
  expect_nearest_grid_point(type, std::vector<float>(512, 2.5f));
  for (float v : round_trip(type, std::vector<float>(512, -0.75f))) EXPECT_NEAR(v, -0.75f, 1e-3f);
}

TEST_P(QuantQuantizeK, GaussianRmsError) {
  // Uniform rounding noise gives rms ~ step / sqrt(12). Q4_K / Q5_K split a sub-block's
  // range (about 4.2 sigma for 32 samples) into 15 or 31 steps; Q6_K maps the largest
  // magnitude (about 2.0 sigma for 16 samples) to level -32. The scale searches must do
  // at least as well as that estimate.
  const TensorType type = GetParam();
  const double bound = type == TensorType::kQ4_K   ? 4.2 / 15 / std::sqrt(12.0)
                       : type == TensorType::kQ5_K ? 4.2 / 31 / std::sqrt(12.0)
                                                   : 2.0 / 32 / std::sqrt(12.0);
  const std::vector<float> x = gaussian(1 << 16, 1.0f, 9);
  const double rms = rms_error(x, round_trip(type, x));
  EXPECT_LT(rms, bound) << type_name(type);
  std::printf("%s rms %.5f bound %.5f\n", std::string(type_name(type)).c_str(), rms, bound);
}

INSTANTIATE_TEST_SUITE_P(Types, QuantQuantizeK,
                         ::testing::Values(TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K),
                         [](const auto& param_info) {
                           return std::string(type_name(param_info.param));
                         });

// llama-quantize made the reference files from the generator's F32 weights; quantizing
// the F16 copy of the same weights must give nearly the same values. They cannot be
// identical: the F16 rounding of the input moves block maxima, which changes F16 scales
// (in about a quarter of the blocks) and flips a few levels.
void compare_with_file(const std::string& file, TensorType type, size_t max_tensors) {
  const ModelFile f16(testing::reference_path("qwen3moe-tiny-F16.gguf"));
  const ModelFile quantized(testing::reference_path(file));
  size_t tensors = 0, elements = 0, same_values = 0;
  double ours = 0, theirs = 0, between = 0;
  for (const TensorInfo& info : quantized.tensors()) {
    if (info.type != type || tensors == max_tensors) continue;
    ++tensors;
    const TensorInfo& reference = f16.tensor(info.name);
    std::vector<float> x(reference.element_count());
    dequantize_row(TensorType::kF16, reference.data.data(), x);
    const std::vector<uint8_t> bytes = quantize(type, x);
    ASSERT_EQ(bytes.size(), info.bytes);
    std::vector<float> y(x.size()), z(x.size());
    dequantize_row(type, bytes.data(), y);
    dequantize_row(type, info.data.data(), z);
    for (size_t i = 0; i < x.size(); ++i) same_values += y[i] == z[i];
    elements += x.size();
    ours += std::pow(rms_error(x, y), 2);
    theirs += std::pow(rms_error(x, z), 2);
    between += std::pow(rms_error(y, z), 2);
  }
  ASSERT_GT(tensors, 0u);
  const double same = static_cast<double>(same_values) / static_cast<double>(elements);
  std::printf(
      "%s %s: %zu tensors, %.4f of values identical, rms error %.6g vs %.6g, rms diff %.6g\n",
      file.c_str(), std::string(type_name(type)).c_str(), tensors, same, std::sqrt(ours / tensors),
      std::sqrt(theirs / tensors), std::sqrt(between / tensors));
  // The same algorithm: most values identical and the rest off by far less than the
  // quantization error (two unrelated quantizers would differ by about sqrt(2) times
  // it); and never a larger error than llama-quantize's.
  EXPECT_GT(same, 0.6);
  EXPECT_LT(std::sqrt(between), 0.6 * std::sqrt(theirs));
  EXPECT_LT(std::sqrt(ours), std::sqrt(theirs) * 1.01);
}

TEST(QuantQuantizeReference, Q8_0MatchesLlamaQuantize) {
  TANDEM_REQUIRE_SHARED();
  compare_with_file("qwen3moe-tiny-Q8_0.gguf", TensorType::kQ8_0, 6);
}

TEST(QuantQuantizeReference, Q4_KMatchesLlamaQuantize) {
  TANDEM_REQUIRE_SHARED();
  compare_with_file("qwen3moe-tiny-Q4_K-pure.gguf", TensorType::kQ4_K, 6);
}

TEST(QuantQuantizeReference, Q5_KMatchesLlamaQuantize) {
  TANDEM_REQUIRE_SHARED();
  compare_with_file("qwen3moe-tiny-Q4_K_M.gguf", TensorType::kQ5_K, 4);
}

TEST(QuantQuantizeReference, Q6_KMatchesLlamaQuantize) {
  TANDEM_REQUIRE_SHARED();
  compare_with_file("qwen3moe-tiny-Q4_K_M.gguf", TensorType::kQ6_K, 3);
}

}  // namespace
}  // namespace tandem
