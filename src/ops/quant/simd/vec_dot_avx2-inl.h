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
// only (tests bound the difference); the Q8_0 kernel keeps the scalar kernel's float
// order.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

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
// The AVX-512 VNNI variants (vpdpbusd: four byte products and their sum added to an int32
// lane in one instruction) where Highway's AVX3_DL target runs: the same integer sums.
#undef TANDEM_VNNI_KERNELS
#if TANDEM_AVX2_KERNELS && HWY_TARGET == HWY_AVX3_DL
#define TANDEM_VNNI_KERNELS 1
#else
#define TANDEM_VNNI_KERNELS 0
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

// An empty instruction that takes v in a register and may change it: the compiler must
// finish computing v here. It keeps GCC from re-associating a loop's running integer sums
// into one tree at the end, which holds every product live at once and spills them.
HWY_INLINE void settle(__m256i& v) { asm("" : "+v"(v)); }

// fn(std::integral_constant<size_t, k>()) for k = 0 .. kCount - 1, unrolled in the source:
// every index into a per-token array is then a constant when GCC's scalar replacement runs
// (before its loop unrolling), so the array lives in registers rather than on the stack.
template <size_t kCount, class Fn>
HWY_INLINE void for_each_index(const Fn& fn) {
  [&]<size_t... kI>(std::index_sequence<kI...>) HWY_ATTR __attribute__((always_inline)) {
    (fn(std::integral_constant<size_t, kI>()), ...);
  }
  (std::make_index_sequence<kCount>());
}

HWY_INLINE __m256i load(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

#if TANDEM_VNNI_KERNELS
// acc + in each int32 lane the sum of its 4 unsigned bytes of u times the 4 signed bytes
// at p (the same 4 in every lane): vpdpbusd with an embedded broadcast. Written out
// because Highway's AVX3_DL target enables the VEX form (AVX-VNNI), which AVX-512 CPUs
// such as Zen 4 lack, not the EVEX one.
HWY_INLINE __m256i dot_broadcast_bytes(__m256i acc, __m256i u, const uint8_t* p) {
  using Word = int32_t __attribute__((may_alias, aligned(1)));
  asm("vpdpbusd %[s]%{1to8%}, %[u], %[acc]"
      : [acc] "+v"(acc)
      : [u] "v"(u), [s] "m"(*reinterpret_cast<const Word*>(p)));
  return acc;
}
// acc + in each int32 lane the sum of its 4 unsigned bytes of u times its 4 signed bytes
// of s (the register form of dot_broadcast_bytes).
HWY_INLINE __m256i dot_bytes(__m256i acc, __m256i u, __m256i s) {
  asm("vpdpbusd %[s], %[u], %[acc]" : [acc] "+v"(acc) : [u] "v"(u), [s] "v"(s));
  return acc;
}
#endif

// 32 unsigned weight bytes times 32 signed activation bytes: 8 int32 lanes of pair sums
// times `scale` (16 int16 lanes).
HWY_INLINE __m256i scaled_dot(__m256i weights, __m256i activations, __m256i scale) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(weights, activations), scale);
}

// acc + in each int32 lane the sum of its 4 products of signed weight bytes (levels, with
// magnitudes = |levels|) and signed activation bytes: |x| * (y with x's sign), an unsigned
// x signed product with the value x * y (vpdpbusd on VNNI, else vpmaddubsw and vpmaddwd).
HWY_INLINE __m256i add_signed_byte_dots(__m256i acc, __m256i magnitudes, __m256i levels,
                                        __m256i activations) {
  const __m256i signed_activations = _mm256_sign_epi8(activations, levels);
#if TANDEM_VNNI_KERNELS
  return dot_bytes(acc, magnitudes, signed_activations);
#else
  return _mm256_add_epi32(acc, scaled_dot(magnitudes, signed_activations, _mm256_set1_epi16(1)));
#endif
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

// out[t * stride] = lane t / 2 of `even` (t even) or `odd` (t odd), for each t in kT, as
// lane stores (vextractps): a vector store read back as floats would wait on store
// forwarding. The lane index of the instruction must be a constant.
template <size_t... kT>
HWY_INLINE void store_lanes(__m128 even, __m128 odd, float* out, size_t stride,
                            std::index_sequence<kT...>) {
  const auto store = [&](auto t) HWY_ATTR {
    constexpr size_t kToken = decltype(t)::value;
    const int bits =
        kToken % 2 == 0 ? _mm_extract_ps(even, kToken / 2) : _mm_extract_ps(odd, kToken / 2);
    std::memcpy(out + kToken * stride, &bits, sizeof(float));
  };
  (store(std::integral_constant<size_t, kT>()), ...);
}

// out[t * stride] = horizontal_sum(v[t]) for t < kCount, with the same additions in the
// same order as horizontal_sum (lanes i + (i + 4), then pairs 0 + 2 and 1 + 3, then the
// two), so equal to it exactly, computed for up to 8 vectors at once: 128-bit halves of
// two vectors are exchanged so that one addition serves both, and so on, instead of
// reducing each vector on its own.
template <size_t kCount>
HWY_INLINE void store_sums(const __m256* v, float* out, size_t stride) {
  if constexpr (kCount == 1) {
    out[0] = horizontal_sum(v[0]);
  } else {
    constexpr size_t kPairs = (kCount + 1) / 2;
    __m256 halves[4];  // [v[2p] lo + hi | v[2p + 1] lo + hi]
    for (size_t p = 0; p < kPairs; ++p) {
      const __m256 a = v[2 * p];
      const __m256 b = 2 * p + 1 < kCount ? v[2 * p + 1] : _mm256_setzero_ps();
      halves[p] =
          _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
    }
    for (size_t p = kPairs; p < 4; ++p) halves[p] = _mm256_setzero_ps();
    // [a0 + a2, a1 + a3, c0 + c2, c1 + c3 | b.., d..] for halves (a|b) and (c|d).
    const auto pair_sums = [](__m256 x, __m256 y) HWY_ATTR {
      return _mm256_add_ps(_mm256_shuffle_ps(x, y, _MM_SHUFFLE(1, 0, 1, 0)),
                           _mm256_shuffle_ps(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
    };
    const __m256 p01 = pair_sums(halves[0], halves[1]);
    const __m256 p23 = pair_sums(halves[2], halves[3]);
    // [v0, v2, v4, v6 | v1, v3, v5, v7]
    const __m256 sums = _mm256_add_ps(_mm256_shuffle_ps(p01, p23, _MM_SHUFFLE(2, 0, 2, 0)),
                                      _mm256_shuffle_ps(p01, p23, _MM_SHUFFLE(3, 1, 3, 1)));
    store_lanes(_mm256_castps256_ps128(sums), _mm256_extractf128_ps(sums, 1), out, stride,
                std::make_index_sequence<kCount>());
  }
}

// Decode streams weight rows from memory once: the cache lines of the super-block
// kPrefetchBlocks ahead (in this row or the next, which follows it in memory) are
// requested while this one is computed.
constexpr size_t kPrefetchBlocks = 16;
HWY_INLINE void prefetch_ahead(const uint8_t* block, size_t block_bytes) {
  const uint8_t* ahead = block + kPrefetchBlocks * block_bytes;
  for (size_t line = 0; line < block_bytes; line += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(ahead + line), _MM_HINT_T0);
  }
}

// The F32 scale of super-block b of a Q8_K row, in 8 lanes (a broadcast load).
HWY_INLINE __m256 activation_scale(const uint8_t* a, size_t b) {
  float d;
  std::memcpy(&d, a + b * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, d), sizeof(float));
  return _mm256_set1_ps(d);
}

// An F16 scale, converted by the F16C instruction (exact, the same value as f16_to_f32).
HWY_INLINE float load_f16(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, sizeof(bits));
  return _cvtsh_ss(bits);
}

// The 6-bit scales and minimums of a Q4_K / Q5_K super-block's 8 sub-blocks, unpacked
// from its 12 packed bytes four at a time as 32-bit words (unpack_k4_scale_min's layout:
// sub-blocks 0-3 in the low 6 bits of bytes 0-3 / 4-7, sub-blocks 4-7 in the nibbles of
// bytes 8-11 with their top 2 bits in the top bits of bytes 0-3 / 4-7).
struct K4Scales {
  __m256i scales;     // sub-block j's scale in int16 word j of both 128-bit halves
  __m256i min_lanes;  // sub-block j's minimum in int16 lanes 2j, 2j + 1
};
HWY_INLINE K4Scales unpack_k4_scales(const uint8_t* packed_bytes) {
  uint32_t packed[3];
  std::memcpy(packed, packed_bytes, sizeof(packed));
  const uint64_t scale_words =
      (packed[0] & 0x3F3F3F3Fu) |
      uint64_t{(packed[2] & 0x0F0F0F0Fu) | (((packed[0] >> 6) & 0x03030303u) << 4)} << 32;
  const uint64_t min_words =
      (packed[1] & 0x3F3F3F3Fu) |
      uint64_t{((packed[2] >> 4) & 0x0F0F0F0Fu) | (((packed[1] >> 6) & 0x03030303u) << 4)} << 32;
  const __m128i scale_bytes = _mm_cvtsi64_si128(static_cast<int64_t>(scale_words));
  const __m128i min_bytes = _mm_cvtsi64_si128(static_cast<int64_t>(min_words));
  return {_mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scale_bytes)),
          _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(min_bytes, min_bytes))};
}

// Register-blocked dot products of kRows Q4_K or Q5_K weight rows w[r] with kTokens
// activation rows a[t]: out[t * out_stride + r]. Each sub-block's weight levels are
// unpacked once for the kTokens rows and each activation load serves the kRows rows.
// The integer sums of a super-block stay in 8 int32 lanes (exact), are scaled in F32
// lanes and accumulated there (fused multiply-add), and the lanes are summed once at the
// end: no horizontal reduction per super-block. Every (row, token) pair gets the same
// arithmetic whatever kRows and kTokens, so results do not depend on the blocking.
template <class Block, size_t kRows, size_t kTokens>
HWY_INLINE void dot_k4(const uint8_t* const* w, const uint8_t* const* a, size_t n, float* out,
                       size_t out_stride) {
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  __m256 acc[kRows][kTokens];
  for (size_t r = 0; r < kRows; ++r) {
    for (size_t t = 0; t < kTokens; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const uint8_t* qs[kRows];
    __m256 d[kRows], dmin[kRows];  // the F16 scales in 8 F32 lanes
    __m256i scales[kRows];         // the 8 sub-block scales as int16, in both 128-bit halves
    __m256i min_lanes[kRows];      // sub-block j's minimum in lanes 2j, 2j + 1: [16] int16
    __m256i high_bits[kRows];      // Q5_K: bit j of byte l is bit 4 of element 32j + l
#pragma GCC unroll 2
    for (size_t r = 0; r < kRows; ++r) {
      const uint8_t* x = w[r] + b * sizeof(Block);
      prefetch_ahead(x, sizeof(Block));
      d[r] = _mm256_set1_ps(load_f16(x + offsetof(Block, d)));
      dmin[r] = _mm256_set1_ps(load_f16(x + offsetof(Block, dmin)));
      qs[r] = x + offsetof(Block, qs);
      if constexpr (sizeof(Block) == sizeof(BlockQ5_K)) {
        high_bits[r] = load(x + offsetof(BlockQ5_K, qh));
      }
      const K4Scales unpacked = unpack_k4_scales(x + offsetof(Block, scales));
      scales[r] = unpacked.scales;
      min_lanes[r] = unpacked.min_lanes;
    }
    __m256i sumi[kRows][kTokens];
    for (size_t r = 0; r < kRows; ++r) {
      for (size_t t = 0; t < kTokens; ++t) sumi[r][t] = _mm256_setzero_si256();
    }
    // Sub-block j = 2g + half: the low (half 0) or high (half 1) nibbles of bytes 32g ...
    // The inner loops are unrolled so that levels and sums stay in registers (-O2 keeps
    // loops rolled, and a rolled loop indexes these arrays in memory); the loop over g
    // stays rolled for several tokens, which keeps the compiler from scheduling all 8
    // sub-blocks' loads at once and spilling.
    // Bytes 2j, 2j + 1 (int16 word j) in every word: sub-block j's scale in 16 lanes.
    __m256i pick = _mm256_set1_epi16(0x0100);
    const __m256i next_word = _mm256_set1_epi16(0x0202);
    // Sub-blocks 2g and 2g + 1.
    const auto sub_block_pair = [&](int g) HWY_ATTR {
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        const int j = 2 * g + half;
        __m256i levels[kRows], scale[kRows];
#pragma GCC unroll 2
        for (size_t r = 0; r < kRows; ++r) {
          const __m256i q = load(qs[r] + 32 * g);
          __m256i level = half == 0 ? _mm256_and_si256(q, low_mask)
                                    : _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
          if constexpr (sizeof(Block) == sizeof(BlockQ5_K)) {
            const __m256i mask = _mm256_set1_epi8(static_cast<char>(1 << j));
            const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(high_bits[r], mask), mask);
            level = _mm256_or_si256(level, _mm256_and_si256(set, bit4));
          }
          levels[r] = level;
          scale[r] = _mm256_shuffle_epi8(scales[r], pick);
        }
        pick = _mm256_add_epi16(pick, next_word);
#pragma GCC unroll 4
        for (size_t t = 0; t < kTokens; ++t) {
          const __m256i y = load(a[t] + b * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, qs) +
                                 32 * static_cast<size_t>(j));
#pragma GCC unroll 2
          for (size_t r = 0; r < kRows; ++r) {
            sumi[r][t] = _mm256_add_epi32(sumi[r][t], scaled_dot(levels[r], y, scale[r]));
            settle(sumi[r][t]);
          }
        }
      }
    };
    // A single token has few sums live: there the loop unrolls, which measured faster.
    if constexpr (kTokens == 1) {
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) sub_block_pair(g);
    } else {
#pragma GCC unroll 1
      for (int g = 0; g < 4; ++g) sub_block_pair(g);
    }
#pragma GCC unroll 4
    for (size_t t = 0; t < kTokens; ++t) {
      const uint8_t* y = a[t] + b * sizeof(BlockQ8_K);
      const __m256i bsums = load(y + offsetof(BlockQ8_K, bsums));
      const __m256 y_d = activation_scale(a[t], b);
#pragma GCC unroll 2
      for (size_t r = 0; r < kRows; ++r) {
        // sum over sub-blocks of min * (sum of its 32 activations), in 8 int32 lanes.
        const __m256i min_sum = _mm256_madd_epi16(bsums, min_lanes[r]);
        __m256 sum = acc[r][t];
        sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[r][t]), _mm256_mul_ps(d[r], y_d), sum);
        acc[r][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(min_sum), _mm256_mul_ps(dmin[r], y_d), sum);
      }
    }
  }
  for (size_t r = 0; r < kRows; ++r) {
    store_sums<kTokens>(acc[r], out + r, out_stride);
  }
}

// [lane total of v[0], ..., lane total of v[7]] (integer sums: exact in any order).
HWY_INLINE __m256i lane_totals(const __m256i* v) {
  // Per 128-bit half: [v0 02, v1 02, v0 13, v1 13] for each pair of vectors...
  const auto pairs = [](__m256i x, __m256i y) HWY_ATTR {
    return _mm256_add_epi32(_mm256_unpacklo_epi32(x, y), _mm256_unpackhi_epi32(x, y));
  };
  // ... then [v0, v1, v2, v3] half-totals for each four.
  const auto quads = [](__m256i x, __m256i y) HWY_ATTR {
    return _mm256_add_epi32(_mm256_unpacklo_epi64(x, y), _mm256_unpackhi_epi64(x, y));
  };
  const __m256i h0123 = quads(pairs(v[0], v[1]), pairs(v[2], v[3]));
  const __m256i h4567 = quads(pairs(v[4], v[5]), pairs(v[6], v[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20),
                          _mm256_permute2x128_si256(h0123, h4567, 0x31));
}

// The F16 values at block_rows[i] + offset for i in kI (the scales of Q8_0 or K-quant
// blocks), in F32 lanes i (the other lanes 0). The lane of the insertion must be a constant.
template <size_t... kI>
HWY_INLINE __m256 f16_lanes(const uint8_t* const* block_rows, size_t offset,
                            std::index_sequence<kI...>) {
  const auto bits = [&](size_t i) HWY_ATTR {
    int16_t v;
    std::memcpy(&v, block_rows[i] + offset, sizeof(v));
    return v;
  };
  __m128i packed = _mm_setzero_si128();
  ((packed = _mm_insert_epi16(packed, bits(kI), static_cast<int>(kI))), ...);
  return _mm256_cvtph_ps(packed);
}

// As settle for integers: here a multiplication before it cannot be fused with an
// addition after it (the scalar kernel rounds both).
HWY_INLINE void settle(__m256& v) { asm("" : "+v"(v)); }

// Register-blocked dot products of kRows Q8_0 weight rows with kTokens Q8_0 activation
// rows (kRows * kTokens <= 8): out[t * out_stride + r], equal to the scalar kernel's
// exactly. Pair p = r * kTokens + t owns F32 lane p of one accumulator: block by block,
// the 8 pairs' integer sums (byte multiply-adds in 8 int32 lanes each) are reduced
// together into their lanes, scaled by d_w * d_a there and added, so every lane sums its
// pair's terms in block order with the scalar kernel's two roundings per block.
template <size_t kRows, size_t kTokens>
HWY_INLINE void dot_q8_0(const uint8_t* const* w, const uint8_t* const* a, size_t n, float* out,
                         size_t out_stride) {
  constexpr size_t kPairs = kRows * kTokens;
  static_assert(kPairs <= 8, "one F32 lane per pair");
  const size_t blocks = n / kLegacyBlock;
  // The same place kRows rows ahead: where the next call of a tile reads (rows of a
  // matrix follow each other in memory; prefetches within these rows would come late).
  const size_t prefetch_bytes = kRows * blocks * sizeof(BlockQ8_0);
  // Lane p's row and token scale: lane p / kTokens of the row scales, p % kTokens of the
  // token scales.
  alignas(32) int32_t row_lane[8] = {}, token_lane[8] = {};
  for (size_t p = 0; p < kPairs; ++p) {
    row_lane[p] = static_cast<int32_t>(p / kTokens);
    token_lane[p] = static_cast<int32_t>(p % kTokens);
  }
  const __m256i row_of_lane = _mm256_load_si256(reinterpret_cast<const __m256i*>(row_lane));
  const __m256i token_of_lane = _mm256_load_si256(reinterpret_cast<const __m256i*>(token_lane));
  __m256 sum = _mm256_setzero_ps();
  for (size_t b = 0; b < blocks; ++b) {
    const size_t offset = b * sizeof(BlockQ8_0);
    __m256i activations[kTokens];
#pragma GCC unroll 8
    for (size_t t = 0; t < kTokens; ++t) activations[t] = load(a[t] + offset + 2);
    __m256i pair_sums[8];
#pragma GCC unroll 8
    for (size_t r = 0; r < kRows; ++r) {
      const uint8_t* x = w[r] + offset;
      _mm_prefetch(reinterpret_cast<const char*>(x + prefetch_bytes), _MM_HINT_T0);
      const __m256i levels = load(x + 2);
      const __m256i magnitudes = _mm256_abs_epi8(levels);
#pragma GCC unroll 8
      for (size_t t = 0; t < kTokens; ++t) {
        pair_sums[r * kTokens + t] =
            add_signed_byte_dots(_mm256_setzero_si256(), magnitudes, levels, activations[t]);
      }
    }
    for (size_t p = kPairs; p < 8; ++p) pair_sums[p] = _mm256_setzero_si256();
    __m256 d_w = f16_lanes(w, offset, std::make_index_sequence<kRows>());
    __m256 d_a = f16_lanes(a, offset, std::make_index_sequence<kTokens>());
    // With one token the rows' scales are already in pair order.
    if constexpr (kTokens > 1) d_w = _mm256_permutevar8x32_ps(d_w, row_of_lane);
    d_a = _mm256_permutevar8x32_ps(d_a, token_of_lane);
    __m256 terms =
        _mm256_mul_ps(_mm256_cvtepi32_ps(lane_totals(pair_sums)), _mm256_mul_ps(d_w, d_a));
    settle(terms);
    sum = _mm256_add_ps(sum, terms);
  }
  alignas(32) float sums[8];
  _mm256_store_ps(sums, sum);
  for (size_t r = 0; r < kRows; ++r) {
    for (size_t t = 0; t < kTokens; ++t) out[t * out_stride + r] = sums[r * kTokens + t];
  }
}

// One weight row with one activation row, in the signature of the portable kernels.
template <class Kernel>
HWY_INLINE float one_token(const Kernel& kernel, const void* w, const void* a, size_t n) {
  const auto* row = static_cast<const uint8_t*>(w);
  const auto* activations = static_cast<const uint8_t*>(a);
  float out;
  kernel(&row, &activations, n, &out, 1);
  return out;
}

HWY_INLINE float dot_q5_k(const void* w, const void* a, size_t n) {
  return one_token(dot_k4<BlockQ5_K, 1, 1>, w, a, n);
}

}  // namespace tandem::quant::HWY_NAMESPACE::avx2
HWY_AFTER_NAMESPACE();
#endif  // TANDEM_AVX2_KERNELS
