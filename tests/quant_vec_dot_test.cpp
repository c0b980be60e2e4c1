// Scalar dot products: hand-worked blocks, and every weight type against
// dequantize-both-then-dot in double precision with a tolerance derived from the row
// length and the magnitudes of the terms.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ops/quant/blocks.h"
#include "ops/quant/dequantize.h"
#include "ops/quant/quantize.h"
#include "ops/quant/vec_dot.h"
#include "platform/half.h"

namespace tandem {
namespace {

TEST(QuantVecDot, ActivationTypes) {
  EXPECT_EQ(activation_type_for(TensorType::kF32), TensorType::kF32);
  EXPECT_EQ(activation_type_for(TensorType::kF16), TensorType::kF16);
  EXPECT_EQ(activation_type_for(TensorType::kBF16), TensorType::kBF16);
  EXPECT_EQ(activation_type_for(TensorType::kQ4_0), TensorType::kQ8_0);
  EXPECT_EQ(activation_type_for(TensorType::kQ5_0), TensorType::kQ8_0);
  EXPECT_EQ(activation_type_for(TensorType::kQ8_0), TensorType::kQ8_0);
  EXPECT_EQ(activation_type_for(TensorType::kQ4_1), TensorType::kQ8_1);
  EXPECT_EQ(activation_type_for(TensorType::kQ5_1), TensorType::kQ8_1);
  EXPECT_EQ(activation_type_for(TensorType::kQ4_K), TensorType::kQ8_K);
  EXPECT_EQ(activation_type_for(TensorType::kQ5_K), TensorType::kQ8_K);
  EXPECT_EQ(activation_type_for(TensorType::kQ6_K), TensorType::kQ8_K);
  EXPECT_FALSE(has_vec_dot(TensorType::kQ2_K));
}

// Q8_0 x Q8_0, two blocks worked by hand: block 0 has d_w = 0.5, d_a = 2, w_j = j - 16,
// a_j = 1, so the sum is (sum_j (j - 16)) * 0.5 * 2 = -16; block 1 has d_w = 1,
// d_a = 0.25, w_j = 2, a_j = (j % 2 ? 3 : -1): 16 * (2 * 3 - 2 * 1) * 0.25 = 16.
TEST(QuantVecDot, Q8_0ByHand) {
  quant::BlockQ8_0 w[2]{}, a[2]{};
  w[0].d = 0x3800;  // 0.5
  a[0].d = 0x4000;  // 2
  w[1].d = 0x3C00;  // 1
  a[1].d = 0x3400;  // 0.25
  for (int j = 0; j < 32; ++j) {
    w[0].qs[j] = static_cast<int8_t>(j - 16);
    a[0].qs[j] = 1;
    w[1].qs[j] = 2;
    a[1].qs[j] = static_cast<int8_t>(j % 2 ? 3 : -1);
  }
  EXPECT_EQ(vec_dot(TensorType::kQ8_0, w, a, 64), -16.0f + 16.0f);
  EXPECT_EQ(vec_dot(TensorType::kQ8_0, w, a, 32), -16.0f);
}

// Q4_1 x Q8_1 by hand: d = 0.5, m = -1, levels 4, so each weight is 1; activations
// d = 1, levels 1, block sum s = 32. The kernel forms 0.5 * 1 * 128 + (-1) * 32 = 32.
TEST(QuantVecDot, Q4_1ByHand) {
  quant::BlockQ4_1 w{};
  w.d = 0x3800;
  w.m = 0xBC00;
  std::memset(w.qs, 0x44, sizeof(w.qs));
  quant::BlockQ8_1 a{};
  a.d = 0x3C00;
  a.s = 0x5000;  // 32
  std::memset(a.qs, 1, sizeof(a.qs));
  EXPECT_EQ(vec_dot(TensorType::kQ4_1, &w, &a, 32), 32.0f);
}

// Q5_0 x Q8_0 by hand: d = 0.25, nibbles 4 with bit 4 set everywhere, so levels
// 20 - 16 = 4 and weights 1; activations d = 0.5, levels 3: 32 * 1.5 = 48.
TEST(QuantVecDot, Q5_0ByHand) {
  quant::BlockQ5_0 w{};
  w.d = 0x3400;
  std::memset(w.qh, 0xFF, sizeof(w.qh));
  std::memset(w.qs, 0x44, sizeof(w.qs));
  quant::BlockQ8_0 a{};
  a.d = 0x3800;
  std::memset(a.qs, 3, sizeof(a.qs));
  EXPECT_EQ(vec_dot(TensorType::kQ5_0, &w, &a, 32), 48.0f);
}

// Q4_K x Q8_K worked by hand: all weight levels 3, scales 2 and mins 1 for every
// sub-block (packed: bytes 0-7 hold 2 and 1 in their low 6 bits, bytes 8-11 0x12),
// d = 1, dmin = 0.5; activations d = 0.5, all levels 4. Each weight is 1 * 2 * 3 -
// 0.5 * 1 = 5.5, each activation 2: 256 * 11 = 2816.
TEST(QuantVecDot, Q4_KByHand) {
  quant::BlockQ4_K w{};
  w.d = 0x3C00;
  w.dmin = 0x3800;
  const uint8_t scales[12] = {2, 2, 2, 2, 1, 1, 1, 1, 0x12, 0x12, 0x12, 0x12};
  std::memcpy(w.scales, scales, 12);
  std::memset(w.qs, 0x33, sizeof(w.qs));
  quant::BlockQ8_K a{};
  a.d = 0.5f;
  std::memset(a.qs, 4, sizeof(a.qs));
  for (auto& s : a.bsums) s = 16 * 4;
  EXPECT_EQ(vec_dot(TensorType::kQ4_K, &w, &a, 256), 2816.0f);
}

// Q6_K x Q8_K by hand: all levels 33 (quant +1: ql nibbles 1, qh bits 2), scale j for
// sub-block j, d = 0.25; activations d = 1, levels 2. Sum: 0.25 * 2 * 16 * (0 + ... + 15)
// = 960.
TEST(QuantVecDot, Q6_KByHand) {
  quant::BlockQ6_K w{};
  std::memset(w.ql, 0x11, sizeof(w.ql));
  std::memset(w.qh, 0xAA, sizeof(w.qh));
  for (int j = 0; j < 16; ++j) w.scales[j] = static_cast<int8_t>(j);
  w.d = 0x3400;
  quant::BlockQ8_K a{};
  a.d = 1.0f;
  std::memset(a.qs, 2, sizeof(a.qs));
  EXPECT_EQ(vec_dot(TensorType::kQ6_K, &w, &a, 256), 960.0f);
}

// Weight rows: quantized Gaussian data where tandem has a quantizer, random blocks with
// plausible F16 scales otherwise.
std::vector<uint8_t> random_weights(TensorType type, size_t n, std::mt19937& rng) {
  std::vector<uint8_t> bytes(row_bytes(type, n));
  std::normal_distribution<float> normal(0.0f, 0.05f);
  if (can_quantize(type)) {
    std::vector<float> x(n);
    for (float& v : x) v = normal(rng);
    quantize_row(type, x, bytes.data());
    return bytes;
  }
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.001f, 0.01f);
  for (auto& b : bytes) b = static_cast<uint8_t>(byte(rng));
  const size_t block_bytes = traits(type).block_bytes;
  for (size_t b = 0; b < bytes.size() / block_bytes; ++b) {
    // d (and m for Q4_1 / Q5_1) lead each legacy block.
    const uint16_t d = f32_to_f16(scale(rng));
    const uint16_t m = f32_to_f16(-8 * scale(rng));
    std::memcpy(&bytes[b * block_bytes], &d, 2);
    if (type == TensorType::kQ4_1 || type == TensorType::kQ5_1) {
      std::memcpy(&bytes[b * block_bytes + 2], &m, 2);
    }
  }
  return bytes;
}

std::vector<float> dequantized(TensorType type, const std::vector<uint8_t>& bytes, size_t n) {
  std::vector<float> out(n);
  dequantize_row(type, bytes.data(), out);
  return out;
}

// Magnitude of the terms the kernel adds in float: sum |w_i a_i|, plus for formats with
// an offset (Q4_1, Q5_1, Q4_K, Q5_K) the offset part, which the kernel adds separately:
// per block |offset| * sum |a_i|.
double term_magnitude(TensorType type, const std::vector<uint8_t>& w_bytes,
                      const std::vector<float>& w, const std::vector<float>& a) {
  double magnitude = 0;
  for (size_t i = 0; i < w.size(); ++i) magnitude += std::fabs(double(w[i]) * a[i]);
  const size_t block = traits(type).block_elements;
  const size_t block_bytes = traits(type).block_bytes;
  for (size_t b = 0; b < w.size() / block; ++b) {
    const uint8_t* bytes = &w_bytes[b * block_bytes];
    for (size_t i = b * block; i < (b + 1) * block; ++i) {
      uint16_t bits;
      if (type == TensorType::kQ4_1 || type == TensorType::kQ5_1) {
        std::memcpy(&bits, bytes + 2, 2);
        magnitude += std::fabs(f16_to_f32(bits) * a[i]);
      } else if (type == TensorType::kQ4_K || type == TensorType::kQ5_K) {
        std::memcpy(&bits, bytes + 2, 2);
        const auto sm = quant::unpack_k4_scale_min(static_cast<int>((i % 256) / 32), bytes + 4);
        magnitude += std::fabs(f16_to_f32(bits) * sm.min * a[i]);
      }
    }
  }
  return magnitude;
}

class QuantVecDotType : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantVecDotType, MatchesDequantizedDotInDouble) {
  const TensorType type = GetParam();
  const TensorType activation_type = activation_type_for(type);
  std::mt19937 rng(42 + static_cast<uint32_t>(type));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t n : {256u, 1024u, 4096u}) {
    const std::vector<uint8_t> w_bytes = random_weights(type, n, rng);
    std::vector<float> x(n);
    for (float& v : x) v = normal(rng);
    std::vector<uint8_t> a_bytes(row_bytes(activation_type, n));
    quantize_row(activation_type, x, a_bytes.data());
    const std::vector<float> w = dequantized(type, w_bytes, n);
    const std::vector<float> a = dequantized(activation_type, a_bytes, n);

    double exact = 0;
    for (size_t i = 0; i < n; ++i) exact += double(w[i]) * a[i];
    const float got = vec_dot(type, w_bytes.data(), a_bytes.data(), n);

    // Float error: each block term carries a few roundings (scale products, the
    // conversion of the integer sum) and the running float sum adds one rounding per
    // block, each at most 2^-24 relative of the terms so far: (blocks + 4) * 2^-24 *
    // magnitude bounds it.
    const double blocks = double(n) / traits(type).block_elements;
    double tolerance = (blocks + 4) * std::ldexp(1.0, -24) * term_magnitude(type, w_bytes, w, a);
    if (activation_type == TensorType::kQ8_1) {
      // The offset uses the stored block sum s = d * sum(q), computed with d before its
      // F16 rounding and rounded to F16 itself: per block |m| * (|sum q| * ulp(d) / 2 +
      // ulp(s) / 2).
      for (size_t b = 0; b < n / 32; ++b) {
        const auto y = quant::load_block<quant::BlockQ8_1>(a_bytes.data(), b);
        uint16_t m_bits;
        std::memcpy(&m_bits, &w_bytes[b * traits(type).block_bytes + 2], 2);
        int sum = 0;
        for (int q : y.qs) sum += q;
        const double d = f16_to_f32(y.d), s = f16_to_f32(y.s);
        tolerance += std::fabs(f16_to_f32(m_bits)) *
                     (std::abs(sum) * std::max(std::ldexp(d, -11), std::ldexp(1.0, -25)) +
                      std::max(std::ldexp(std::fabs(s), -11), std::ldexp(1.0, -25)));
      }
    }
    EXPECT_NEAR(got, exact, tolerance) << type_name(type) << " n " << n;
    EXPECT_GT(std::fabs(exact), 10 * tolerance) << "test rows too small to be telling";
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantVecDotType,
                         ::testing::Values(TensorType::kF32, TensorType::kF16, TensorType::kBF16,
                                           TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0,
                                           TensorType::kQ5_1, TensorType::kQ8_0, TensorType::kQ4_K,
                                           TensorType::kQ5_K, TensorType::kQ6_K),
                         [](const auto& param_info) {
                           return std::string(type_name(param_info.param));
                         });

}  // namespace
}  // namespace tandem
