// AVX2 kernels of Q4_K x Q8_K products, included by vec_dot_simd.cpp after
// vec_dot_avx2-inl.h once per Highway target (no include guard, as Highway's -inl.h
// convention), compiled where TANDEM_AVX2_KERNELS is 1.
//
// Every path gives each (row, token) pair the same arithmetic, so that a product does not
// depend on how many tokens or rows run together: per super-block b, two exact integer
// totals, S = sum over sub-blocks j of scale_j * (levels . activations of j) and
// M = sum over j of min_j * (sum of j's activations), then
//   acc = fma(float(S), d_b * y_b, acc);  acc = fma(-float(M), dmin_b * y_b, acc)
// in super-block order, where d_b, dmin_b are the weight row's F16 scales and y_b the
// activation row's F32 scale. Two layouts reach those totals:
// - a tile of up to 8 (row, token) pairs (dot_q4_k_pairs) multiplies a row's 32 bytes of
//   levels at a time and reduces the pairs' lanes together per super-block; decode and
//   products of up to 3 tokens run it;
// - a panel (dot_q4_k_panels) first copies 8 weight rows into a layout with the rows in
//   the 8 32-bit lanes of a vector (Q4KPanelBlock), so that one vpmaddubsw serves 4
//   elements of each of the 8 rows; a sub-block's 8 products per token add up in int16
//   (8 * 2 * 15 * 127 < 2^15) before its scale is applied once, and the float work of a
//   super-block is one vector per token for the 8 rows. Products of 4 tokens or more
//   (prefill, batched decode) copy each panel once and run all their tokens over it.

#if TANDEM_AVX2_KERNELS
HWY_BEFORE_NAMESPACE();
namespace tandem::quant::HWY_NAMESPACE::avx2 {

// [p / kTokens] (rows) or [p % kTokens] (tokens) in lane p: the row or token of pair p
// of a tile of kTokens tokens.
template <size_t kTokens>
HWY_INLINE __m256i pair_lane_map(bool rows) {
  alignas(32) int32_t lanes[8];
  for (size_t p = 0; p < 8; ++p) {
    lanes[p] = static_cast<int32_t>(rows ? std::min<size_t>(7, p / kTokens) : p % kTokens);
  }
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
}

// The F32 values at rows[i] + offset for i in kI, in lanes i (the other lanes 0).
template <size_t... kI>
HWY_INLINE __m256 f32_lanes(const uint8_t* const* rows, size_t offset, std::index_sequence<kI...>) {
  float v[8] = {};
  const auto value = [&](size_t i) HWY_ATTR {
    float x;
    std::memcpy(&x, rows[i] + offset, sizeof(x));
    return x;
  };
  ((v[kI] = value(kI)), ...);
  return _mm256_setr_ps(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

// acc = fma(totals, d * y_d, acc), then fma(-min_totals, dmin * y_d, acc): the float
// work of one super-block, lane by lane.
HWY_INLINE __m256 add_q4_k_block(__m256 acc, __m256i totals, __m256i min_totals, __m256 d,
                                 __m256 dmin, __m256 y_d) {
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(totals), _mm256_mul_ps(d, y_d), acc);
  return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(min_totals), _mm256_mul_ps(dmin, y_d), acc);
}

// Dot products of kRows Q4_K rows w[r] with kTokens Q8_K rows a[t] (kRows * kTokens <= 8):
// out[t * out_stride + r]. Pair p = r * kTokens + t owns F32 lane p: per super-block, each
// pair's integer sums are taken in 8 int32 lanes over the row's levels, 32 bytes at a
// time, then the pairs' lanes are reduced together into their lanes (lane_totals).
template <size_t kRows, size_t kTokens>
HWY_INLINE void dot_q4_k_pairs(const uint8_t* const* w, const uint8_t* const* a, size_t n,
                               float* out, size_t out_stride) {
  constexpr size_t kPairs = kRows * kTokens;
  static_assert(kPairs <= 8, "one F32 lane per pair");
  const size_t blocks = n / kSuperBlock;
  // The same block kRows rows ahead, where the next tile reads (rows of a matrix follow
  // each other in memory).
  const size_t prefetch_bytes = kRows * blocks * sizeof(BlockQ4_K);
  const __m256i row_of_lane = pair_lane_map<kTokens>(true);
  const __m256i token_of_lane = pair_lane_map<kTokens>(false);
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  for (size_t b = 0; b < blocks; ++b) {
    const uint8_t* x[kRows];
    const uint8_t* y[kTokens];
    for (size_t t = 0; t < kTokens; ++t) y[t] = a[t] + b * sizeof(BlockQ8_K);
    __m256i scale_sums[8], min_sums[8];
    for (size_t r = 0; r < kRows; ++r) {
      x[r] = w[r] + b * sizeof(BlockQ4_K);
      const auto* ahead = reinterpret_cast<const char*>(x[r] + prefetch_bytes);
      for (size_t line = 0; line < sizeof(BlockQ4_K); line += 64) {
        _mm_prefetch(ahead + line, _MM_HINT_T0);
      }
      const K4Scales unpacked = unpack_k4_scales(x[r] + offsetof(BlockQ4_K, scales));
      const uint8_t* qs = x[r] + offsetof(BlockQ4_K, qs);
      __m256i sums[kTokens];
      for (size_t t = 0; t < kTokens; ++t) sums[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        // Sub-blocks 2g (low nibbles) and 2g + 1 (high nibbles) of bytes 32g ...
        const __m256i q = load(qs + 32 * g);
        const __m256i low = _mm256_and_si256(q, low_mask);
        const __m256i high = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
        const __m256i scale_low = _mm256_shuffle_epi8(
            unpacked.scales, _mm256_set1_epi16(static_cast<int16_t>(((4 * g + 1) << 8) | (4 * g))));
        const __m256i scale_high = _mm256_shuffle_epi8(
            unpacked.scales,
            _mm256_set1_epi16(static_cast<int16_t>(((4 * g + 3) << 8) | (4 * g + 2))));
#pragma GCC unroll 4
        for (size_t t = 0; t < kTokens; ++t) {
          const uint8_t* yq = y[t] + offsetof(BlockQ8_K, qs) + 64 * g;
          const __m256i sum_low = scaled_dot(low, load(yq), scale_low);
          const __m256i sum_high = scaled_dot(high, load(yq + 32), scale_high);
          sums[t] = _mm256_add_epi32(sums[t], _mm256_add_epi32(sum_low, sum_high));
          settle(sums[t]);
        }
      }
#pragma GCC unroll 4
      for (size_t t = 0; t < kTokens; ++t) {
        scale_sums[r * kTokens + t] = sums[t];
        min_sums[r * kTokens + t] =
            _mm256_madd_epi16(load(y[t] + offsetof(BlockQ8_K, bsums)), unpacked.min_lanes);
      }
    }
    for (size_t p = kPairs; p < 8; ++p) {
      scale_sums[p] = _mm256_setzero_si256();
      min_sums[p] = _mm256_setzero_si256();
    }
    __m256 d = f16_lanes(x, offsetof(BlockQ4_K, d), std::make_index_sequence<kRows>());
    __m256 dmin = f16_lanes(x, offsetof(BlockQ4_K, dmin), std::make_index_sequence<kRows>());
    __m256 y_d = f32_lanes(y, offsetof(BlockQ8_K, d), std::make_index_sequence<kTokens>());
    // With one token the rows are already in pair order, with one row the tokens.
    if constexpr (kTokens > 1) {
      d = _mm256_permutevar8x32_ps(d, row_of_lane);
      dmin = _mm256_permutevar8x32_ps(dmin, row_of_lane);
    }
    if constexpr (kRows > 1) y_d = _mm256_permutevar8x32_ps(y_d, token_of_lane);
    acc = add_q4_k_block(acc, lane_totals(scale_sums), lane_totals(min_sums), d, dmin, y_d);
  }
  alignas(32) float sums[8];
  _mm256_store_ps(sums, acc);
  for (size_t r = 0; r < kRows; ++r) {
    for (size_t t = 0; t < kTokens; ++t) out[t * out_stride + r] = sums[r * kTokens + t];
  }
}

// One Q4_K row w[0] with kTokens Q8_K rows a[t] (kTokens 2 to 4, or 8): out[t * out_stride].
// Per super-block, each token's scaled sums and minimum sums are taken in 8 int32 lanes
// (a 32-byte load of levels serves two sub-blocks for every token), then reduced together:
// the tokens' totals land in lanes t of S and M, and the float work runs with the tokens
// in lanes.
template <size_t kTokens>
HWY_INLINE void dot_q4_k_row(const uint8_t* w, const uint8_t* const* a, size_t n, float* out,
                             size_t out_stride) {
  static_assert((kTokens >= 2 && kTokens <= 4) || kTokens == 8, "tokens per row");
  constexpr size_t kVectors = kTokens == 8 ? 16 : 8;  // sums then minimum sums (lanes 4+)
  constexpr size_t kMinFirst = kTokens == 8 ? 8 : 4;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const uint8_t* x = w + b * sizeof(BlockQ4_K);
    prefetch_ahead(x, sizeof(BlockQ4_K));
    const uint8_t* y[kTokens];
    for (size_t t = 0; t < kTokens; ++t) y[t] = a[t] + b * sizeof(BlockQ8_K);
    const K4Scales unpacked = unpack_k4_scales(x + offsetof(BlockQ4_K, scales));
    const uint8_t* qs = x + offsetof(BlockQ4_K, qs);
    __m256i sums[kTokens];
#pragma GCC unroll 8
    for (size_t t = 0; t < kTokens; ++t) sums[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
      const __m256i q = load(qs + 32 * g);
      const __m256i low = _mm256_and_si256(q, low_mask);
      const __m256i high = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
      const __m256i scale_low = _mm256_shuffle_epi8(
          unpacked.scales, _mm256_set1_epi16(static_cast<int16_t>(((4 * g + 1) << 8) | (4 * g))));
      const __m256i scale_high = _mm256_shuffle_epi8(
          unpacked.scales,
          _mm256_set1_epi16(static_cast<int16_t>(((4 * g + 3) << 8) | (4 * g + 2))));
#pragma GCC unroll 8
      for (size_t t = 0; t < kTokens; ++t) {
        const uint8_t* yq = y[t] + offsetof(BlockQ8_K, qs) + 64 * g;
        const __m256i sum_low = scaled_dot(low, load(yq), scale_low);
        const __m256i sum_high = scaled_dot(high, load(yq + 32), scale_high);
        sums[t] = _mm256_add_epi32(sums[t], _mm256_add_epi32(sum_low, sum_high));
        settle(sums[t]);
      }
    }
    __m256i v[kVectors];
#pragma GCC unroll 8
    for (size_t t = 0; t < kMinFirst; ++t) {
      v[t] = t < kTokens ? sums[t] : _mm256_setzero_si256();
      v[kMinFirst + t] = t < kTokens ? _mm256_madd_epi16(load(y[t] + offsetof(BlockQ8_K, bsums)),
                                                         unpacked.min_lanes)
                                     : _mm256_setzero_si256();
    }
    const __m256 d = _mm256_set1_ps(load_f16(x + offsetof(BlockQ4_K, d)));
    const __m256 dmin = _mm256_set1_ps(load_f16(x + offsetof(BlockQ4_K, dmin)));
    if constexpr (kTokens == 8) {
      const __m256 y_d = f32_lanes(y, offsetof(BlockQ8_K, d), std::make_index_sequence<8>());
      acc = add_q4_k_block(acc, lane_totals(v), lane_totals(v + 8), d, dmin, y_d);
    } else {
      const __m256i totals = lane_totals(v);  // [S of tokens 0-3 | M of tokens 0-3]
      const __m256i min_totals = _mm256_permute2x128_si256(totals, totals, 0x01);
      const __m256 y_d = f32_lanes(y, offsetof(BlockQ8_K, d), std::make_index_sequence<kTokens>());
      acc = add_q4_k_block(acc, totals, min_totals, d, dmin, y_d);
    }
  }
  alignas(32) float sums[8];
  _mm256_store_ps(sums, acc);
  for (size_t t = 0; t < kTokens; ++t) out[t * out_stride] = sums[t];
}

// One super-block of 8 Q4_K rows with the rows in the 8 32-bit lanes of each vector.
constexpr size_t kPanelRows = 8;
struct alignas(32) Q4KPanelBlock {
  // [sub-block j][i][4 r + e]: the level (0-15) of element 32 j + 4 i + e of row r.
  uint8_t levels[8][8][32];
  // [j][2 r] and [j][2 r + 1]: row r's scale of sub-block j (int16 pairs for vpmaddwd).
  int16_t scales[8][16];
  // [p][2 r + h]: row r's minimum of sub-block 2 p + h.
  int16_t mins[4][16];
  float d[kPanelRows];
  float dmin[kPanelRows];
};

// A vpshufb control that takes bytes `first` and `second` of each 32-bit lane into its
// two int16 words, zero-extended (control bytes with the top bit set give zero).
HWY_INLINE __m256i lane_byte_pick(int first, int second) {
  const __m256i lane_base = _mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0C0C0C0C, 0, 0x04040404,
                                              0x08080808, 0x0C0C0C0C);
  return _mm256_add_epi8(_mm256_set1_epi32(first | 0x80 << 8 | second << 16 | 0x80 << 24),
                         lane_base);
}

// Word k (bytes 4k .. 4k + 3) at x[r] + offset, in 32-bit lane r.
HWY_INLINE __m256i row_words(const uint8_t* const* x, size_t offset) {
  uint32_t v[kPanelRows];
  for (size_t r = 0; r < kPanelRows; ++r) std::memcpy(&v[r], x[r] + offset, sizeof(uint32_t));
  return _mm256_setr_epi32(static_cast<int32_t>(v[0]), static_cast<int32_t>(v[1]),
                           static_cast<int32_t>(v[2]), static_cast<int32_t>(v[3]),
                           static_cast<int32_t>(v[4]), static_cast<int32_t>(v[5]),
                           static_cast<int32_t>(v[6]), static_cast<int32_t>(v[7]));
}

// Copies super-block `block` of the 8 rows w[r] into `out`, and prefetches the same block
// of the 8 rows after them (rows_ahead_bytes further on).
HWY_INLINE void pack_q4_k_panel(const uint8_t* const* w, size_t block, size_t rows_ahead_bytes,
                                Q4KPanelBlock& out) {
  const uint8_t* x[kPanelRows];
  for (size_t r = 0; r < kPanelRows; ++r) {
    x[r] = w[r] + block * sizeof(BlockQ4_K);
    const auto* ahead = reinterpret_cast<const char*>(x[r] + rows_ahead_bytes);
    for (size_t line = 0; line < sizeof(BlockQ4_K); line += 64) {
      _mm_prefetch(ahead + line, _MM_HINT_T0);
    }
  }
  // The 6-bit scales and minimums of the 8 rows at once, as unpack_k4_scales: byte j of
  // lane r of scale_low / scale_high is row r's scale of sub-block j / 4 + j; the same for
  // the minimums.
  const size_t scales = offsetof(BlockQ4_K, scales);
  const __m256i p0 = row_words(x, scales);
  const __m256i p1 = row_words(x, scales + 4);
  const __m256i p2 = row_words(x, scales + 8);
  const __m256i six_bits = _mm256_set1_epi8(0x3F);
  const __m256i four_bits = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x03);
  const auto top_bits = [&](__m256i p) HWY_ATTR {
    return _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(p, 6), two_bits), 4);
  };
  const __m256i scale_low = _mm256_and_si256(p0, six_bits);
  const __m256i scale_high = _mm256_or_si256(_mm256_and_si256(p2, four_bits), top_bits(p0));
  const __m256i min_low = _mm256_and_si256(p1, six_bits);
  const __m256i min_high =
      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(p2, 4), four_bits), top_bits(p1));
  for (int j = 0; j < 8; ++j) {
    const __m256i source = j < 4 ? scale_low : scale_high;
    _mm256_store_si256(reinterpret_cast<__m256i*>(out.scales[j]),
                       _mm256_shuffle_epi8(source, lane_byte_pick(j % 4, j % 4)));
  }
  for (int p = 0; p < 4; ++p) {
    const __m256i source = p < 2 ? min_low : min_high;
    _mm256_store_si256(reinterpret_cast<__m256i*>(out.mins[p]),
                       _mm256_shuffle_epi8(source, lane_byte_pick(2 * (p % 2), 2 * (p % 2) + 1)));
  }
  const auto rows = std::make_index_sequence<kPanelRows>();
  _mm256_store_ps(out.d, f16_lanes(x, offsetof(BlockQ4_K, d), rows));
  _mm256_store_ps(out.dmin, f16_lanes(x, offsetof(BlockQ4_K, dmin), rows));

  // Levels: bytes 32g .. 32g + 31 of the 8 rows as an 8 x 8 transpose of 32-bit words
  // (word i of row r to lane r of vector i), then split into low and high nibbles.
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  for (int g = 0; g < 4; ++g) {
    __m256i q[kPanelRows];
    for (size_t r = 0; r < kPanelRows; ++r) q[r] = load(x[r] + offsetof(BlockQ4_K, qs) + 32 * g);
    __m256i pairs[kPanelRows];  // [words 0, 1 | 4, 5] and [2, 3 | 6, 7] of rows 2k, 2k + 1
    for (size_t k = 0; k < 4; ++k) {
      pairs[2 * k] = _mm256_unpacklo_epi32(q[2 * k], q[2 * k + 1]);
      pairs[2 * k + 1] = _mm256_unpackhi_epi32(q[2 * k], q[2 * k + 1]);
    }
    // quads[h][i]: word i (i < 4) and word i + 4 of rows 4h .. 4h + 3.
    __m256i quads[2][4];
    for (size_t h = 0; h < 2; ++h) {
      const __m256i* p = pairs + 4 * h;
      quads[h][0] = _mm256_unpacklo_epi64(p[0], p[2]);
      quads[h][1] = _mm256_unpackhi_epi64(p[0], p[2]);
      quads[h][2] = _mm256_unpacklo_epi64(p[1], p[3]);
      quads[h][3] = _mm256_unpackhi_epi64(p[1], p[3]);
    }
    for (size_t i = 0; i < 4; ++i) {
      const __m256i words[2] = {_mm256_permute2x128_si256(quads[0][i], quads[1][i], 0x20),
                                _mm256_permute2x128_si256(quads[0][i], quads[1][i], 0x31)};
      for (size_t half = 0; half < 2; ++half) {
        const size_t word = i + 4 * half;
        _mm256_store_si256(reinterpret_cast<__m256i*>(out.levels[2 * g][word]),
                           _mm256_and_si256(words[half], low_mask));
        _mm256_store_si256(reinterpret_cast<__m256i*>(out.levels[2 * g + 1][word]),
                           _mm256_and_si256(_mm256_srli_epi16(words[half], 4), low_mask));
      }
    }
  }
}

// The 8 rows of panel blocks [0, blocks) (super-blocks first_block ...) with the kTokens
// Q8_K rows a[t]: acc[t] lane r accumulates row r's product with token t.
template <size_t kTokens>
HWY_INLINE void dot_q4_k_panel(const Q4KPanelBlock* panel, size_t blocks, size_t first_block,
                               const uint8_t* const* a, __m256* acc) {
  // Lanes of the sub-block sums packed to int16: the 32-bit word holding sub-blocks 2p and
  // 2p + 1 is word p of the lower half (p < 2) or word p - 2 of the upper half.
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t b = 0; b < blocks; ++b) {
    const Q4KPanelBlock& p = panel[b];
    const uint8_t* y[kTokens];
    for (size_t t = 0; t < kTokens; ++t) y[t] = a[t] + (first_block + b) * sizeof(BlockQ8_K);
    __m256i sums[kTokens];
    for (size_t t = 0; t < kTokens; ++t) sums[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    for (int j = 0; j < 8; ++j) {
      __m256i products[kTokens];  // int16 pairs, summed over the sub-block's 8 groups
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m256i levels = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.levels[j][i]));
#pragma GCC unroll 4
        for (size_t t = 0; t < kTokens; ++t) {
          int32_t four;
          std::memcpy(&four, y[t] + offsetof(BlockQ8_K, qs) + 32 * j + 4 * i, sizeof(four));
          const __m256i product = _mm256_maddubs_epi16(levels, _mm256_set1_epi32(four));
          products[t] = i == 0 ? product : _mm256_add_epi16(products[t], product);
          settle(products[t]);
        }
      }
      const __m256i scale = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.scales[j]));
#pragma GCC unroll 4
      for (size_t t = 0; t < kTokens; ++t) {
        sums[t] = _mm256_add_epi32(sums[t], _mm256_madd_epi16(products[t], scale));
        settle(sums[t]);
      }
    }
    const __m256 d = _mm256_load_ps(p.d);
    const __m256 dmin = _mm256_load_ps(p.dmin);
#pragma GCC unroll 4
    for (size_t t = 0; t < kTokens; ++t) {
      // Sub-block sums of the activations (Q8_K's 16-element sums in pairs), as int16.
      const __m256i sub_sums = _mm256_madd_epi16(load(y[t] + offsetof(BlockQ8_K, bsums)), ones);
      const __m256i packed = _mm256_packs_epi32(sub_sums, sub_sums);
      __m256i min_totals = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m256i pair =
            _mm256_permutevar8x32_epi32(packed, _mm256_set1_epi32(k < 2 ? k : k + 2));
        const __m256i mins = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.mins[k]));
        min_totals = _mm256_add_epi32(min_totals, _mm256_madd_epi16(mins, pair));
      }
      float y_d;
      std::memcpy(&y_d, y[t] + offsetof(BlockQ8_K, d), sizeof(y_d));
      acc[t] = add_q4_k_block(acc[t], sums[t], min_totals, d, dmin, _mm256_set1_ps(y_d));
    }
  }
}

// Panel products of `rows` Q4_K rows w + r * w_stride with `tokens` Q8_K rows
// a + t * a_stride: out[t * out_stride + r]. Per 8 rows, super-blocks are copied into a
// panel kPanelBlocks at a time (20 KiB, in L1) and all the tokens run over them, 4 at a
// time; the float sums of each (row, token) carry over from chunk to chunk in `out`. A
// last panel of fewer rows repeats its last row and keeps only its own lanes.
HWY_INLINE void dot_q4_k_panels(const uint8_t* w, size_t w_stride, size_t rows, const uint8_t* a,
                                size_t a_stride, size_t tokens, size_t n, float* out,
                                size_t out_stride) {
  constexpr size_t kPanelBlocks = 8;
  constexpr size_t kTokenGroup = 4;
  Q4KPanelBlock panel[kPanelBlocks];
  const size_t blocks = n / kSuperBlock;
  for (size_t r0 = 0; r0 < rows; r0 += kPanelRows) {
    const size_t count = std::min(kPanelRows, rows - r0);
    const uint8_t* row_starts[kPanelRows];
    alignas(32) int32_t lane_mask[kPanelRows];
    for (size_t r = 0; r < kPanelRows; ++r) {
      row_starts[r] = w + (r0 + std::min(r, count - 1)) * w_stride;
      lane_mask[r] = r < count ? -1 : 0;
    }
    const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lane_mask));
    for (size_t c0 = 0; c0 < blocks; c0 += kPanelBlocks) {
      const size_t chunk = std::min(kPanelBlocks, blocks - c0);
      for (size_t b = 0; b < chunk; ++b) {
        pack_q4_k_panel(row_starts, c0 + b, kPanelRows * w_stride, panel[b]);
      }
      for (size_t t0 = 0; t0 < tokens; t0 += kTokenGroup) {
        const size_t group = std::min(kTokenGroup, tokens - t0);
        const uint8_t* token_rows[kTokenGroup];
        __m256 acc[kTokenGroup];
        for (size_t t = 0; t < group; ++t) {
          token_rows[t] = a + (t0 + t) * a_stride;
          float* o = out + (t0 + t) * out_stride + r0;
          acc[t] = c0 == 0 ? _mm256_setzero_ps() : _mm256_maskload_ps(o, mask);
        }
        switch (group) {
          case 1:
            dot_q4_k_panel<1>(panel, chunk, c0, token_rows, acc);
            break;
          case 2:
            dot_q4_k_panel<2>(panel, chunk, c0, token_rows, acc);
            break;
          case 3:
            dot_q4_k_panel<3>(panel, chunk, c0, token_rows, acc);
            break;
          default:
            dot_q4_k_panel<4>(panel, chunk, c0, token_rows, acc);
            break;
        }
        for (size_t t = 0; t < group; ++t) {
          _mm256_maskstore_ps(out + (t0 + t) * out_stride + r0, mask, acc[t]);
        }
      }
    }
  }
}

// Tiles of pairs for rows [0, rows) with kTokens tokens: blocks of kRows rows, then the
// rows left one at a time.
template <size_t kRows, size_t kTokens>
HWY_INLINE void dot_q4_k_pair_rows(const uint8_t* w, size_t w_stride, size_t rows,
                                   const uint8_t* const* a, size_t n, float* out,
                                   size_t out_stride) {
  size_t r = 0;
  for (; r + kRows <= rows; r += kRows) {
    const uint8_t* block_rows[kRows];
    for (size_t i = 0; i < kRows; ++i) block_rows[i] = w + (r + i) * w_stride;
    dot_q4_k_pairs<kRows, kTokens>(block_rows, a, n, out + r, out_stride);
  }
  for (; r < rows; ++r) {
    const uint8_t* row = w + r * w_stride;
    dot_q4_k_pairs<1, kTokens>(&row, a, n, out + r, out_stride);
  }
}

// Rows one at a time with `tokens` (2 to 11) tokens, in groups of 8 and 4 and the rest.
HWY_INLINE void dot_q4_k_rows(const uint8_t* w, size_t w_stride, size_t rows,
                              const uint8_t* const* a, size_t tokens, size_t n, float* out,
                              size_t out_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = w + r * w_stride;
    size_t t = 0;
    for (; tokens - t >= 8; t += 8)
      dot_q4_k_row<8>(row, a + t, n, out + t * out_stride + r, out_stride);
    for (; tokens - t >= 4; t += 4)
      dot_q4_k_row<4>(row, a + t, n, out + t * out_stride + r, out_stride);
    float* o = out + t * out_stride + r;
    switch (tokens - t) {
      case 1:
        dot_q4_k_pairs<1, 1>(&row, a + t, n, o, out_stride);
        break;
      case 2:
        dot_q4_k_row<2>(row, a + t, n, o, out_stride);
        break;
      case 3:
        dot_q4_k_row<3>(row, a + t, n, o, out_stride);
        break;
      default:
        break;
    }
  }
}

// One token runs tiles of 8 rows, 2 to 11 tokens one row at a time, more on panels
// (measured: a panel's copy costs about as much as 12 tokens' products gain on it).
constexpr size_t kQ4KPanelMinTokens = 12;
constexpr size_t kQ4KRowMaxTokens = kQ4KPanelMinTokens - 1;
HWY_INLINE void dot_q4_k_tile(const uint8_t* w, size_t w_stride, size_t rows, const uint8_t* a,
                              size_t a_stride, size_t tokens, size_t n, float* out,
                              size_t out_stride) {
  if (tokens == 0) return;
  if (tokens >= kQ4KPanelMinTokens) {
    return dot_q4_k_panels(w, w_stride, rows, a, a_stride, tokens, n, out, out_stride);
  }
  const uint8_t* token_rows[kQ4KRowMaxTokens];
  for (size_t t = 0; t < tokens; ++t) token_rows[t] = a + t * a_stride;
  if (tokens == 1) {
    return dot_q4_k_pair_rows<8, 1>(w, w_stride, rows, token_rows, n, out, out_stride);
  }
  dot_q4_k_rows(w, w_stride, rows, token_rows, tokens, n, out, out_stride);
}

HWY_INLINE float dot_q4_k(const void* w, const void* a, size_t n) {
  const auto* row = static_cast<const uint8_t*>(w);
  const auto* activations = static_cast<const uint8_t*>(a);
  float out;
  dot_q4_k_pairs<1, 1>(&row, &activations, n, &out, 1);
  return out;
}

}  // namespace tandem::quant::HWY_NAMESPACE::avx2
HWY_AFTER_NAMESPACE();
#endif  // TANDEM_AVX2_KERNELS
