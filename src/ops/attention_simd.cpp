// Attention of the query heads that share one key/value head, with Highway F32 kernels.
// Grouped-query attention gives head_count / kv_head_count query heads the same keys and
// values; computing them together loads each key and value row once per group instead of
// once per head, and keeps the work in register blocks of fused multiply-adds:
//   scores[g][j] = scale * q_g . k_j       blocks of 8 heads (AVX-512) or 4 x 2 keys
//   softmax of each row of scores          vector exp, max and sum in lanes
//   out_g = sum_j scores[g][j] * v_j       blocks of 8 or 4 heads x 2 vectors of a value row

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/attention_simd.cpp"
// foreach_target.h re-includes this file once per target; the math header must follow
// highway.h.
// clang-format off
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
// clang-format on

HWY_BEFORE_NAMESPACE();
namespace tandem::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;

// A vector of cached elements widened to F32: F32 rows as they are, F16 rows exactly.
HWY_INLINE hn::Vec<DF> LoadKv(DF df, const float* p) { return hn::LoadU(df, p); }
HWY_INLINE hn::Vec<DF> LoadKv(DF df, const hwy::float16_t* p) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, p));
}

// Query heads per register block: 8 where AVX-512 gives 32 vector registers (16 sums
// and the two key vectors stay in registers), else 4.
#if HWY_TARGET <= HWY_AVX3
constexpr size_t kHeadBlock = 8;
#else
constexpr size_t kHeadBlock = 4;
#endif

#if HWY_TARGET <= HWY_AVX3
// The sums of the 16 lanes of each of the 16 vectors v[n], as lane n of one vector: a
// butterfly of 15 adds (halves, then quarters, pairs and lanes of two vectors folded
// together) instead of 16 reductions of one vector each. The butterfly leaves the sum of
// its input a[4 (l % 4) + l / 4] in lane l, so v[n] goes in as a[4 (n % 4) + n / 4].
HWY_INLINE __m512 lane_sums16(const __m512* v) {
  __m512 a[16], b[8], c[4], d[2];
#pragma GCC unroll 16
  for (int n = 0; n < 16; ++n) a[4 * (n % 4) + n / 4] = v[n];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
    d[i] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  }
  return _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
}
#endif

// q . k for `heads` query rows (q + g * dim, g < heads <= kHeadBlock) and the key rows
// k0, k1 (k1 may equal k0): dots[g][0 or 1]. dim is a multiple of the vector length.
template <size_t kHeads, class T>
HWY_INLINE void dot_heads_keys(const float* q, size_t dim, const T* k0, const T* k1,
                               float dots[kHeadBlock][2]) {
  const DF df;
  const size_t lanes = hn::Lanes(df);
  hn::Vec<DF> acc0[kHeads], acc1[kHeads];
#pragma GCC unroll 8
  for (size_t g = 0; g < kHeads; ++g) acc0[g] = acc1[g] = hn::Zero(df);
  for (size_t i = 0; i < dim; i += lanes) {
    const auto key0 = LoadKv(df, k0 + i);
    const auto key1 = LoadKv(df, k1 + i);
#pragma GCC unroll 8
    for (size_t g = 0; g < kHeads; ++g) {
      const auto query = hn::LoadU(df, q + g * dim + i);
      acc0[g] = hn::MulAdd(query, key0, acc0[g]);
      acc1[g] = hn::MulAdd(query, key1, acc1[g]);
    }
  }
#if HWY_TARGET <= HWY_AVX3
  if constexpr (kHeads == 8) {
    // Lane 2 g + k: head g with key k.
    __m512 sums[16];
#pragma GCC unroll 8
    for (size_t g = 0; g < 8; ++g) {
      sums[2 * g] = acc0[g].raw;
      sums[2 * g + 1] = acc1[g].raw;
    }
    alignas(64) float lanes16[16];
    _mm512_store_ps(lanes16, lane_sums16(sums));
#pragma GCC unroll 8
    for (size_t g = 0; g < 8; ++g) {
      dots[g][0] = lanes16[2 * g];
      dots[g][1] = lanes16[2 * g + 1];
    }
    return;
  }
#endif
#if HWY_TARGET == HWY_AVX2
  if constexpr (kHeads == 4) {
    // The 8 sums at once: horizontal adds of pairs, then the two 128-bit halves.
    const __m256 heads01 = _mm256_hadd_ps(acc0[0].raw, acc0[1].raw);
    const __m256 heads23 = _mm256_hadd_ps(acc0[2].raw, acc0[3].raw);
    const __m256 next01 = _mm256_hadd_ps(acc1[0].raw, acc1[1].raw);
    const __m256 next23 = _mm256_hadd_ps(acc1[2].raw, acc1[3].raw);
    const __m256 first = _mm256_hadd_ps(heads01, heads23);  // [key 0: g 0-3 | same, upper]
    const __m256 second = _mm256_hadd_ps(next01, next23);
    const __m256 totals = _mm256_add_ps(_mm256_permute2f128_ps(first, second, 0x20),
                                        _mm256_permute2f128_ps(first, second, 0x31));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, totals);
#pragma GCC unroll 4
    for (size_t g = 0; g < 4; ++g) {
      dots[g][0] = lanes[g];
      dots[g][1] = lanes[4 + g];
    }
    return;
  }
#endif
#pragma GCC unroll 8
  for (size_t g = 0; g < kHeads; ++g) {
    dots[g][0] = hn::GetLane(hn::SumOfLanes(df, acc0[g]));
    dots[g][1] = hn::GetLane(hn::SumOfLanes(df, acc1[g]));
  }
}

// The `bytes` bytes at p towards the cache (locality as __builtin_prefetch's).
template <int kLocality, class T>
HWY_INLINE void prefetch_row(const T* p, size_t bytes) {
  const char* first = reinterpret_cast<const char*>(p);
  for (size_t line = 0; line < bytes; line += 64) __builtin_prefetch(first + line, 0, kLocality);
}

// Key rows are read this many rows ahead of use. One kv head's slice of a cache row
// (head_dim floats) is a few cache lines, rows kv_stride apart: a strided walk the
// hardware prefetchers follow late, so without it each row waits for memory.
constexpr size_t kKeysAhead = 8;

// scores[g * key_count + j] = scale * q_g . k_j for heads [0, kHeads). Meanwhile the value
// rows of the same keys are fetched into L2 for weigh_values, which reads each row once
// per pair of vectors.
template <size_t kHeads, class T>
HWY_INLINE void score_heads(const float* q, size_t dim, const T* keys, const T* values,
                            size_t kv_stride, size_t key_count, float scale, float* scores) {
  float dots[kHeadBlock][2];
  const size_t row_bytes = dim * sizeof(T);
  for (size_t row = 0; row < std::min(key_count, kKeysAhead); ++row) {
    prefetch_row<3>(keys + row * kv_stride, row_bytes);
  }
  for (size_t j = 0; j < key_count; j += 2) {
    for (size_t ahead = j + kKeysAhead; ahead < std::min(key_count, j + kKeysAhead + 2); ++ahead) {
      prefetch_row<3>(keys + ahead * kv_stride, row_bytes);
    }
    for (size_t row = j; row < std::min(key_count, j + 2); ++row) {
      prefetch_row<2>(values + row * kv_stride, row_bytes);
    }
    const T* k0 = keys + j * kv_stride;
    const T* k1 = j + 1 < key_count ? k0 + kv_stride : k0;
    dot_heads_keys<kHeads>(q, dim, k0, k1, dots);
#pragma GCC unroll 8
    for (size_t g = 0; g < kHeads; ++g) {
      scores[g * key_count + j] = dots[g][0] * scale;
      if (j + 1 < key_count) scores[g * key_count + j + 1] = dots[g][1] * scale;
    }
  }
}

// In place: x = exp(x - max) / sum.
HWY_INLINE void softmax_row(float* x, size_t n) {
  const DF df;
  const size_t lanes = hn::Lanes(df);
  float max_value = x[0];
  for (size_t i = 1; i < n; ++i) max_value = std::max(max_value, x[i]);
  const auto max_lanes = hn::Set(df, max_value);
  auto sum_lanes = hn::Zero(df);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto e = hn::Exp(df, hn::Sub(hn::LoadU(df, x + i), max_lanes));
    hn::StoreU(e, df, x + i);
    sum_lanes = hn::Add(sum_lanes, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, sum_lanes));
  for (; i < n; ++i) {
    const auto e = hn::Exp(df, hn::Set(df, x[i] - max_value));
    x[i] = hn::GetLane(e);
    sum += x[i];
  }
  const auto inverse = hn::Set(df, 1.0f / sum);
  i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(df, x + i), inverse), df, x + i);
  for (; i < n; ++i) x[i] *= 1.0f / sum;
}

// out_g[i, i + kVectors * lanes) = sum_j probs[g * key_count + j] * v_j[same] for heads
// [0, kHeads).
template <size_t kHeads, size_t kVectors, class T>
HWY_INLINE void weigh_values_at(const float* probs, const T* values, size_t kv_stride,
                                size_t key_count, size_t dim, size_t i, float* out) {
  const DF df;
  const size_t lanes = hn::Lanes(df);
  hn::Vec<DF> acc[kHeads][kVectors];
#pragma GCC unroll 8
  for (size_t g = 0; g < kHeads; ++g) {
#pragma GCC unroll 2
    for (size_t k = 0; k < kVectors; ++k) acc[g][k] = hn::Zero(df);
  }
  for (size_t j = 0; j < key_count; ++j) {
    hn::Vec<DF> v[kVectors];
#pragma GCC unroll 2
    for (size_t k = 0; k < kVectors; ++k) v[k] = LoadKv(df, values + j * kv_stride + i + k * lanes);
#pragma GCC unroll 8
    for (size_t g = 0; g < kHeads; ++g) {
      const auto p = hn::Set(df, probs[g * key_count + j]);
#pragma GCC unroll 2
      for (size_t k = 0; k < kVectors; ++k) acc[g][k] = hn::MulAdd(p, v[k], acc[g][k]);
    }
  }
#pragma GCC unroll 8
  for (size_t g = 0; g < kHeads; ++g) {
#pragma GCC unroll 2
    for (size_t k = 0; k < kVectors; ++k) hn::StoreU(acc[g][k], df, out + g * dim + i + k * lanes);
  }
}

// out_g = sum_j probs[g * key_count + j] * v_j for heads [0, kHeads), two vectors of the
// value rows at a time (2 kHeads accumulators), then one.
template <size_t kHeads, class T>
HWY_INLINE void weigh_values(const float* probs, const T* values, size_t kv_stride,
                             size_t key_count, size_t dim, float* out) {
  const size_t lanes = hn::Lanes(DF());
  size_t i = 0;
  for (; i + 2 * lanes <= dim; i += 2 * lanes) {
    weigh_values_at<kHeads, 2>(probs, values, kv_stride, key_count, dim, i, out);
  }
  for (; i < dim; i += lanes) {
    weigh_values_at<kHeads, 1>(probs, values, kv_stride, key_count, dim, i, out);
  }
}

template <size_t kHeads, class T>
HWY_INLINE void attend_heads(const float* q, size_t dim, const T* keys, const T* values,
                             size_t kv_stride, size_t key_count, float scale, float* scores,
                             float* out) {
  score_heads<kHeads>(q, dim, keys, values, kv_stride, key_count, scale, scores);
  for (size_t g = 0; g < kHeads; ++g) softmax_row(scores + g * key_count, key_count);
  weigh_values<kHeads>(scores, values, kv_stride, key_count, dim, out);
}

// `heads` query rows q + g * dim over key_count keys / values (rows kv_stride apart);
// scores: scratch of heads * key_count; out: heads rows of dim.
template <class T>
HWY_INLINE void attend_group(const float* q, size_t heads, size_t dim, const T* keys,
                             const T* values, size_t kv_stride, size_t key_count, float scale,
                             float* scores, float* out) {
  size_t g = 0;
  for (; g + kHeadBlock <= heads; g += kHeadBlock) {
    attend_heads<kHeadBlock>(q + g * dim, dim, keys, values, kv_stride, key_count, scale, scores,
                             out + g * dim);
  }
  for (; g + 4 <= heads; g += 4) {
    attend_heads<4>(q + g * dim, dim, keys, values, kv_stride, key_count, scale, scores,
                    out + g * dim);
  }
  for (; g < heads; ++g) {
    attend_heads<1>(q + g * dim, dim, keys, values, kv_stride, key_count, scale, scores,
                    out + g * dim);
  }
}

void AttendGroup(const float* q, size_t heads, size_t dim, const float* keys, const float* values,
                 size_t kv_stride, size_t key_count, float scale, float* scores, float* out) {
  attend_group(q, heads, dim, keys, values, kv_stride, key_count, scale, scores, out);
}
void AttendGroupF16(const float* q, size_t heads, size_t dim, const uint16_t* keys,
                    const uint16_t* values, size_t kv_stride, size_t key_count, float scale,
                    float* scores, float* out) {
  attend_group(q, heads, dim, reinterpret_cast<const hwy::float16_t*>(keys),
               reinterpret_cast<const hwy::float16_t*>(values), kv_stride, key_count, scale, scores,
               out);
}

// Whether dim suits these kernels: whole vectors.
size_t VectorLanes() { return hn::Lanes(DF()); }

}  // namespace tandem::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/attention.h"
#include "platform/error.h"
#include "platform/half.h"

namespace tandem {
HWY_EXPORT(AttendGroup);
HWY_EXPORT(AttendGroupF16);
HWY_EXPORT(VectorLanes);

namespace {
// Checks the shape and buffer sizes of a grouped call (element counts); returns the query
// heads per kv head.
size_t checked_group(const AttentionShape& shape, size_t kv_head, size_t query_size,
                     size_t keys_size, size_t values_size, size_t key_count, size_t scores_size,
                     size_t out_size) {
  const size_t dim = shape.head_dim;
  const size_t kv_width = shape.kv_head_count * dim;
  TANDEM_CHECK(shape.kv_head_count > 0 && shape.head_count % shape.kv_head_count == 0 &&
                   kv_head < shape.kv_head_count && key_count > 0,
               "attention shape");
  const size_t group = shape.head_count / shape.kv_head_count;
  TANDEM_CHECK(query_size == shape.head_count * dim && out_size == shape.head_count * dim &&
                   keys_size >= key_count * kv_width && values_size >= key_count * kv_width &&
                   scores_size >= group * key_count,
               "attention buffer sizes");
  return group;
}
}  // namespace

void attend_kv_group_fast(const AttentionShape& shape, size_t kv_head, std::span<const float> query,
                          std::span<const float> keys, std::span<const float> values,
                          size_t key_count, std::span<float> scores, std::span<float> out) {
  const size_t dim = shape.head_dim;
  const size_t kv_width = shape.kv_head_count * dim;
  const size_t group = checked_group(shape, kv_head, query.size(), keys.size(), values.size(),
                                     key_count, scores.size(), out.size());
  if (dim % HWY_DYNAMIC_DISPATCH(VectorLanes)() != 0) {
    // Head sizes that are not whole vectors (none of the supported models) go head by head.
    for (size_t h = kv_head * group; h < (kv_head + 1) * group; ++h) {
      attend_head_fast(shape, h, query, keys, values, key_count, scores, out.subspan(h * dim, dim));
    }
    return;
  }
  const size_t first = kv_head * group * dim;
  HWY_DYNAMIC_DISPATCH(AttendGroup)
  (query.data() + first, group, dim, keys.data() + kv_head * dim, values.data() + kv_head * dim,
   kv_width, key_count, shape.scale, scores.data(), out.data() + first);
}

void attend_kv_group_fast_f16(const AttentionShape& shape, size_t kv_head,
                              std::span<const float> query, std::span<const uint16_t> keys,
                              std::span<const uint16_t> values, size_t key_count,
                              std::span<float> scores, std::span<float> out) {
  const size_t dim = shape.head_dim;
  const size_t kv_width = shape.kv_head_count * dim;
  const size_t group = checked_group(shape, kv_head, query.size(), keys.size(), values.size(),
                                     key_count, scores.size(), out.size());
  if (dim % HWY_DYNAMIC_DISPATCH(VectorLanes)() != 0) {
    // Head sizes that are not whole vectors: the F32 path on the widened window.
    const size_t count = key_count * kv_width;
    std::vector<float> wide_keys(count), wide_values(count);
    f16_to_f32(keys.first(count), wide_keys);
    f16_to_f32(values.first(count), wide_values);
    attend_kv_group_fast(shape, kv_head, query, wide_keys, wide_values, key_count, scores, out);
    return;
  }
  const size_t first = kv_head * group * dim;
  HWY_DYNAMIC_DISPATCH(AttendGroupF16)
  (query.data() + first, group, dim, keys.data() + kv_head * dim, values.data() + kv_head * dim,
   kv_width, key_count, shape.scale, scores.data(), out.data() + first);
}

}  // namespace tandem
#endif  // HWY_ONCE
