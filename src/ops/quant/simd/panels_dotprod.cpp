#include "ops/quant/simd/panels_dotprod.h"

#include "platform/error.h"

#if TANDEM_DOTPROD_KERNELS
#include <arm_neon.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>

#include <cstring>

#include "ops/quant/blocks.h"
#include "ops/quant/panels.h"
#include "platform/half.h"
#endif

namespace tandem {

#if TANDEM_DOTPROD_KERNELS
namespace {

// Every function below runs only where has_dotprod_panel_dot() is true.
#if defined(__ARM_FEATURE_DOTPROD)
#define TANDEM_DOTPROD_TARGET
#else
#define TANDEM_DOTPROD_TARGET __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#define TANDEM_DOTPROD TANDEM_DOTPROD_TARGET __attribute__((always_inline)) inline

// Tokens per pass over a group of 8 rows: their blocks' weights are loaded once for all.
constexpr size_t kTokenGroup = 4;

// The int32 or F32 lanes of the 8 rows of a panel: rows 0-3 in lo, 4-7 in hi.
struct RowLanes {
  int32x4_t lo, hi;
};
struct RowFloats {
  float32x4_t lo, hi;
};

TANDEM_DOTPROD RowLanes zero_lanes() { return {vdupq_n_s32(0), vdupq_n_s32(0)}; }

// The 32-byte vector at p as rows 0-3 and 4-7.
struct RowBytes {
  uint8x16_t lo, hi;
};
TANDEM_DOTPROD RowBytes load_rows(const uint8_t* p) { return {vld1q_u8(p), vld1q_u8(p + 16)}; }

// The 8 F16 values at p (one per row) as F32.
TANDEM_DOTPROD RowFloats load_f16_rows(const uint8_t* p) {
  uint16_t bits[8];
  std::memcpy(bits, p, sizeof(bits));
  return {vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(bits))),
          vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(bits + 4)))};
}

// sums + the products of the 4-byte groups of w (4 rows' words) with group kWord of a.
template <int kWord>
TANDEM_DOTPROD int32x4_t dot_word(int32x4_t sums, uint8x16_t w, int8x16_t a) {
  return vdotq_laneq_s32(sums, vreinterpretq_s8_u8(w), a, kWord);
}

// sums + words i = 0..3 of the 8 rows (w[i]) times words 0..3 of a.
TANDEM_DOTPROD RowLanes dot_four_words(RowLanes sums, const RowBytes* w, int8x16_t a) {
  sums.lo = dot_word<0>(sums.lo, w[0].lo, a);
  sums.hi = dot_word<0>(sums.hi, w[0].hi, a);
  sums.lo = dot_word<1>(sums.lo, w[1].lo, a);
  sums.hi = dot_word<1>(sums.hi, w[1].hi, a);
  sums.lo = dot_word<2>(sums.lo, w[2].lo, a);
  sums.hi = dot_word<2>(sums.hi, w[2].hi, a);
  sums.lo = dot_word<3>(sums.lo, w[3].lo, a);
  sums.hi = dot_word<3>(sums.hi, w[3].hi, a);
  return sums;
}

// Byte kByte of every 32-bit lane, zero- or sign-extended.
template <int kByte>
TANDEM_DOTPROD int32x4_t unsigned_byte(uint8x16_t v) {
  uint32x4_t lanes = vreinterpretq_u32_u8(v);
  if constexpr (kByte > 0) lanes = vshrq_n_u32(lanes, 8 * kByte);  // shifts of 1 to 32 only
  return vreinterpretq_s32_u32(vandq_u32(lanes, vdupq_n_u32(0xFF)));
}
template <int kByte>
TANDEM_DOTPROD int32x4_t signed_byte(uint8x16_t v) {
  return vshrq_n_s32(vshlq_n_s32(vreinterpretq_s32_u8(v), 24 - 8 * kByte), 24);
}

TANDEM_DOTPROD RowLanes multiply_add(RowLanes sums, RowLanes a, RowLanes b) {
  return {vmlaq_s32(sums.lo, a.lo, b.lo), vmlaq_s32(sums.hi, a.hi, b.hi)};
}

// acc + scale * float(sums) (the portable kernels' (d_w * d_a) * sum), or minus it.
TANDEM_DOTPROD RowFloats add_scaled(RowFloats acc, RowLanes sums, RowFloats scale) {
  return {vaddq_f32(acc.lo, vmulq_f32(scale.lo, vcvtq_f32_s32(sums.lo))),
          vaddq_f32(acc.hi, vmulq_f32(scale.hi, vcvtq_f32_s32(sums.hi)))};
}
TANDEM_DOTPROD RowFloats subtract_scaled(RowFloats acc, RowLanes sums, RowFloats scale) {
  return {vsubq_f32(acc.lo, vmulq_f32(scale.lo, vcvtq_f32_s32(sums.lo))),
          vsubq_f32(acc.hi, vmulq_f32(scale.hi, vcvtq_f32_s32(sums.hi)))};
}
TANDEM_DOTPROD RowFloats times(RowFloats v, float s) {
  return {vmulq_n_f32(v.lo, s), vmulq_n_f32(v.hi, s)};
}

// Q8_0 panel blocks: d[8] (F16), then vector i (32 bytes) with bytes 4i .. 4i + 3 of
// row r in lane r. Per block: acc += float(sum) * (d_w * d_a), as dot_q8_0_in_order.
struct Q8Panel {
  static constexpr size_t kBlockElements = quant::kLegacyBlock;
  static constexpr size_t kPanelBytes = kPanelRows * sizeof(quant::BlockQ8_0);
  static constexpr size_t kActivationBytes = sizeof(quant::BlockQ8_0);

  template <size_t kTokens>
  TANDEM_DOTPROD static void dot(const uint8_t* block, const uint8_t* const* y, RowFloats* acc) {
    RowBytes w[8];
    for (size_t i = 0; i < 8; ++i) w[i] = load_rows(block + q8_0_panel::kLevels + 32 * i);
    const RowFloats d_w = load_f16_rows(block + q8_0_panel::kD);
    for (size_t t = 0; t < kTokens; ++t) {
      const uint8_t* a = y[t] + offsetof(quant::BlockQ8_0, qs);
      RowLanes sums = zero_lanes();
      sums = dot_four_words(sums, w, vld1q_s8(reinterpret_cast<const int8_t*>(a)));
      sums = dot_four_words(sums, w + 4, vld1q_s8(reinterpret_cast<const int8_t*>(a + 16)));
      uint16_t d_a;
      std::memcpy(&d_a, y[t] + offsetof(quant::BlockQ8_0, d), sizeof(d_a));
      acc[t] = add_scaled(acc[t], sums, times(d_w, f16_to_f32(d_a)));
    }
  }
};

// Q4_K panel blocks: d[8], dmin[8] (F16), scales[3][32] (word k of row r's 12 scale bytes
// in lane r), qs[4][8][32] ([g][i]: bytes 32g + 4i .. + 3 of row r's qs in lane r; low
// nibbles sub-block 2g, high nibbles 2g + 1). Per super-block, as the portable kernel:
// S = sum_j scale_j * (levels . activations of j), M = sum_j min_j * (j's activation sum),
// acc += (d * d_a) * float(S), acc -= (dmin * d_a) * float(M).
struct Q4KPanel {
  static constexpr size_t kBlockElements = quant::kSuperBlock;
  static constexpr size_t kPanelBytes = kPanelRows * sizeof(quant::BlockQ4_K);
  static constexpr size_t kActivationBytes = sizeof(quant::BlockQ8_K);

  // Row r's scales and minimums of the 8 sub-blocks (unpack_k4_scale_min) in lane r.
  struct Scales {
    RowLanes scale[8], min[8];
  };
  template <int kByte>
  TANDEM_DOTPROD static void pick(Scales& s, const RowBytes& scale_bytes, const RowBytes& min_bytes,
                                  int j) {
    s.scale[j] = {unsigned_byte<kByte>(scale_bytes.lo), unsigned_byte<kByte>(scale_bytes.hi)};
    s.min[j] = {unsigned_byte<kByte>(min_bytes.lo), unsigned_byte<kByte>(min_bytes.hi)};
  }
  TANDEM_DOTPROD static uint8x16_t low_scales(uint8x16_t p) {
    return vandq_u8(p, vdupq_n_u8(0x3F));
  }
  // (p2 >> shift) & 15 | (p >> 6) << 4: sub-blocks 4-7 from words 2 and 0 (or 1).
  template <int kShift>
  TANDEM_DOTPROD static uint8x16_t high_scales(uint8x16_t p2, uint8x16_t p) {
    if constexpr (kShift > 0) p2 = vshrq_n_u8(p2, kShift);  // shifts of 1 to 8 only
    return vorrq_u8(vandq_u8(p2, vdupq_n_u8(0x0F)), vshlq_n_u8(vshrq_n_u8(p, 6), 4));
  }
  TANDEM_DOTPROD static Scales scales(const uint8_t* block) {
    const uint8_t* words = block + q4_k_panel::kScales;
    const RowBytes p0 = load_rows(words), p1 = load_rows(words + 32), p2 = load_rows(words + 64);
    const RowBytes scale_low = {low_scales(p0.lo), low_scales(p0.hi)};
    const RowBytes min_low = {low_scales(p1.lo), low_scales(p1.hi)};
    const RowBytes scale_high = {high_scales<0>(p2.lo, p0.lo), high_scales<0>(p2.hi, p0.hi)};
    const RowBytes min_high = {high_scales<4>(p2.lo, p1.lo), high_scales<4>(p2.hi, p1.hi)};
    Scales s;
    pick<0>(s, scale_low, min_low, 0);
    pick<1>(s, scale_low, min_low, 1);
    pick<2>(s, scale_low, min_low, 2);
    pick<3>(s, scale_low, min_low, 3);
    pick<0>(s, scale_high, min_high, 4);
    pick<1>(s, scale_high, min_high, 5);
    pick<2>(s, scale_high, min_high, 6);
    pick<3>(s, scale_high, min_high, 7);
    return s;
  }

  // The levels of sub-block 2g + kHigh: words i = 0..7 of the 8 rows.
  template <int kHigh>
  TANDEM_DOTPROD static void levels(const uint8_t* block, int g, RowBytes* w) {
    const uint8x16_t low_mask = vdupq_n_u8(0x0F);
    for (size_t i = 0; i < 8; ++i) {
      const RowBytes q =
          load_rows(block + q4_k_panel::kLevels + 256 * static_cast<size_t>(g) + 32 * i);
      w[i] = kHigh ? RowBytes{vshrq_n_u8(q.lo, 4), vshrq_n_u8(q.hi, 4)}
                   : RowBytes{vandq_u8(q.lo, low_mask), vandq_u8(q.hi, low_mask)};
    }
  }

  template <size_t kTokens>
  TANDEM_DOTPROD static void dot(const uint8_t* block, const uint8_t* const* y, RowFloats* acc) {
    const Scales s = scales(block);
    RowLanes totals[kTokens];
    for (size_t t = 0; t < kTokens; ++t) totals[t] = zero_lanes();
    for (int j = 0; j < 8; ++j) {
      RowBytes w[8];
      if (j % 2 == 0) {
        levels<0>(block, j / 2, w);
      } else {
        levels<1>(block, j / 2, w);
      }
      for (size_t t = 0; t < kTokens; ++t) {
        const auto* a = reinterpret_cast<const int8_t*>(y[t] + offsetof(quant::BlockQ8_K, qs) +
                                                        32 * static_cast<size_t>(j));
        RowLanes sums = zero_lanes();
        sums = dot_four_words(sums, w, vld1q_s8(a));
        sums = dot_four_words(sums, w + 4, vld1q_s8(a + 16));
        totals[t] = multiply_add(totals[t], s.scale[j], sums);
      }
    }
    const RowFloats d = load_f16_rows(block + q4_k_panel::kD),
                    dmin = load_f16_rows(block + q4_k_panel::kDmin);
    for (size_t t = 0; t < kTokens; ++t) {
      int16_t bsums[16];
      std::memcpy(bsums, y[t] + offsetof(quant::BlockQ8_K, bsums), sizeof(bsums));
      RowLanes min_totals = zero_lanes();
      for (size_t j = 0; j < 8; ++j) {
        const int32_t sum = bsums[2 * j] + bsums[2 * j + 1];
        min_totals = {vmlaq_n_s32(min_totals.lo, s.min[j].lo, sum),
                      vmlaq_n_s32(min_totals.hi, s.min[j].hi, sum)};
      }
      float d_a;
      std::memcpy(&d_a, y[t] + offsetof(quant::BlockQ8_K, d), sizeof(d_a));
      acc[t] = add_scaled(acc[t], totals[t], times(d, d_a));
      acc[t] = subtract_scaled(acc[t], min_totals, times(dmin, d_a));
    }
  }
};

// Q6_K panel blocks: levels[2][8][3][32] (ops/quant/panels.h: of the elements
// 128h + 32k + 4i + e, k = 0..3, of row r, [h][i][c][4r + e] holds level k = c in bits
// 0-5 and bits 2c, 2c + 1 of level 3 in bits 6-7), scales[4][32] (int8: word k of row r's
// 16 scales in lane r), d[8] (F16). Levels are 0..63 for values level - 32, so per
// super-block S = sum_j scale_j * (levels . activations of j) - 32 * sum_j scale_j *
// (j's activation sum), the portable kernel's integer, and acc += (d * d_a) * float(S).
struct Q6KPanel {
  static constexpr size_t kBlockElements = quant::kSuperBlock;
  static constexpr size_t kPanelBytes = kPanelRows * sizeof(quant::BlockQ6_K);
  static constexpr size_t kActivationBytes = sizeof(quant::BlockQ8_K);

  template <int kByte>
  TANDEM_DOTPROD static RowLanes scale_lanes(const RowBytes& word) {
    return {signed_byte<kByte>(word.lo), signed_byte<kByte>(word.hi)};
  }
  // Row r's 16 scales in lane r.
  TANDEM_DOTPROD static void scales(const uint8_t* block, RowLanes* scale) {
    for (size_t k = 0; k < 4; ++k) {
      const RowBytes word = load_rows(block + q6_k_panel::kScales + 32 * k);
      scale[4 * k] = scale_lanes<0>(word);
      scale[4 * k + 1] = scale_lanes<1>(word);
      scale[4 * k + 2] = scale_lanes<2>(word);
      scale[4 * k + 3] = scale_lanes<3>(word);
    }
  }

  // Level kQuarter of the elements 128h + 32 kQuarter + 4i + e of 4 rows: the bytes of
  // c = 0, 1, 2 are at p, p + 32, p + 64.
  template <size_t kQuarter>
  TANDEM_DOTPROD static uint8x16_t level(const uint8_t* p) {
    if constexpr (kQuarter < 3) {
      return vandq_u8(vld1q_u8(p + 32 * kQuarter), vdupq_n_u8(0x3F));
    } else {
      const uint8x16_t b0 = vld1q_u8(p), b1 = vld1q_u8(p + 32), b2 = vld1q_u8(p + 64);
      return vorrq_u8(vorrq_u8(vshrq_n_u8(b0, 6), vandq_u8(vshrq_n_u8(b1, 4), vdupq_n_u8(0x0C))),
                      vandq_u8(vshrq_n_u8(b2, 2), vdupq_n_u8(0x30)));
    }
  }

  // Quarter kQuarter of half h, then its products with the kTokens tokens: scale groups
  // j = 8h + 2 kQuarter (words 0-3) and j + 1 (words 4-7).
  template <size_t kQuarter, size_t kTokens>
  TANDEM_DOTPROD static void add_quarter(const uint8_t* block, size_t h, const RowLanes* scale,
                                         const uint8_t* const* y, RowLanes* totals) {
    RowBytes w[8];
    for (size_t i = 0; i < 8; ++i) {
      const uint8_t* p = block + q6_k_panel::kLevels + (8 * h + i) * 3 * 32;
      w[i] = {level<kQuarter>(p), level<kQuarter>(p + 16)};
    }
    const size_t j = 8 * h + 2 * kQuarter;
    for (size_t t = 0; t < kTokens; ++t) {
      const auto* a =
          reinterpret_cast<const int8_t*>(y[t] + offsetof(quant::BlockQ8_K, qs) + 16 * j);
      totals[t] = multiply_add(totals[t], scale[j], dot_four_words(zero_lanes(), w, vld1q_s8(a)));
      totals[t] = multiply_add(totals[t], scale[j + 1],
                               dot_four_words(zero_lanes(), w + 4, vld1q_s8(a + 16)));
    }
  }

  template <size_t kTokens>
  TANDEM_DOTPROD static void dot(const uint8_t* block, const uint8_t* const* y, RowFloats* acc) {
    RowLanes scale[16];
    scales(block, scale);
    RowLanes totals[kTokens];
    for (size_t t = 0; t < kTokens; ++t) totals[t] = zero_lanes();
    for (size_t h = 0; h < 2; ++h) {
      add_quarter<0, kTokens>(block, h, scale, y, totals);
      add_quarter<1, kTokens>(block, h, scale, y, totals);
      add_quarter<2, kTokens>(block, h, scale, y, totals);
      add_quarter<3, kTokens>(block, h, scale, y, totals);
    }
    const RowFloats d = load_f16_rows(block + q6_k_panel::kD);
    for (size_t t = 0; t < kTokens; ++t) {
      int16_t bsums[16];
      std::memcpy(bsums, y[t] + offsetof(quant::BlockQ8_K, bsums), sizeof(bsums));
      RowLanes offsets = zero_lanes();
      for (size_t j = 0; j < 16; ++j) {
        offsets = {vmlaq_n_s32(offsets.lo, scale[j].lo, bsums[j]),
                   vmlaq_n_s32(offsets.hi, scale[j].hi, bsums[j])};
      }
      const RowLanes level_sums = {vsubq_s32(totals[t].lo, vshlq_n_s32(offsets.lo, 5)),
                                   vsubq_s32(totals[t].hi, vshlq_n_s32(offsets.hi, 5))};
      float d_a;
      std::memcpy(&d_a, y[t] + offsetof(quant::BlockQ8_K, d), sizeof(d_a));
      acc[t] = add_scaled(acc[t], level_sums, times(d, d_a));
    }
  }
};

// Tokens [t0, t0 + kTokens) over all blocks of the group of 8 rows at `group`.
template <class Format, size_t kTokens>
TANDEM_DOTPROD void dot_group(const uint8_t* group, size_t blocks, const uint8_t* a,
                              size_t a_stride, size_t t0, float* out, size_t out_stride) {
  RowFloats acc[kTokens];
  const uint8_t* y[kTokens];
  for (size_t t = 0; t < kTokens; ++t) acc[t] = {vdupq_n_f32(0), vdupq_n_f32(0)};
  for (size_t b = 0; b < blocks; ++b) {
    for (size_t t = 0; t < kTokens; ++t) {
      y[t] = a + (t0 + t) * a_stride + b * Format::kActivationBytes;
    }
    Format::template dot<kTokens>(group + b * Format::kPanelBytes, y, acc);
  }
  for (size_t t = 0; t < kTokens; ++t) {
    vst1q_f32(out + (t0 + t) * out_stride, acc[t].lo);
    vst1q_f32(out + (t0 + t) * out_stride + 4, acc[t].hi);
  }
}

template <class Format>
TANDEM_DOTPROD_TARGET void dot_panels(const uint8_t* panels, size_t rows, const uint8_t* a,
                                      size_t a_stride, size_t tokens, size_t n, float* out,
                                      size_t out_stride) {
  const size_t blocks = n / Format::kBlockElements;
  for (size_t r0 = 0; r0 < rows; r0 += kPanelRows) {
    const uint8_t* group = panels + (r0 / kPanelRows) * blocks * Format::kPanelBytes;
    float* group_out = out + r0;
    size_t t0 = 0;
    for (; t0 + kTokenGroup <= tokens; t0 += kTokenGroup) {
      dot_group<Format, kTokenGroup>(group, blocks, a, a_stride, t0, group_out, out_stride);
    }
    switch (tokens - t0) {
      case 3:
        dot_group<Format, 3>(group, blocks, a, a_stride, t0, group_out, out_stride);
        break;
      case 2:
        dot_group<Format, 2>(group, blocks, a, a_stride, t0, group_out, out_stride);
        break;
      case 1:
        dot_group<Format, 1>(group, blocks, a, a_stride, t0, group_out, out_stride);
        break;
      default:
        break;
    }
  }
}

}  // namespace

bool has_dotprod_panel_dot() {
  static const bool available = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  return available;
}

void dotprod_panel_dot(TensorType type, const uint8_t* panels, size_t rows,
                       const uint8_t* activations, size_t activation_stride, size_t tokens,
                       size_t n, float* out, size_t out_stride) {
  TANDEM_CHECK(has_dotprod_panel_dot(), "no dot-product instructions on this CPU");
  switch (type) {
    case TensorType::kQ4_K:
      return dot_panels<Q4KPanel>(panels, rows, activations, activation_stride, tokens, n, out,
                                  out_stride);
    case TensorType::kQ6_K:
      return dot_panels<Q6KPanel>(panels, rows, activations, activation_stride, tokens, n, out,
                                  out_stride);
    case TensorType::kQ8_0:
      return dot_panels<Q8Panel>(panels, rows, activations, activation_stride, tokens, n, out,
                                 out_stride);
    default:
      break;
  }
  TANDEM_CHECK(false, "no dot-product panel kernel for ", type_name(type));
}

#else  // no dot-product kernels in this build

void dotprod_panel_dot(TensorType type, const uint8_t*, size_t, const uint8_t*, size_t, size_t,
                       size_t, float*, size_t) {
  TANDEM_CHECK(false, "no dot-product panel kernel for ", type_name(type), " on this CPU");
}

#endif

}  // namespace tandem
