// Highway kernels against their scalar references, on every SIMD target compiled in
// and supported by this CPU.

// The target loops below include AVX3_DL, as ops/quant/simd/vec_dot_simd.cpp compiles it.
#define HWY_WANT_AVX3_DL

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "ops/quant/blocks.h"
#include "ops/quant/dequantize.h"
#include "ops/quant/quantize.h"
#include "ops/quant/simd/quant_simd.h"
#include "ops/quant/vec_dot.h"
#include "platform/half.h"

namespace tandem {
namespace {

// Runs `body` once per target, with dispatch forced to that target.
template <typename Body>
void for_each_target(const Body& body) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  for (int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    body();
  }
  hwy::SetSupportedTargetsForTest(0);  // back to what the CPU supports
}

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  return x;
}

// Rows whose scaled values hit exact rounding ties: block maximum 127 gives Q8_0 scale
// 1 and Q8_K scale -1 (the maximum is negative), so x.5 values are ties.
std::vector<float> tie_row(size_t n) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<int>(i % 64) - 32) + 0.5f;
  for (size_t i = 0; i < n; i += 32) x[i] = -127.0f;
  return x;
}

std::vector<uint8_t> scalar_quantize(TensorType type, const std::vector<float>& x) {
  std::vector<uint8_t> bytes(row_bytes(type, x.size()));
  quantize_row(type, x, bytes.data());
  return bytes;
}

std::vector<uint8_t> simd_quantize(TensorType type, const std::vector<float>& x) {
  std::vector<uint8_t> bytes(row_bytes(type, x.size()));
  simd_quantize_row(type, x, bytes.data());
  return bytes;
}

TEST(QuantSimd, QuantizeMatchesScalarBytes) {
  EXPECT_TRUE(has_simd_quantize(TensorType::kQ8_0));
  EXPECT_TRUE(has_simd_quantize(TensorType::kQ8_K));
  EXPECT_FALSE(has_simd_quantize(TensorType::kQ4_K));
  std::vector<std::vector<float>> rows = {gaussian(4096, 1), tie_row(1024),
                                          std::vector<float>(512, 0.0f)};
  std::vector<float> spiky = gaussian(1024, 2);
  spiky[5] = 1e6f;
  spiky[700] = -1e6f;
  rows.push_back(spiky);
  for_each_target([&] {
    for (const auto& x : rows) {
      for (TensorType type : {TensorType::kQ8_0, TensorType::kQ8_K}) {
        EXPECT_EQ(simd_quantize(type, x), scalar_quantize(type, x)) << type_name(type);
      }
    }
  });
}

// Weight rows: quantized Gaussian data, and random bytes with sane F16 scales, which
// exercise every bit pattern of the packed scales and high bits.
std::vector<std::vector<uint8_t>> weight_rows(TensorType type, size_t n, uint32_t seed = 3) {
  std::vector<std::vector<uint8_t>> rows = {scalar_quantize(type, gaussian(n, seed))};
  std::mt19937 rng(seed + 1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> random(row_bytes(type, n));
  for (auto& b : random) b = static_cast<uint8_t>(byte(rng));
  const size_t block_bytes = traits(type).block_bytes;
  const uint16_t scale = f32_to_f16(0.01f);
  for (size_t b = 0; b < random.size() / block_bytes; ++b) {
    uint8_t* block = &random[b * block_bytes];
    if (type == TensorType::kQ6_K) {
      std::memcpy(block + block_bytes - 2, &scale, 2);  // d is last
    } else {
      std::memcpy(block, &scale, 2);
      if (type == TensorType::kQ4_K || type == TensorType::kQ5_K) std::memcpy(block + 2, &scale, 2);
    }
  }
  rows.push_back(random);
  return rows;
}

// The K-quant kernels scale each super-block's integer sum once instead of in 8 lanes:
// each super-block's terms (scale part and offset part) carry a few float roundings and
// the running sum one per block, so the difference is bounded by
// (blocks + 8) * 2^-24 * sum of the magnitudes of all terms.
double k_term_magnitude(TensorType type, const std::vector<uint8_t>& w_bytes,
                        const std::vector<uint8_t>& a_bytes, size_t n) {
  std::vector<float> w(n), a(n);
  dequantize_row(type, w_bytes.data(), w);
  dequantize_row(activation_type_for(type), a_bytes.data(), a);
  double magnitude = 0;
  for (size_t i = 0; i < n; ++i) {
    double offset = 0;
    if (type == TensorType::kQ4_K || type == TensorType::kQ5_K) {
      const size_t block_bytes = traits(type).block_bytes;
      const uint8_t* block = &w_bytes[(i / 256) * block_bytes];
      uint16_t dmin;
      std::memcpy(&dmin, block + 2, 2);
      offset = f16_to_f32(dmin) * quant::unpack_k4_scale_min((i % 256) / 32, block + 4).min;
    }
    magnitude += (std::fabs(w[i]) + 2 * std::fabs(offset)) * std::fabs(a[i]);
  }
  return magnitude;
}

// 4096 + 96: rows of 131 blocks, not a multiple of the 8 lanes or 4 rows of a tile.
TEST(QuantSimd, Q8_0DotMatchesScalarExactly) {
  for (size_t n : {size_t{4096}, size_t{4096 + 96}}) {
    const auto activations = scalar_quantize(TensorType::kQ8_0, gaussian(n, 5));
    for_each_target([&] {
      for (const auto& w : weight_rows(TensorType::kQ8_0, n)) {
        EXPECT_EQ(simd_vec_dot(TensorType::kQ8_0, w.data(), activations.data(), n),
                  vec_dot(TensorType::kQ8_0, w.data(), activations.data(), n))
            << n;
      }
    });
  }
}

TEST(QuantSimd, KQuantAndQ8_0DotsMatchScalar) {
  const size_t n = 4096;
  for_each_target([&] {
    for (TensorType type :
         {TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kQ8_0}) {
      ASSERT_TRUE(has_simd_vec_dot(type));
      const auto activations = scalar_quantize(activation_type_for(type), gaussian(n, 6));
      for (const auto& w : weight_rows(type, n)) {
        const float scalar = vec_dot(type, w.data(), activations.data(), n);
        const float simd = simd_vec_dot(type, w.data(), activations.data(), n);
        const double blocks = static_cast<double>(n / traits(type).block_elements);
        const double tolerance =
            (blocks + 8) * std::ldexp(1.0, -24) * k_term_magnitude(type, w, activations, n);
        EXPECT_NEAR(simd, scalar, tolerance) << type_name(type);
        EXPECT_GT(std::fabs(scalar), 10 * tolerance) << "rows too small to be telling";
      }
    }
  });
}

// One weight row with several activation rows gives each row's single dot product
// (groups of rows share the weight unpacking, not the arithmetic of a row).
TEST(QuantSimd, SeveralTokensMatchOneTokenDots) {
  const size_t n = 4096;   // Q8_0: two chunks of 64 blocks
  const size_t count = 7;  // one group of 4 and a remainder of 3
  for_each_target([&] {
    for (TensorType type :
         {TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K}) {
      const TensorType activation_type = activation_type_for(type);
      const size_t stride = row_bytes(activation_type, n);
      std::vector<uint8_t> activations(count * stride);
      for (size_t i = 0; i < count; ++i) {
        const auto row =
            scalar_quantize(activation_type, gaussian(n, 20 + static_cast<uint32_t>(i)));
        std::copy(row.begin(), row.end(), activations.begin() + static_cast<long>(i * stride));
      }
      for (const auto& w : weight_rows(type, n)) {
        std::vector<float> several(count);
        simd_vec_dot_tokens(type, w.data(), activations.data(), stride, count, n, several.data());
        for (size_t i = 0; i < count; ++i) {
          EXPECT_EQ(several[i], simd_vec_dot(type, w.data(), activations.data() + i * stride, n))
              << type_name(type) << " row " << i;
        }
      }
    }
  });
}

// A tile of weight rows x tokens gives each pair's single dot product exactly (register
// blocks and panels share weight unpacking and activation loads, not the arithmetic of a
// pair), and so agrees with the scalar reference as KQuantAndQ8_0DotsMatchScalar bounds.
// 19 rows: a chunk of 16 and 3 more, blocks of 2 or 4 (Q8_0) or 8 (Q4_K, Q6_K with one
// token) and the rows left; K-quant panels of 8 rows, the last of 3. Tokens: 1; 2 (Q4_K one
// row at a time); 7 (4 and 3, or Q4_K panels in token groups of 4 and 3); 10 (8 and 2, or
// 4, 4 and 2); 13 (panels in groups of 4, 4, 4 and 1); 26 (groups of 4 and 2). Rows of 4864
// (19 super-blocks) copy panels in chunks of 8, 8 and 3 super-blocks.
TEST(QuantSimd, TileMatchesOneTokenDots) {
  const size_t rows = 19;
  for (const auto& [n, tokens] : std::vector<std::pair<size_t, size_t>>{
           {2048, 1}, {2048, 7}, {2048, 10}, {2048, 13}, {4864, 26}, {4864, 2}}) {
    for (TensorType type :
         {TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kQ8_0}) {
      ASSERT_TRUE(has_simd_vec_dot_tile(type));
      const TensorType activation_type = activation_type_for(type);
      const size_t w_stride = row_bytes(type, n) + 16;  // rows need not be contiguous
      std::vector<uint8_t> weights(rows * w_stride);
      for (size_t r = 0; r < rows; ++r) {
        // Quantized Gaussian rows and random-byte rows, each different.
        const auto row = weight_rows(type, n, 50 + static_cast<uint32_t>(r))[r % 2];
        std::copy(row.begin(), row.end(), weights.begin() + static_cast<long>(r * w_stride));
      }
      const size_t a_stride = row_bytes(activation_type, n);
      std::vector<uint8_t> activations(tokens * a_stride);
      for (size_t t = 0; t < tokens; ++t) {
        const auto row =
            scalar_quantize(activation_type, gaussian(n, 80 + static_cast<uint32_t>(t)));
        std::copy(row.begin(), row.end(), activations.begin() + static_cast<long>(t * a_stride));
      }
      for_each_target([&] {
        const size_t out_stride = rows + 5;
        std::vector<float> out(tokens * out_stride, -1.0f);
        simd_vec_dot_tile(type, weights.data(), w_stride, rows, activations.data(), a_stride,
                          tokens, n, out.data(), out_stride);
        for (size_t t = 0; t < tokens; ++t) {
          for (size_t r = 0; r < rows; ++r) {
            const uint8_t* w = weights.data() + r * w_stride;
            const uint8_t* a = activations.data() + t * a_stride;
            EXPECT_EQ(out[t * out_stride + r], simd_vec_dot(type, w, a, n))
                << type_name(type) << " n " << n << " row " << r << " token " << t;
          }
          for (size_t r = rows; r < out_stride; ++r) EXPECT_EQ(out[t * out_stride + r], -1.0f);
        }
        // The scalar reference, within KQuantAndQ8_0DotsMatchScalar's bound.
        const std::vector<uint8_t> w_row(weights.begin() + static_cast<long>(17 * w_stride),
                                         weights.begin() + static_cast<long>(18 * w_stride));
        const std::vector<uint8_t> a_row(
            activations.begin() + static_cast<long>((tokens - 1) * a_stride), activations.end());
        const double blocks = static_cast<double>(n / traits(type).block_elements);
        const double tolerance =
            (blocks + 8) * std::ldexp(1.0, -24) * k_term_magnitude(type, w_row, a_row, n);
        EXPECT_NEAR(out[(tokens - 1) * out_stride + 17],
                    vec_dot(type, w_row.data(), a_row.data(), n), tolerance)
            << type_name(type);
      });
    }
  }
}

// F16 / F32 weights with F32 activations against the exact sum in double: F32 lane sums
// carry at most n roundings of 2^-24 relative to the running magnitude.
TEST(QuantSimd, FloatDotsMatchDoubleSum) {
  for (size_t n : {size_t{4096}, size_t{250}}) {  // 250: a tail shorter than a vector
    const std::vector<float> weights = gaussian(n, 7);
    const std::vector<float> activations = gaussian(n, 8);
    std::vector<uint16_t> half_weights(n);
    for (size_t i = 0; i < n; ++i) half_weights[i] = f32_to_f16(weights[i]);
    for_each_target([&] {
      for (TensorType type : {TensorType::kF16, TensorType::kF32}) {
        ASSERT_TRUE(has_simd_float_dot(type));
        const void* row = type == TensorType::kF16 ? static_cast<const void*>(half_weights.data())
                                                   : static_cast<const void*>(weights.data());
        double exact = 0;
        double magnitude = 0;
        for (size_t i = 0; i < n; ++i) {
          const double w = type == TensorType::kF16 ? f16_to_f32(half_weights[i]) : weights[i];
          exact += w * activations[i];
          magnitude += std::fabs(w * activations[i]);
        }
        const float simd = simd_float_dot(type, row, activations.data(), n);
        const double tolerance = static_cast<double>(n) * std::ldexp(1.0, -24) * magnitude;
        EXPECT_NEAR(simd, exact, tolerance) << type_name(type) << " n=" << n;
        EXPECT_GT(std::fabs(exact), 10 * tolerance) << "sum too small to be telling";
      }
    });
  }
}

}  // namespace
}  // namespace tandem
