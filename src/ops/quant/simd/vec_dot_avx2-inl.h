// AVX2 integer kernels of the quantized dot products, included by vec_dot_simd.cpp once
// per Highway target (no include guard, as Highway's -inl.h convention). They are
// compiled only for x86 targets with AVX2 (Highway's target attributes enable the
// intrinsics there) and set TANDEM_AVX2_KERNELS to 1; elsewhere it is 0 and the portable
// Highway code runs. The integer sums equal the portable kernels' exactly: weight levels
// are non-negative bytes (Q6_K's offset of 32 is subtracted as 32 * scale * the activation
// sums of each 16-element group, Q8_K's bsums),
// activations are Q8 bytes in [-127, 127], so vpmaddubsw never saturates (63 * 127 * 2 <
// 2^15). The K-quant kernels scale each super-block's integer sums in F32 lanes and sum
// the lanes once per row, so their floats differ from the portable kernels' by rounding
// only (tests bound the difference).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hwy/highway.h"
#include "ops/quant/blocks.h"
#include "platform/half.h"

#undef TANDEM_AVX2_KERNELS
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define TANDEM_AVX2_KERNELS 1
#include <immintrin.h>
#else
#define TANDEM_AVX2_KERNELS 0
#endif

#if TANDEM_AVX2_KERNELS
HWY_BEFORE_NAMESPACE();
namespace tandem::quant::HWY_NAMESPACE::avx2 {

HWY_INLINE int32_t horizontal_sum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

HWY_INLINE __m256i load(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// 32 unsigned weight bytes times 32 signed activation bytes: 8 int32 lanes of pair sums
// times `scale` (16 int16 lanes).
HWY_INLINE __m256i scaled_dot(__m256i weights, __m256i activations, __m256i scale) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(weights, activations), scale);
}

HWY_INLINE int32_t dot_i8_32(const int8_t* w, const int8_t* a) {
  const __m256i x = load(w);
  // |x| * (a with x's sign): an unsigned x signed product with the same value.
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(load(a), x));
  return horizontal_sum(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

HWY_INLINE float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Decode streams weight rows from memory once: the cache lines of the super-block
// kPrefetchBlocks ahead (in this row or the next, which follows it in memory) are
// requested while this one is computed.
constexpr size_t kPrefetchBlocks = 4;
HWY_INLINE void prefetch_ahead(const uint8_t* block, size_t block_bytes) {
  const uint8_t* ahead = block + kPrefetchBlocks * block_bytes;
  for (size_t line = 0; line < block_bytes; line += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(ahead + line), _MM_HINT_T0);
  }
}

HWY_INLINE float activation_scale(const uint8_t* a, size_t b) {
  float d;
  std::memcpy(&d, a + b * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, d), sizeof(float));
  return d;
}

// Dot products of one Q4_K or Q5_K weight row with kTokens activation rows a[i], into
// out[i]. The weight levels, scales and minimums of each super-block are unpacked once
// for all kTokens rows. Each super-block's integer sums stay in 8 int32 lanes (exact),
// are scaled in F32 lanes and accumulated there (fused multiply-add), and the lanes are
// summed once at the end of the row: no horizontal reduction per super-block. Each
// row's arithmetic is the same for every kTokens, so results do not depend on how
// tokens are grouped.
template <class Block, size_t kTokens>
HWY_INLINE void dot_k4(const void* w, const uint8_t* const* a, size_t n, float* out) {
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  __m256 acc[kTokens];
  for (size_t i = 0; i < kTokens; ++i) acc[i] = _mm256_setzero_ps();
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto* x = static_cast<const uint8_t*>(w) + b * sizeof(Block);
    prefetch_ahead(x, sizeof(Block));
    uint16_t d_bits, dmin_bits;
    std::memcpy(&d_bits, x + offsetof(Block, d), 2);
    std::memcpy(&dmin_bits, x + offsetof(Block, dmin), 2);
    const float d = f16_to_f32(d_bits);
    const float dmin = f16_to_f32(dmin_bits);
    const uint8_t* scales = x + offsetof(Block, scales);
    const uint8_t* qs = x + offsetof(Block, qs);
    __m256i high_bits = _mm256_setzero_si256();
    if constexpr (sizeof(Block) == sizeof(BlockQ5_K)) {
      high_bits = load(x + offsetof(BlockQ5_K, qh));
    }
    // The 6-bit scales and minimums of the 8 sub-blocks, four at a time from the 12 packed
    // bytes read as 32-bit words (unpack_k4_scale_min's layout: sub-blocks 0-3 in the
    // low 6 bits of bytes 0-3 / 4-7, sub-blocks 4-7 in the nibbles of bytes 8-11 with
    // their top 2 bits in the top bits of bytes 0-3 / 4-7).
    uint32_t packed[3];
    std::memcpy(packed, scales, sizeof(packed));
    const uint32_t scale_words[2] = {
        packed[0] & 0x3F3F3F3Fu,
        (packed[2] & 0x0F0F0F0Fu) | (((packed[0] >> 6) & 0x03030303u) << 4)};
    const uint32_t min_words[2] = {
        packed[1] & 0x3F3F3F3Fu,
        ((packed[2] >> 4) & 0x0F0F0F0Fu) | (((packed[1] >> 6) & 0x03030303u) << 4)};
    uint8_t sub_scales[8];
    std::memcpy(sub_scales, scale_words, sizeof(sub_scales));
    // Sub-block j's minimum in the lanes of its two 16-element bsums: [16] int16.
    const __m128i min_bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(min_words));
    const __m256i min_lanes = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(min_bytes, min_bytes));
    // Sub-block j = 2g (low nibbles) and 2g + 1 (high nibbles) of group g.
    __m256i levels[8];
    __m256i sub_scale[8];  // the scale of sub-block j in 16 int16 lanes
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) sub_scale[j] = _mm256_set1_epi16(sub_scales[j]);
#pragma GCC unroll 4
    for (int g = 0; g < kSuperBlock / 64; ++g) {
      const __m256i q = load(qs + 32 * g);
      __m256i low = _mm256_and_si256(q, low_mask);
      __m256i high = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
      if constexpr (sizeof(Block) == sizeof(BlockQ5_K)) {
        const __m256i mask_low = _mm256_set1_epi8(static_cast<char>(1 << (2 * g)));
        const __m256i mask_high = _mm256_set1_epi8(static_cast<char>(1 << (2 * g + 1)));
        const __m256i set_low = _mm256_cmpeq_epi8(_mm256_and_si256(high_bits, mask_low), mask_low);
        const __m256i set_high =
            _mm256_cmpeq_epi8(_mm256_and_si256(high_bits, mask_high), mask_high);
        low = _mm256_or_si256(low, _mm256_and_si256(set_low, bit4));
        high = _mm256_or_si256(high, _mm256_and_si256(set_high, bit4));
      }
      levels[2 * g] = low;
      levels[2 * g + 1] = high;
    }
    // Unrolled so that the levels and the accumulators stay in registers (-O2 keeps
    // loops rolled, and a rolled loop indexes these arrays in memory).
#pragma GCC unroll 4
    for (size_t i = 0; i < kTokens; ++i) {
      const uint8_t* y = a[i] + b * sizeof(BlockQ8_K);
      const uint8_t* y_qs = y + offsetof(BlockQ8_K, qs);
      __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        sumi = _mm256_add_epi32(sumi, scaled_dot(levels[j], load(y_qs + 32 * j), sub_scale[j]));
      }
      // sum over sub-blocks of min * (sum of its 32 activations), in 8 int32 lanes.
      const __m256i min_sum = _mm256_madd_epi16(load(y + offsetof(BlockQ8_K, bsums)), min_lanes);
      const float y_d = activation_scale(a[i], b);
      acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d * y_d), acc[i]);
      acc[i] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(min_sum), _mm256_set1_ps(dmin * y_d), acc[i]);
    }
  }
  for (size_t i = 0; i < kTokens; ++i) out[i] = horizontal_sum(acc[i]);
}

// As dot_k4, for Q6_K (integer sums of a super-block in 8 int32 lanes, scaled and
// accumulated in F32 lanes).
template <size_t kTokens>
HWY_INLINE void dot_q6_k(const void* w, const uint8_t* const* a, size_t n, float* out) {
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i high_mask = _mm256_set1_epi8(0x30);
  __m256 sum[kTokens];
  for (size_t i = 0; i < kTokens; ++i) sum[i] = _mm256_setzero_ps();
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto* x = static_cast<const uint8_t*>(w) + b * sizeof(BlockQ6_K);
    prefetch_ahead(x, sizeof(BlockQ6_K));
    uint16_t d_bits;
    std::memcpy(&d_bits, x + offsetof(BlockQ6_K, d), 2);
    const float d = f16_to_f32(d_bits);
    const auto* scales = reinterpret_cast<const int8_t*>(x + offsetof(BlockQ6_K, scales));
    __m256i acc[kTokens];
    for (size_t i = 0; i < kTokens; ++i) acc[i] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x + offsetof(BlockQ6_K, ql) + 64 * h;
      const __m256i qh = load(x + offsetof(BlockQ6_K, qh) + 32 * h);
      const __m256i ql0 = load(ql);
      const __m256i ql1 = load(ql + 32);
      // Elements 128h + 32 quarter + l: low 4 bits from ql, bits 4-5 from qh >> 2 quarter.
      const __m256i levels[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, low_mask),
                          _mm256_and_si256(_mm256_slli_epi16(qh, 4), high_mask)),
          _mm256_or_si256(_mm256_and_si256(ql1, low_mask),
                          _mm256_and_si256(_mm256_slli_epi16(qh, 2), high_mask)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask),
                          _mm256_and_si256(qh, high_mask)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask),
                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), high_mask)),
      };
      __m256i group_scales[4];
      for (int quarter = 0; quarter < 4; ++quarter) {
        const int group = 8 * h + 2 * quarter;
        group_scales[quarter] =
            _mm256_set_m128i(_mm_set1_epi16(scales[group + 1]), _mm_set1_epi16(scales[group]));
      }
#pragma GCC unroll 4
      for (size_t i = 0; i < kTokens; ++i) {
        const uint8_t* q8 = a[i] + b * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, qs) + 128 * h;
#pragma GCC unroll 4
        for (int quarter = 0; quarter < 4; ++quarter) {
          const __m256i activations = load(q8 + 32 * quarter);
          // level * a summed in pairs (level - 32 is taken care of below).
          const __m256i pairs = _mm256_maddubs_epi16(levels[quarter], activations);
          acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(pairs, group_scales[quarter]));
        }
      }
    }
    // The offset of 32 of every level: 32 * sum over the 16 groups of scale * (sum of the
    // group's 16 activations, Q8_K's bsums), in 8 int32 lanes.
    const __m256i group_scales16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
    for (size_t i = 0; i < kTokens; ++i) {
      const __m256i offsets = _mm256_madd_epi16(
          load(a[i] + b * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, bsums)), group_scales16);
      acc[i] = _mm256_sub_epi32(acc[i], _mm256_slli_epi32(offsets, 5));
      const float y_d = activation_scale(a[i], b);
      sum[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i]), _mm256_set1_ps(d * y_d), sum[i]);
    }
  }
  for (size_t i = 0; i < kTokens; ++i) out[i] = horizontal_sum(sum[i]);
}

// One activation row, in the signature of the portable kernels.
template <class Kernel>
HWY_INLINE float one_token(const Kernel& kernel, const void* w, const void* a, size_t n) {
  const auto* row = static_cast<const uint8_t*>(a);
  float out;
  kernel(w, &row, n, &out);
  return out;
}

HWY_INLINE float dot_q4_k(const void* w, const void* a, size_t n) {
  return one_token(dot_k4<BlockQ4_K, 1>, w, a, n);
}
HWY_INLINE float dot_q5_k(const void* w, const void* a, size_t n) {
  return one_token(dot_k4<BlockQ5_K, 1>, w, a, n);
}
HWY_INLINE float dot_q6_k(const void* w, const void* a, size_t n) {
  return one_token(dot_q6_k<1>, w, a, n);
}

}  // namespace tandem::quant::HWY_NAMESPACE::avx2
HWY_AFTER_NAMESPACE();
#endif  // TANDEM_AVX2_KERNELS
