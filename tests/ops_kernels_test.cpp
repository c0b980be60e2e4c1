// Forward-pass kernels against formulas evaluated independently in double.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "hwy/targets.h"
#include "model/kv_cache.h"
#include "ops/attention.h"
#include "ops/kernels.h"
#include "ops/matmul.h"
#include "ops/quant/dequantize.h"
#include "ops/quant/quantize.h"
#include "ops/router.h"
#include "platform/cache_aligned_allocator.h"
#include "platform/error.h"
#include "platform/half.h"

namespace tandem {
namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> out(n);
  for (float& v : out) v = dist(rng);
  return out;
}

TEST(OpsKernels, RmsNormMatchesFormula) {
  for (const size_t n : {size_t{256}, size_t{13}, size_t{2051}}) {  // whole lanes and a tail
    const auto x = random_vector(n, 1);
    const auto w = random_vector(n, 2);
    std::vector<float> out(n);
    rms_norm(x, w, 1e-6f, out);
    double sum = 0;
    for (float v : x) sum += double(v) * v;
    const double scale = 1.0 / std::sqrt(sum / double(n) + 1e-6);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(out[i], x[i] * scale * w[i], 1e-5) << n << " " << i;
  }
}

TEST(OpsKernels, RopeNeoxRotatesPairsHalfAHeadApart) {
  const size_t dim = 128;
  for (size_t rope_dims : {size_t{128}, size_t{32}}) {
    auto head = random_vector(dim, 3);
    const auto original = head;
    const int position = 37;
    const double theta_base = 1e6;
    rope_neox(head, position, rope_dims, static_cast<float>(theta_base));
    const size_t half = rope_dims / 2;
    for (size_t i = 0; i < half; ++i) {
      const double angle = position * std::pow(theta_base, -2.0 * double(i) / double(rope_dims));
      const double x0 = original[i], x1 = original[i + half];
      EXPECT_NEAR(head[i], x0 * std::cos(angle) - x1 * std::sin(angle), 2e-4) << i;
      EXPECT_NEAR(head[i + half], x0 * std::sin(angle) + x1 * std::cos(angle), 2e-4) << i;
    }
    for (size_t i = rope_dims; i < dim; ++i) EXPECT_EQ(head[i], original[i]);
  }
}

TEST(OpsKernels, RopeAtPositionZeroIsIdentity) {
  auto head = random_vector(64, 4);
  const auto original = head;
  rope_neox(head, 0, 64, 10000.0f);
  EXPECT_EQ(head, original);
}

TEST(OpsKernels, SoftmaxSwigluArgmax) {
  std::vector<float> x = {1.0f, 2.0f, 3.0f, 3.0f};
  softmax(x);
  const double denominator = std::exp(-2.0) + std::exp(-1.0) + 2.0;
  EXPECT_NEAR(x[0], std::exp(-2.0) / denominator, 1e-7);
  EXPECT_NEAR(x[3], 1.0 / denominator, 1e-7);
  EXPECT_EQ(argmax(x), 2u);  // lowest index on ties

  const std::vector<float> gate = {-2.0f, 0.0f, 1.5f};
  const std::vector<float> up = {3.0f, 5.0f, -1.0f};
  std::vector<float> out(3);
  swiglu(gate, up, out);
  for (size_t i = 0; i < 3; ++i) {
    const double g = gate[i];
    EXPECT_NEAR(out[i], g / (1 + std::exp(-g)) * up[i], 1e-6);
  }
}

// A [rows][cols] weight matrix stored as `type`, with its owned bytes.
struct StoredMatrix {
  std::vector<uint8_t> bytes;
  WeightMatrix view;
};

StoredMatrix store(TensorType type, size_t rows, size_t cols, uint32_t seed) {
  StoredMatrix m;
  const size_t stride = row_bytes(type, cols);
  m.bytes.resize(rows * stride);
  for (size_t r = 0; r < rows; ++r) {
    quantize_row(type, random_vector(cols, seed + uint32_t(r), 0.1f), m.bytes.data() + r * stride);
  }
  m.view = {type, rows, cols, stride, m.bytes};
  return m;
}

FloatMatrix random_rows(size_t rows, size_t cols, uint32_t seed) {
  FloatMatrix x(rows, cols);
  const auto values = random_vector(rows * cols, seed);
  std::copy(values.begin(), values.end(), x.data().begin());
  return x;
}

// Matmul tiles write strips of 16 columns from different threads: the data must start on
// a cache line whatever the size, and keep it through reset.
TEST(OpsFloatMatrix, DataStartsOnACacheLine) {
  for (size_t cols : {size_t{1}, size_t{3}, size_t{768}}) {
    FloatMatrix m(5, cols);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data().data()) % kCacheLine, 0u) << cols;
    m.reset(7, cols + 1);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data().data()) % kCacheLine, 0u) << cols;
    EXPECT_EQ(m.row(6).size(), cols + 1);
    EXPECT_EQ(m.row(6)[cols], 0.0f);
  }
}

TEST(OpsMatmul, ReferenceIsTheDequantizedProduct) {
  ThreadPool pool(2);
  for (TensorType type : {TensorType::kF32, TensorType::kF16, TensorType::kQ8_0, TensorType::kQ4_K,
                          TensorType::kQ6_K}) {
    const StoredMatrix w = store(type, 40, 512, 10);
    const FloatMatrix x = random_rows(3, 512, 20);
    FloatMatrix y;
    matmul_reference(w.view, x, y, pool);
    ASSERT_EQ(y.rows(), 3u);
    ASSERT_EQ(y.cols(), 40u);
    std::vector<float> row(512);
    for (size_t r = 0; r < 40; ++r) {
      dequantize_row(type, w.view.row_data(r), row);
      for (size_t t = 0; t < 3; ++t) {
        double expected = 0, magnitude = 0;
        for (size_t c = 0; c < 512; ++c) {
          expected += double(row[c]) * x.row(t)[c];
          magnitude += std::abs(double(row[c]) * x.row(t)[c]);
        }
        // F32 partial sums: error below n * eps * sum |terms|.
        EXPECT_NEAR(y.row(t)[r], expected, 512 * 1.2e-7 * magnitude + 1e-6)
            << type_name(type) << " " << r << " " << t;
      }
    }
  }
}

TEST(OpsMatmul, FastRoundsActivationsToTheWeightsPartner) {
  ThreadPool pool(2);
  for (TensorType type :
       {TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K}) {
    const StoredMatrix w = store(type, 24, 256, 30);
    const FloatMatrix x = random_rows(2, 256, 40);
    FloatMatrix fast;
    FloatMatrix exact;
    matmul_fast(w.view, x, fast, pool);
    matmul_reference(w.view, x, exact, pool);
    const TensorType activation = fast_activation_type(type);
    std::vector<uint8_t> quantized(row_bytes(activation, 256));
    std::vector<float> rounded(256);
    std::vector<float> row(256);
    for (size_t t = 0; t < 2; ++t) {
      // The same product computed from the rounded activations in double.
      quantize_row(activation, x.row(t), quantized.data());
      dequantize_row(activation, quantized.data(), rounded);
      for (size_t r = 0; r < 24; ++r) {
        dequantize_row(type, w.view.row_data(r), row);
        double expected = 0, magnitude = 0;
        for (size_t c = 0; c < 256; ++c) {
          expected += double(row[c]) * rounded[c];
          magnitude += std::abs(double(row[c]) * x.row(t)[c]);
        }
        EXPECT_NEAR(fast.row(t)[r], expected, 1e-5 * magnitude + 1e-6) << type_name(type);
        // And within the 8-bit rounding of the exact product: |x| / 127 per element.
        EXPECT_NEAR(fast.row(t)[r], exact.row(t)[r], magnitude / 100) << type_name(type);
      }
    }
  }
}

TEST(OpsAttention, MatchesNaiveGroupedQueryAttention) {
  const AttentionShape shape{4, 2, 8, 1.0f / std::sqrt(8.0f)};
  const size_t keys_count = 5;
  const auto q = random_vector(size_t{4} * 8, 50);
  const auto k = random_vector(keys_count * 2 * 8, 51);
  const auto v = random_vector(keys_count * 2 * 8, 52);
  std::vector<float> scores(keys_count);
  std::vector<float> out(size_t{4} * 8);
  attend(shape, q, k, v, keys_count, scores, out);
  for (size_t h = 0; h < 4; ++h) {
    const size_t g = h / 2;  // two query heads per kv head
    std::vector<double> s(keys_count);
    double max_s = -1e30, total = 0;
    for (size_t j = 0; j < keys_count; ++j) {
      double dot = 0;
      for (size_t i = 0; i < 8; ++i) dot += double(q[h * 8 + i]) * k[j * 16 + g * 8 + i];
      s[j] = dot / std::sqrt(8.0);
      max_s = std::max(max_s, s[j]);
    }
    for (double& value : s) total += (value = std::exp(value - max_s));
    for (size_t i = 0; i < 8; ++i) {
      double expected = 0;
      for (size_t j = 0; j < keys_count; ++j) expected += s[j] / total * v[j * 16 + g * 8 + i];
      EXPECT_NEAR(out[h * 8 + i], expected, 1e-5) << h << " " << i;
    }
  }
}

// The grouped fast kernel against the sequential reference, head by head, on every SIMD
// target: group sizes with and without a remainder of the 8- and 4-head blocks (8, 3,
// 12 = 8 + 4, 10 = 8 + 1 + 1), odd and even key counts, a head size that is not a whole
// number of vectors (the per-head fallback).
TEST(OpsAttention, GroupedFastKernelMatchesReference) {
  struct Case {
    size_t heads, kv_heads, dim;
  };
  const Case cases[] = {Case{32, 4, 128}, Case{6, 2, 64}, Case{12, 1, 32},
                        Case{10, 1, 16},  Case{5, 5, 16}, Case{4, 1, 12}};
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    for (const Case c : cases) {
      const AttentionShape shape{c.heads, c.kv_heads, c.dim, 1.0f / std::sqrt(float(c.dim))};
      for (const size_t keys_count : {size_t{1}, size_t{2}, size_t{7}, size_t{300}}) {
        const size_t width = c.kv_heads * c.dim;
        const auto q = random_vector(c.heads * c.dim, 60);
        const auto k = random_vector(keys_count * width, 61);
        const auto v = random_vector(keys_count * width, 62);
        std::vector<float> expected(c.heads * c.dim), scores(keys_count * c.heads);
        attend(shape, q, k, v, keys_count, scores, expected);
        std::vector<float> out(c.heads * c.dim, -7.0f);
        for (size_t g = 0; g < c.kv_heads; ++g) {
          attend_kv_group_fast(shape, g, q, k, v, keys_count, scores, out);
        }
        for (size_t i = 0; i < out.size(); ++i) {
          ASSERT_NEAR(out[i], expected[i], 2e-5 + 2e-5 * std::abs(expected[i]))
              << c.heads << "/" << c.kv_heads << "x" << c.dim << " keys " << keys_count << " at "
              << i;
        }
      }
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// One group writes only its own heads.
TEST(OpsAttention, GroupedFastKernelWritesOnlyItsHeads) {
  constexpr size_t kHeads = 8, kKvHeads = 2, kDim = 16, kKeys = 3;
  constexpr size_t kGroup = kHeads / kKvHeads;
  const AttentionShape shape{kHeads, kKvHeads, kDim, 0.25f};
  const auto q = random_vector(kHeads * kDim, 63);
  const auto k = random_vector(kKeys * kKvHeads * kDim, 64);
  const auto v = random_vector(kKeys * kKvHeads * kDim, 65);
  std::vector<float> scores(kKeys * kGroup), out(kHeads * kDim, -7.0f);
  attend_kv_group_fast(shape, 1, q, k, v, kKeys, scores, out);
  for (size_t i = 0; i < kGroup * kDim; ++i) EXPECT_EQ(out[i], -7.0f) << i;
  for (size_t i = kGroup * kDim; i < kHeads * kDim; ++i) EXPECT_NE(out[i], -7.0f) << i;
}

std::vector<uint16_t> to_f16(const std::vector<float>& x) {
  std::vector<uint16_t> bits(x.size());
  for (size_t i = 0; i < x.size(); ++i) bits[i] = f32_to_f16(x[i]);
  return bits;
}
std::vector<float> widen(const std::vector<uint16_t>& bits) {
  std::vector<float> x(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) x[i] = f16_to_f32(bits[i]);
  return x;
}

// F16 keys and values give exactly what the F32 kernels give on the same rows widened:
// grouped kernels (whole vectors and the per-head fallback of dim 12) and the sequential
// reference of attend_unit.
TEST(OpsAttention, HalfRowsEqualTheWidenedRows) {
  struct Case {
    size_t heads, kv_heads, dim;
  };
  for (const Case c : {Case{32, 4, 128}, Case{6, 2, 64}, Case{4, 1, 12}}) {
    const AttentionShape shape{c.heads, c.kv_heads, c.dim, 1.0f / std::sqrt(float(c.dim))};
    for (const size_t keys_count : {size_t{1}, size_t{7}, size_t{300}}) {
      const size_t width = c.kv_heads * c.dim;
      const auto q = random_vector(c.heads * c.dim, 70);
      const auto k16 = to_f16(random_vector(keys_count * width, 71, 3.0f));
      const auto v16 = to_f16(random_vector(keys_count * width, 72, 3.0f));
      const auto k = widen(k16), v = widen(v16);
      for (const bool grouped : {true, false}) {
        const size_t units = grouped ? c.kv_heads : c.heads;
        std::vector<float> expected(c.heads * c.dim, -7.0f), out(c.heads * c.dim, -7.0f);
        std::vector<float> scores, widened;
        for (size_t u = 0; u < units; ++u) {
          attend_unit(shape, grouped, u, q, KvRows{k, {}}, KvRows{v, {}}, keys_count, scores,
                      widened, expected);
          attend_unit(shape, grouped, u, q, KvRows{{}, k16}, KvRows{{}, v16}, keys_count, scores,
                      widened, out);
        }
        for (size_t i = 0; i < out.size(); ++i) {
          ASSERT_EQ(out[i], expected[i]) << c.heads << "/" << c.kv_heads << "x" << c.dim << " keys "
                                         << keys_count << " grouped " << grouped << " at " << i;
        }
      }
    }
  }
}

TEST(OpsRouter, TopKOfSoftmaxRenormalized) {
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.5f, 2.0f};
  std::vector<int32_t> experts(2);
  std::vector<float> weights(2);
  route_top_k(logits, {2, true}, experts, weights);
  EXPECT_EQ(experts[0], 1);  // tie with 4: the lower id first
  EXPECT_EQ(experts[1], 4);
  EXPECT_NEAR(weights[0], 0.5, 1e-6);
  EXPECT_NEAR(weights[1], 0.5, 1e-6);

  route_top_k(logits, {2, false}, experts, weights);
  double total = 0;
  for (float l : logits) total += std::exp(double(l));
  EXPECT_NEAR(weights[0], std::exp(2.0) / total, 1e-6);

  std::vector<int32_t> three(3);
  std::vector<float> three_weights(3);
  route_top_k(logits, {3, true}, three, three_weights);
  EXPECT_EQ(three[2], 3);
  const double sum = std::exp(2.0) * 2 + std::exp(1.5);
  EXPECT_NEAR(three_weights[2], std::exp(1.5) / sum, 1e-6);
}

TEST(KvCacheTest, AppendsOverwritesAndRejectsGaps) {
  KvCache cache(2, 4, 8);
  const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7, 8};
  cache.write(1, 3, 0, a, b);
  cache.write(1, 3, 1, b, a);
  EXPECT_EQ(cache.length(1, 3), 2u);
  EXPECT_EQ(cache.length(0, 3), 0u);
  EXPECT_EQ(cache.keys(1, 3).f32[4], 5.0f);
  EXPECT_THROW(cache.write(1, 3, 3, a, b), Error);  // gap
  cache.write(1, 3, 1, a, a);                       // rewind to 1
  EXPECT_EQ(cache.length(1, 3), 2u);
  EXPECT_EQ(cache.values(1, 3).f32[4], 1.0f);
  cache.truncate(3, 1);
  EXPECT_EQ(cache.length(1, 3), 1u);
  cache.remove(3);
  EXPECT_EQ(cache.length(1, 3), 0u);
  KvCache small(1, 4, 1);
  small.write(0, 0, 0, a, b);
  EXPECT_THROW(small.write(0, 0, 1, a, b), Error);  // past max_positions
}

// An F16 cache keeps each element rounded to the nearest half, with the same positions
// rules as F32.
TEST(KvCacheTest, HalfCacheStoresRoundedElements) {
  KvCache cache(2, 4, 8, 0, KvType::kF16);
  EXPECT_EQ(cache.type(), KvType::kF16);
  const std::vector<float> a = {1.0f / 3, -2.5f, 1e-6f, 70000.0f};
  const std::vector<float> b = {0.1f, 65504.0f, -0.0f, 3.14159f};
  cache.write(0, 5, 0, a, b);
  cache.write(0, 5, 1, b, a);
  ASSERT_EQ(cache.length(0, 5), 2u);
  const KvRows keys = cache.keys(0, 5);
  const KvRows values = cache.values(0, 5);
  ASSERT_TRUE(keys.f32.empty() && values.f32.empty());
  ASSERT_EQ(keys.f16.size(), 8u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(keys.f16[i], f32_to_f16(a[i])) << i;
    EXPECT_EQ(keys.f16[4 + i], f32_to_f16(b[i])) << i;
    EXPECT_EQ(values.f16[i], f32_to_f16(b[i])) << i;
  }
  EXPECT_EQ(f16_to_f32(keys.f16[3]), INFINITY);  // beyond the half range
  EXPECT_THROW(cache.write(0, 5, 3, a, b), Error);
  cache.write(0, 5, 1, a, a);  // rewind to 1
  EXPECT_EQ(cache.values(0, 5).f16[4], f32_to_f16(a[0]));
  cache.truncate(5, 1);
  EXPECT_EQ(cache.length(0, 5), 1u);
  EXPECT_EQ(cache.keys(0, 5).f16.size(), 4u);
  EXPECT_EQ(parse_kv_type("f16"), KvType::kF16);
  EXPECT_EQ(parse_kv_type("f32"), KvType::kF32);
  EXPECT_THROW(parse_kv_type("q8_0"), Error);
  EXPECT_EQ(kv_type_name(KvType::kF16), "f16");
}

}  // namespace
}  // namespace tandem
