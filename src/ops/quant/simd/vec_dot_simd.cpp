// Highway dot products of Q8_0 x Q8_0, Q4_K / Q5_K / Q6_K x Q8_K, and F16 / F32 weights
// with F32 activations. The integer block sums are computed with widening int16
// multiply-adds; the float scaling stays scalar. On x86 targets with AVX2 the integer
// sums use unsigned x signed byte multiply-adds instead (vpmaddubsw, 32 products per
// instruction; see vec_dot_avx2-inl.h), which give the same integers.

// Also compile Highway's AVX3_DL target (AVX-512 with VNNI), off by default in Highway:
// its products use vpdpbusd. Defined before any Highway header is read.
#define HWY_WANT_AVX3_DL

#include <algorithm>

#include <cstring>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/quant/blocks.h"
#include "ops/quant/panels.h"
#include "ops/tensor_type.h"
#include "platform/half.h"

#ifndef TANDEM_VEC_DOT_SIMD_ONCE
#define TANDEM_VEC_DOT_SIMD_ONCE
namespace tandem {
// Q8_0 x Q8_0 with the scalar kernel's float operations in its order (defined below):
// the per-target tile uses it where the AVX2 kernel is not compiled.
float dot_q8_0_in_order(const void* w, const void* a, size_t n);
}  // namespace tandem
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/quant/simd/vec_dot_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace tandem::quant::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
}  // namespace tandem::quant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#include "ops/quant/simd/vec_dot_avx2-inl.h"
// After the kernels above, whose helpers they use.
#include "ops/quant/simd/k_quant_tiles_avx2-inl.h"
// The formats of the tiles above.
#include "ops/quant/simd/q4_k_avx2-inl.h"
#include "ops/quant/simd/q6_k_avx2-inl.h"
// Q8_0 panels, on the helpers of the tiles above.
#include "ops/quant/simd/q8_0_panels_avx2-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tandem::quant::HWY_NAMESPACE {

// At most 16 int16 lanes, so every chunk divides the 16- and 32-element groups.
using D16 = hn::CappedTag<int16_t, 16>;
using D32 = hn::Repartition<int32_t, D16>;
using D8 = hn::Rebind<int8_t, D16>;
using DU8 = hn::Rebind<uint8_t, D16>;

// sum over `count` elements of w[i] * a[i] (int16 values), into acc (odd/even pairs).
template <class V16, class V32>
HWY_INLINE void multiply_add(V16 w, V16 a, V32& acc0, V32& acc1) {
  acc0 = hn::ReorderWidenMulAccumulate(D32(), w, a, acc0, acc1);
}

template <class V32>
HWY_INLINE int32_t reduce(V32 acc0, V32 acc1) {
  return hn::GetLane(hn::SumOfLanes(D32(), hn::Add(acc0, acc1)));
}

// Integer dot product of 32 int8 levels with 32 int8 levels.
HWY_INLINE int32_t dot_i8_32(const int8_t* w, const int8_t* a) {
#if TANDEM_AVX2_KERNELS
  return avx2::dot_i8_32(w, a);
#endif
  const D16 d16;
  const D8 d8;
  auto acc0 = hn::Zero(D32()), acc1 = hn::Zero(D32());
  for (size_t k = 0; k < 32; k += hn::Lanes(d16)) {
    multiply_add(hn::PromoteTo(d16, hn::LoadU(d8, w + k)), hn::PromoteTo(d16, hn::LoadU(d8, a + k)),
                 acc0, acc1);
  }
  return reduce(acc0, acc1);
}

// Integer dot products of `count` Q8_0 x Q8_0 block pairs starting at block `first`.
// The float scaling is left to baseline code (see simd_vec_dot): inside a target with
// FMA the compiler could fuse it, and it must round exactly like the scalar kernel.
void BlockSumsQ8_0(const void* w, const void* a, size_t first, size_t count, int32_t* sums) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  for (size_t b = first; b < first + count; ++b) {
    const auto* x = reinterpret_cast<const int8_t*>(wb + b * sizeof(BlockQ8_0) + 2);
    const auto* y = reinterpret_cast<const int8_t*>(ab + b * sizeof(BlockQ8_0) + 2);
    sums[b - first] = dot_i8_32(x, y);
  }
}

// Q4_K or Q5_K x Q8_K with int16 widening multiply-adds: the low nibbles of 32 bytes
// are sub-block 2g (activations 64g ..), the high nibbles sub-block 2g + 1 (Q5_K: bit 2g
// or 2g + 1 of qh[l] is their bit 4).
template <class Block>
HWY_INLINE float dot_k4_portable(const void* w, const void* a, size_t n) {
  const D16 d16;
  const D8 d8;
  const DU8 du8;
  const hn::RebindToUnsigned<D16> du16;
  const auto low_mask = hn::Set(du16, uint16_t{0xF});
  const auto one = hn::Set(du16, uint16_t{1});
  float sum = 0;
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load_block<Block>(w, b);
    const auto y = load_block<BlockQ8_K>(a, b);
    int32_t sumi = 0;
    int32_t min_sum = 0;
    for (int g = 0; g < kSuperBlock / 64; ++g) {
      const size_t group = static_cast<size_t>(g);  // for offsets
      auto low0 = hn::Zero(D32()), low1 = hn::Zero(D32());
      auto high0 = hn::Zero(D32()), high1 = hn::Zero(D32());
      for (size_t k = 0; k < 32; k += hn::Lanes(d16)) {
        const auto q = hn::PromoteTo(du16, hn::LoadU(du8, x.qs + 32 * group + k));
        auto level_low = hn::And(q, low_mask);
        auto level_high = hn::ShiftRight<4>(q);
        if constexpr (std::is_same_v<Block, BlockQ5_K>) {
          const auto h = hn::PromoteTo(du16, hn::LoadU(du8, x.qh + k));
          level_low =
              hn::Or(level_low, hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(h, 2 * g), one)));
          level_high =
              hn::Or(level_high, hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(h, 2 * g + 1), one)));
        }
        multiply_add(hn::BitCast(d16, level_low),
                     hn::PromoteTo(d16, hn::LoadU(d8, y.qs + 64 * group + k)), low0, low1);
        multiply_add(hn::BitCast(d16, level_high),
                     hn::PromoteTo(d16, hn::LoadU(d8, y.qs + 64 * group + 32 + k)), high0, high1);
      }
      const ScaleMin sm_low = unpack_k4_scale_min(2 * g, x.scales);
      const ScaleMin sm_high = unpack_k4_scale_min(2 * g + 1, x.scales);
      sumi += sm_low.scale * reduce(low0, low1) + sm_high.scale * reduce(high0, high1);
      min_sum += sm_low.min * (y.bsums[4 * group] + y.bsums[4 * group + 1]) +
                 sm_high.min * (y.bsums[4 * group + 2] + y.bsums[4 * group + 3]);
    }
    sum += f16_to_f32(x.d) * y.d * static_cast<float>(sumi);
    sum -= f16_to_f32(x.dmin) * y.d * static_cast<float>(min_sum);
  }
  return sum;
}

float DotQ4_K(const void* w, const void* a, size_t n) {
#if TANDEM_AVX2_KERNELS
  return avx2::one_token(avx2::dot_pairs<avx2::Q4K, 1, 1>, w, a, n);
#endif
  return dot_k4_portable<BlockQ4_K>(w, a, n);
}

float DotQ5_K(const void* w, const void* a, size_t n) {
#if TANDEM_AVX2_KERNELS
  return avx2::dot_q5_k(w, a, n);
#endif
  return dot_k4_portable<BlockQ5_K>(w, a, n);
}

// F32 activations with F16 or F32 weights: four vector accumulators of F32 products.
// load_weights(df, i): lanes i.. as F32; scalar_weight(i): element i.
template <class Load, class Scalar>
HWY_INLINE float dot_float(size_t n, const float* a, const Load& load_weights,
                           const Scalar& scalar_weight) {
  const hn::CappedTag<float, 16> df;
  const size_t lanes = hn::Lanes(df);
  auto acc0 = hn::Zero(df), acc1 = hn::Zero(df), acc2 = hn::Zero(df), acc3 = hn::Zero(df);
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    acc0 = hn::MulAdd(load_weights(df, i), hn::LoadU(df, a + i), acc0);
    acc1 = hn::MulAdd(load_weights(df, i + lanes), hn::LoadU(df, a + i + lanes), acc1);
    acc2 = hn::MulAdd(load_weights(df, i + 2 * lanes), hn::LoadU(df, a + i + 2 * lanes), acc2);
    acc3 = hn::MulAdd(load_weights(df, i + 3 * lanes), hn::LoadU(df, a + i + 3 * lanes), acc3);
  }
  for (; i + lanes <= n; i += lanes) {
    acc0 = hn::MulAdd(load_weights(df, i), hn::LoadU(df, a + i), acc0);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(hn::Add(acc0, acc1), hn::Add(acc2, acc3))));
  for (; i < n; ++i) sum += scalar_weight(i) * a[i];
  return sum;
}

float DotF16(const void* w, const float* a, size_t n) {
  const auto* weights = static_cast<const hwy::float16_t*>(w);
  const auto* bits = static_cast<const uint16_t*>(w);
  return dot_float(
      n, a,
      [weights](auto df, size_t i) {
        const hn::Rebind<hwy::float16_t, decltype(df)> dh;
        return hn::PromoteTo(df, hn::LoadU(dh, weights + i));
      },
      [bits](size_t i) { return f16_to_f32(bits[i]); });
}

float DotF32(const void* w, const float* a, size_t n) {
  const auto* weights = static_cast<const float*>(w);
  return dot_float(
      n, a, [weights](auto df, size_t i) { return hn::LoadU(df, weights + i); },
      [weights](size_t i) { return weights[i]; });
}

float DotQ6_K(const void* w, const void* a, size_t n) {
#if TANDEM_AVX2_KERNELS
  return avx2::one_token(avx2::dot_pairs<avx2::Q6K, 1, 1>, w, a, n);
#endif
  const D16 d16;
  const D8 d8;
  const DU8 du8;
  const hn::RebindToUnsigned<D16> du16;
  const auto low_mask = hn::Set(du16, uint16_t{0xF});
  const auto two_bits = hn::Set(du16, uint16_t{3});
  const auto bias = hn::Set(d16, int16_t{32});
  float sum = 0;
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load_block<BlockQ6_K>(w, b);
    const auto y = load_block<BlockQ8_K>(a, b);
    int32_t sumi = 0;
    for (int h = 0; h < 2; ++h) {
      for (int quarter = 0; quarter < 4; ++quarter) {
        // Elements 128h + 32 quarter + l, l < 32: scale groups 8h + 2 quarter (l < 16)
        // and 8h + 2 quarter + 1.
        const uint8_t* ql = x.ql + static_cast<size_t>(64 * h + 32 * (quarter % 2));
        const uint8_t* qh = x.qh + static_cast<size_t>(32 * h);
        const int8_t* q8 = y.qs + static_cast<size_t>(128 * h + 32 * quarter);
        for (size_t half = 0; half < 2; ++half) {
          auto acc0 = hn::Zero(D32()), acc1 = hn::Zero(D32());
          for (size_t k = 16 * half; k < 16 * half + 16; k += hn::Lanes(d16)) {
            const auto low_bytes = hn::PromoteTo(du16, hn::LoadU(du8, ql + k));
            const auto low =
                quarter < 2 ? hn::And(low_bytes, low_mask) : hn::ShiftRight<4>(low_bytes);
            const auto high_bytes = hn::PromoteTo(du16, hn::LoadU(du8, qh + k));
            const auto high = hn::And(hn::ShiftRightSame(high_bytes, 2 * quarter), two_bits);
            const auto level = hn::Sub(hn::BitCast(d16, hn::Or(low, hn::ShiftLeft<4>(high))), bias);
            multiply_add(level, hn::PromoteTo(d16, hn::LoadU(d8, q8 + k)), acc0, acc1);
          }
          sumi += x.scales[8 * h + 2 * quarter + half] * reduce(acc0, acc1);
        }
      }
    }
    sum += f16_to_f32(x.d) * y.d * static_cast<float>(sumi);
  }
  return sum;
}

// y[i] += alpha * x[i].
void AddScaledF32(float* y, float alpha, const float* x, size_t n) {
  const hn::CappedTag<float, 16> df;
  const size_t lanes = hn::Lanes(df);
  const auto a = hn::Set(df, alpha);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::MulAdd(a, hn::LoadU(df, x + i), hn::LoadU(df, y + i)), df, y + i);
  }
  for (; i < n; ++i) y[i] += alpha * x[i];
}

#if TANDEM_AVX2_KERNELS
// One weight row with kTokens activation rows.
template <size_t kTokens>
HWY_INLINE void dot_row(tandem::TensorType type, const uint8_t* const* w, const uint8_t* const* a,
                        size_t n, float* out, size_t out_stride) {
  switch (type) {
    case tandem::TensorType::kQ5_K:
      return avx2::dot_k4<BlockQ5_K, 1, kTokens>(w, a, n, out, out_stride);
    default:
      HWY_DASSERT(type == tandem::TensorType::kQ8_0);
      return avx2::dot_q8_0<1, kTokens>(w, a, n, out, out_stride);
  }
}

// One weight row with 1 to 4 activation rows, or more in parts.
HWY_INLINE void dot_row_tokens(tandem::TensorType type, const uint8_t* w, const uint8_t* const* a,
                               size_t tokens, size_t n, float* out, size_t out_stride) {
  if (tokens > 4) {
    dot_row_tokens(type, w, a, 4, n, out, out_stride);
    return dot_row_tokens(type, w, a + 4, tokens - 4, n, out + 4 * out_stride, out_stride);
  }
  switch (tokens) {
    case 1:
      return dot_row<1>(type, &w, a, n, out, out_stride);
    case 2:
      return dot_row<2>(type, &w, a, n, out, out_stride);
    case 3:
      return dot_row<3>(type, &w, a, n, out, out_stride);
    default:
      return dot_row<4>(type, &w, a, n, out, out_stride);
  }
}

// Q8_0 rows [r0, r1) with 1 to 4 activation rows, in blocks of 8 / tokens rows (2 with 3
// tokens) whose (row, token) pairs fill the kernel's 8 F32 lanes, or 4 rows with one token
// (measured: 8 rows are slower, their levels and sums exceed the 16 vector registers),
// then the rows left one at a time.
template <size_t kRows, size_t kTokens>
HWY_INLINE void dot_q8_0_row_blocks(const uint8_t* w, size_t w_stride, size_t r0, size_t r1,
                                    const uint8_t* const* a, size_t n, float* out,
                                    size_t out_stride) {
  size_t r = r0;
  for (; r + kRows <= r1; r += kRows) {
    const uint8_t* rows[kRows];
    for (size_t i = 0; i < kRows; ++i) rows[i] = w + (r + i) * w_stride;
    avx2::dot_q8_0<kRows, kTokens>(rows, a, n, out + r, out_stride);
  }
  for (; r < r1; ++r) {
    const uint8_t* row = w + r * w_stride;
    avx2::dot_q8_0<1, kTokens>(&row, a, n, out + r, out_stride);
  }
}
HWY_INLINE void dot_q8_0_rows(const uint8_t* w, size_t w_stride, size_t r0, size_t r1,
                              const uint8_t* const* a, size_t tokens, size_t n, float* out,
                              size_t out_stride) {
  switch (tokens) {
    case 1:
      return dot_q8_0_row_blocks<4, 1>(w, w_stride, r0, r1, a, n, out, out_stride);
    case 2:
      return dot_q8_0_row_blocks<4, 2>(w, w_stride, r0, r1, a, n, out, out_stride);
    case 3:
      return dot_q8_0_row_blocks<2, 3>(w, w_stride, r0, r1, a, n, out, out_stride);
    default:
      HWY_DASSERT(tokens == 4);
      return dot_q8_0_row_blocks<2, 4>(w, w_stride, r0, r1, a, n, out, out_stride);
  }
}
#endif

// Dot products of `rows` weight rows w + r * w_stride with `tokens` activation rows
// a + t * a_stride: out[t * out_stride + r]; the same values as one simd_vec_dot each.
void DotTile(tandem::TensorType type, const uint8_t* w, size_t w_stride, size_t rows,
             const uint8_t* a, size_t a_stride, size_t tokens, size_t n, float* out,
             size_t out_stride) {
#if TANDEM_AVX2_KERNELS
  // Q4_K and Q6_K run their tiles and panels (k_quant_tiles_avx2-inl.h).
  if (type == tandem::TensorType::kQ4_K) {
    return avx2::dot_tile<avx2::Q4K>(w, w_stride, rows, a, a_stride, tokens, n, out, out_stride);
  }
  if (type == tandem::TensorType::kQ6_K) {
    return avx2::dot_tile<avx2::Q6K>(w, w_stride, rows, a, a_stride, tokens, n, out, out_stride);
  }
  if (type == tandem::TensorType::kQ5_K || type == tandem::TensorType::kQ8_0) {
    // Chunks of kRowChunk weight rows (18 KiB of Q5_K rows of 2048) with groups of up to
    // kTokenGroup activation rows (18 KiB of Q8_K): both stay in L1 while the group
    // passes over the chunk a row at a time (the row's unpacked scales and the group's
    // sums then fit the 16 vector registers). Q8_0 runs blocks of rows x tokens, a pair
    // per lane of its kernel's accumulator (dot_q8_0_rows).
    constexpr size_t kRowChunk = 16;
    constexpr size_t kTokenGroup = 4;
    for (size_t r0 = 0; r0 < rows; r0 += kRowChunk) {
      const size_t r1 = std::min(rows, r0 + kRowChunk);
      for (size_t t0 = 0; t0 < tokens; t0 += kTokenGroup) {
        const size_t group = std::min(kTokenGroup, tokens - t0);
        const uint8_t* token_rows[kTokenGroup];
        for (size_t t = 0; t < group; ++t) token_rows[t] = a + (t0 + t) * a_stride;
        float* group_out = out + t0 * out_stride;
        if (type == tandem::TensorType::kQ8_0) {
          dot_q8_0_rows(w, w_stride, r0, r1, token_rows, group, n, group_out, out_stride);
          continue;
        }
        for (size_t r = r0; r < r1; ++r) {
          dot_row_tokens(type, w + r * w_stride, token_rows, group, n, group_out + r, out_stride);
        }
      }
    }
    return;
  }
#endif
  float (*single)(const void*, const void*, size_t) = nullptr;
  switch (type) {
    case tandem::TensorType::kQ4_K:
      single = DotQ4_K;
      break;
    case tandem::TensorType::kQ5_K:
      single = DotQ5_K;
      break;
    case tandem::TensorType::kQ6_K:
      single = DotQ6_K;
      break;
    case tandem::TensorType::kQ8_0:
      single = tandem::dot_q8_0_in_order;
      break;
    default:
      break;
  }
  HWY_ASSERT(single != nullptr);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t t = 0; t < tokens; ++t) {
      out[t * out_stride + r] = single(w + r * w_stride, a + t * a_stride, n);
    }
  }
}

// Whether this target has panel kernels for the type (simd_vec_dot_panels).
bool HasPanelKernels(tandem::TensorType type) {
#if TANDEM_AVX2_KERNELS
  return type == tandem::TensorType::kQ4_K || type == tandem::TensorType::kQ6_K ||
         type == tandem::TensorType::kQ8_0;
#else
  (void)type;
  return false;
#endif
}

// Products of `rows` rows stored as panels (ops/quant/panels.h) with `tokens` activation
// rows a + t * a_stride: out[t * out_stride + r]. Without a panel kernel each group of 8
// rows is unpacked into rows and runs DotTile.
void DotPanels(tandem::TensorType type, const uint8_t* panels, size_t rows, const uint8_t* a,
               size_t a_stride, size_t tokens, size_t n, float* out, size_t out_stride) {
#if TANDEM_AVX2_KERNELS
  if (type == tandem::TensorType::kQ4_K) {
    return avx2::dot_stored_panels<avx2::Q4K>(panels, rows, a, a_stride, tokens, n, out,
                                              out_stride);
  }
  if (type == tandem::TensorType::kQ6_K) {
    return avx2::dot_stored_panels<avx2::Q6K>(panels, rows, a, a_stride, tokens, n, out,
                                              out_stride);
  }
  if (type == tandem::TensorType::kQ8_0) {
    return avx2::dot_stored_q8_0_panels(panels, rows, a, a_stride, tokens, n, out, out_stride);
  }
#endif
  const size_t row_size = tandem::row_bytes(type, n);
  const size_t group_bytes = tandem::kPanelRows * row_size;
  std::vector<uint8_t> unpacked(group_bytes);
  for (size_t r0 = 0; r0 < rows; r0 += tandem::kPanelRows) {
    const std::span<const uint8_t> group(panels + r0 * row_size, group_bytes);
    for (size_t r = 0; r < tandem::kPanelRows; ++r) {
      tandem::unpack_panel_row(type, n, group, r,
                               std::span<uint8_t>(unpacked).subspan(r * row_size, row_size));
    }
    DotTile(type, unpacked.data(), row_size, tandem::kPanelRows, a, a_stride, tokens, n, out + r0,
            out_stride);
  }
}

}  // namespace tandem::quant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>

#include "ops/quant/simd/panels_dotprod.h"
#include "ops/quant/simd/quant_simd.h"
#include "ops/quant/simd/single_target_dispatch.h"
#include "platform/error.h"

namespace tandem {
namespace quant {
HWY_EXPORT(BlockSumsQ8_0);
HWY_EXPORT(DotQ4_K);
HWY_EXPORT(DotQ5_K);
HWY_EXPORT(DotQ6_K);
HWY_EXPORT(DotF16);
HWY_EXPORT(DotF32);
HWY_EXPORT(DotTile);
HWY_EXPORT(HasPanelKernels);
HWY_EXPORT(DotPanels);
HWY_EXPORT(AddScaledF32);
}  // namespace quant

// Same float operations, in the same order, as the scalar dot_q8_0_q8_0.
float dot_q8_0_in_order(const void* w, const void* a, size_t n) {
  constexpr size_t kChunk = 64;  // blocks per dispatched call
  int32_t sums[kChunk];
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  const size_t blocks = n / quant::kLegacyBlock;
  float sum = 0;
  for (size_t first = 0; first < blocks; first += kChunk) {
    const size_t count = std::min(kChunk, blocks - first);
    HWY_DYNAMIC_DISPATCH(quant::BlockSumsQ8_0)(w, a, first, count, sums);
    for (size_t i = 0; i < count; ++i) {
      uint16_t dx, dy;
      std::memcpy(&dx, wb + (first + i) * sizeof(quant::BlockQ8_0), 2);
      std::memcpy(&dy, ab + (first + i) * sizeof(quant::BlockQ8_0), 2);
      sum += static_cast<float>(sums[i]) * (f16_to_f32(dx) * f16_to_f32(dy));
    }
  }
  return sum;
}

bool has_simd_vec_dot(TensorType weight_type) {
  return weight_type == TensorType::kQ8_0 || weight_type == TensorType::kQ4_K ||
         weight_type == TensorType::kQ5_K || weight_type == TensorType::kQ6_K;
}

void simd_vec_dot_tokens(TensorType weight_type, const void* weight_row, const uint8_t* activations,
                         size_t activation_stride, size_t count, size_t n, float* out) {
  simd_vec_dot_tile(weight_type, static_cast<const uint8_t*>(weight_row), 0, 1, activations,
                    activation_stride, count, n, out, 1);
}

bool has_simd_vec_dot_tile(TensorType weight_type) { return has_simd_vec_dot(weight_type); }

void simd_vec_dot_tile(TensorType weight_type, const uint8_t* weights, size_t weight_stride,
                       size_t rows, const uint8_t* activations, size_t activation_stride,
                       size_t tokens, size_t n, float* out, size_t out_stride) {
  TANDEM_CHECK(has_simd_vec_dot_tile(weight_type), "no SIMD dot tile for ", type_name(weight_type));
  TANDEM_CHECK(n % traits(weight_type).block_elements == 0, "dot product of ", n,
               " elements is not whole blocks of ", type_name(weight_type));
  HWY_DYNAMIC_DISPATCH(quant::DotTile)
  (weight_type, weights, weight_stride, rows, activations, activation_stride, tokens, n, out,
   out_stride);
}

bool has_simd_panel_dot(TensorType weight_type) {
  if (has_dotprod_panel_dot()) return has_panel_layout(weight_type);
  return HWY_DYNAMIC_DISPATCH(quant::HasPanelKernels)(weight_type);
}

void simd_vec_dot_panels(TensorType weight_type, const uint8_t* panels, size_t rows,
                         const uint8_t* activations, size_t activation_stride, size_t tokens,
                         size_t n, float* out, size_t out_stride) {
  TANDEM_CHECK(has_panel_layout(weight_type) && n % traits(weight_type).block_elements == 0 &&
                   rows % kPanelRows == 0,
               "no panel products of ", rows, " rows of ", n, " ", type_name(weight_type));
  if (has_dotprod_panel_dot()) {
    return dotprod_panel_dot(weight_type, panels, rows, activations, activation_stride, tokens, n,
                             out, out_stride);
  }
  HWY_DYNAMIC_DISPATCH(quant::DotPanels)
  (weight_type, panels, rows, activations, activation_stride, tokens, n, out, out_stride);
}

void simd_add_scaled(std::span<float> y, float alpha, std::span<const float> x) {
  TANDEM_CHECK(x.size() == y.size(), "add_scaled of ", x.size(), " into ", y.size());
  HWY_DYNAMIC_DISPATCH(quant::AddScaledF32)(y.data(), alpha, x.data(), x.size());
}

bool has_simd_float_dot(TensorType weight_type) {
  return weight_type == TensorType::kF16 || weight_type == TensorType::kF32;
}

float simd_float_dot(TensorType weight_type, const void* weight_row, const float* activations,
                     size_t n) {
  switch (weight_type) {
    case TensorType::kF16:
      return HWY_DYNAMIC_DISPATCH(quant::DotF16)(weight_row, activations, n);
    case TensorType::kF32:
      return HWY_DYNAMIC_DISPATCH(quant::DotF32)(weight_row, activations, n);
    default:
      break;
  }
  TANDEM_CHECK(false, "no SIMD F32-activation dot product for ", type_name(weight_type));
}

float simd_vec_dot(TensorType weight_type, const void* weight_row, const void* activation_row,
                   size_t n) {
  TANDEM_CHECK(n % traits(weight_type).block_elements == 0, "dot product of ", n,
               " elements is not whole blocks of ", type_name(weight_type));
  switch (weight_type) {
    case TensorType::kQ8_0: {
      // The tile of one row and one token: the AVX2 kernel where it is compiled, else
      // dot_q8_0_in_order; both round exactly as the scalar kernel.
      float out;
      HWY_DYNAMIC_DISPATCH(quant::DotTile)
      (weight_type, static_cast<const uint8_t*>(weight_row), 0, 1,
       static_cast<const uint8_t*>(activation_row), 0, 1, n, &out, 1);
      return out;
    }
    case TensorType::kQ4_K:
      return HWY_DYNAMIC_DISPATCH(quant::DotQ4_K)(weight_row, activation_row, n);
    case TensorType::kQ5_K:
      return HWY_DYNAMIC_DISPATCH(quant::DotQ5_K)(weight_row, activation_row, n);
    case TensorType::kQ6_K:
      return HWY_DYNAMIC_DISPATCH(quant::DotQ6_K)(weight_row, activation_row, n);
    default:
      break;
  }
  TANDEM_CHECK(false, "no SIMD dot product for ", type_name(weight_type));
}

}  // namespace tandem
#endif  // HWY_ONCE
