// Tiles of AVX2 K-quant x Q8_K products, shared by the Q4_K and Q6_K kernels
// (q4_k_avx2-inl.h, q6_k_avx2-inl.h), included by vec_dot_simd.cpp after
// vec_dot_avx2-inl.h once per Highway target (no include guard, as Highway's -inl.h
// convention), compiled where TANDEM_AVX2_KERNELS is 1.
//
// Every path gives each (row, token) pair the same arithmetic, so that a product does not
// depend on how many tokens or rows run together: per super-block b, exact integer totals
// (the format's scaled sum S, and for formats with minimums the minimum sum M), then
//   acc = fma(float(S), d_b * y_b, acc)  [then acc = fma(-float(M), dmin_b * y_b, acc)]
// in super-block order, where d_b, dmin_b are the weight row's F16 scales and y_b the
// activation row's F32 scale. Three layouts reach those totals:
// - dot_pairs: a tile of up to 8 (row, token) pairs; each row's sums are taken over its
//   levels 32 bytes at a time in 8 int32 lanes, then the pairs' lanes are reduced
//   together per super-block (lane_totals). One token runs it (decode), and so do two rows
//   of a format without minimums with up to 4 tokens.
// - dot_row: one row with 2 to 4 or 8 tokens, the same sums, the tokens' totals in lanes.
// - dot_panels: 8 weight rows are first copied into a panel with the rows in the 8 32-bit
//   lanes of each vector, so that one vpmaddubsw serves 4 elements of each of the 8 rows
//   and the products of a scale group add up in int16 before the scale is applied once;
//   the float work of a super-block is one vector per token for 8 rows. Products of many
//   tokens (prefill) copy each panel once and run all their tokens over it.
//
// A format F provides: kBlockBytes; kScaleOffset (its F16 d); kHasMin and kMinScaleOffset
// (its F16 dmin); kOneTokenRows (rows of a one-token tile); kPanelMinTokens (from where a
// panel's copy costs less than its products gain on it); row_sums<kTokens>(block,
// token_blocks, sums, mins): the 8-lane int32 sums of one weight block with each token's
// block (mins only where kHasMin); Panel, pack(rows, block, rows_ahead_bytes, panel) and
// panel_dot<kTokens>(panels, count, first_block, tokens, acc). A format with stored panels
// (ops/quant/panels.h) also provides kStoredBlockBytes, kExpandMinTokens, expand(block,
// panel) and stored_dot<kTokens>(blocks, count, first_block, tokens, acc).

#if TANDEM_AVX2_KERNELS
HWY_BEFORE_NAMESPACE();
namespace tandem::quant::HWY_NAMESPACE::avx2 {

// Tokens per pass over a panel: 8 where AVX-512 gives 32 vector registers (each token's
// products and sums stay in registers), else 4.
#if HWY_TARGET <= HWY_AVX3
inline constexpr size_t kPanelTokenGroup = 8;
#else
inline constexpr size_t kPanelTokenGroup = 4;
#endif

// fn(std::integral_constant<size_t, k>()) for k = count, 1 to kPanelTokenGroup tokens.
template <class Fn, size_t... kI>
HWY_INLINE void with_token_count(size_t count, const Fn& fn, std::index_sequence<kI...>) {
  (void)((count == kI + 1 && (fn(std::integral_constant<size_t, kI + 1>()), true)) || ...);
}
template <class Fn>
HWY_INLINE void with_token_count(size_t count, const Fn& fn) {
  with_token_count(std::clamp<size_t>(count, 1, kPanelTokenGroup), fn,
                   std::make_index_sequence<kPanelTokenGroup>());
}

// Tokens [t0, t0 + count) (count <= kPanelTokenGroup) of the rows a + t * a_stride over one
// group of 8 weight rows from r0: dot(k, token_rows, acc) with k the count as a constant
// (with_token_count), acc[t] starting from zero (`first`) or from out, and stored back to
// out + t * out_stride + r0.
template <class Dot>
HWY_INLINE void run_token_group(const uint8_t* a, size_t a_stride, size_t t0, size_t count,
                                bool first, float* out, size_t out_stride, size_t r0,
                                const Dot& dot) {
  const uint8_t* token_rows[kPanelTokenGroup];
  __m256 acc[kPanelTokenGroup];
  for (size_t t = 0; t < count; ++t) {
    token_rows[t] = a + (t0 + t) * a_stride;
    acc[t] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(out + (t0 + t) * out_stride + r0);
  }
  with_token_count(count, [&](auto k) HWY_ATTR { dot(k, token_rows, acc); });
  for (size_t t = 0; t < count; ++t) {
    _mm256_storeu_ps(out + (t0 + t) * out_stride + r0, acc[t]);
  }
}

#if TANDEM_VNNI_KERNELS
// One scale group of a panel block with kTokens tokens, by vpdpbusd: sums[t] +=
// scale * (start(t) + sum over k < kVectors of level vector level(k) times the 4
// activation bytes y[t] + offset + 4k in every lane); scale holds the group's scale of
// row r in int32 lane r, start(t) the int32 lanes the token's dot products start from.
template <size_t kTokens, int kVectors, class Level, class Start>
HWY_INLINE void add_group_dots(const Level& level, const Start& start, __m256i scale,
                               const uint8_t* const* y, size_t offset, __m256i* sums) {
  __m256i dots[kTokens];
  for_each_index<kTokens>([&](auto t) HWY_ATTR
                          __attribute__((always_inline)) { dots[t] = start(t); });
#pragma GCC unroll 8
  for (int k = 0; k < kVectors; ++k) {
    const __m256i levels = level(k);
    for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
      dots[t] = dot_broadcast_bytes(dots[t], levels, y[t] + offset + 4 * static_cast<size_t>(k));
    });
  }
  for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
    sums[t] = _mm256_add_epi32(sums[t], _mm256_mullo_epi32(dots[t], scale));
    settle(sums[t]);
  });
}
#endif

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

// The float step of one super-block, lane by lane (see the top of this file).
template <class F>
HWY_INLINE __m256 add_block(__m256 acc, __m256i totals, __m256i min_totals, __m256 d, __m256 dmin,
                            __m256 y_d) {
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(totals), _mm256_mul_ps(d, y_d), acc);
  if constexpr (F::kHasMin) {
    acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(min_totals), _mm256_mul_ps(dmin, y_d), acc);
  }
  return acc;
}

// The cache lines of [p, p + bytes) into L1 (kHint _MM_HINT_T0) or L2 (_MM_HINT_T1).
template <auto kHint = _MM_HINT_T0>
HWY_INLINE void prefetch_block(const uint8_t* p, size_t bytes) {
  for (size_t line = 0; line < bytes; line += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + line), kHint);
  }
}

// A stored-panel pass's stream: from F::kPrefetchMinTokens tokens, the block
// F::kPrefetchBlocks blocks after `block` into L2; with fewer tokens nothing (the hardware
// prefetcher keeps up).
template <class F, size_t kTokens>
HWY_INLINE void prefetch_stored_stream(const uint8_t* block) {
  if constexpr (kTokens >= F::kPrefetchMinTokens) {
    prefetch_block<_MM_HINT_T1>(block + F::kPrefetchBlocks * F::kStoredBlockBytes,
                                F::kStoredBlockBytes);
  }
}

// The 4 bytes at p in every 32-bit lane (one vpbroadcastd from memory).
HWY_INLINE __m256i broadcast_word(const uint8_t* p) {
  int32_t four;
  std::memcpy(&four, p, sizeof(four));
  return _mm256_set1_epi32(four);
}

// kRows rows w[r] with kTokens Q8_K rows a[t] (kRows * kTokens <= 8):
// out[t * out_stride + r]; pair p = r * kTokens + t owns F32 lane p.
template <class F, size_t kRows, size_t kTokens>
HWY_INLINE void dot_pairs(const uint8_t* const* w, const uint8_t* const* a, size_t n, float* out,
                          size_t out_stride) {
  constexpr size_t kPairs = kRows * kTokens;
  static_assert(kPairs <= 8, "one F32 lane per pair");
  const size_t blocks = n / kSuperBlock;
  // The same block kRows rows ahead, where the next tile reads (rows of a matrix follow
  // each other in memory).
  const size_t prefetch_bytes = kRows * blocks * F::kBlockBytes;
  const __m256i row_of_lane = pair_lane_map<kTokens>(true);
  const __m256i token_of_lane = pair_lane_map<kTokens>(false);
  __m256 acc = _mm256_setzero_ps();
  for (size_t b = 0; b < blocks; ++b) {
    const uint8_t* x[kRows];
    const uint8_t* y[kTokens];
    for (size_t t = 0; t < kTokens; ++t) y[t] = a[t] + b * sizeof(BlockQ8_K);
    __m256i scale_sums[8], min_sums[8];
    for (size_t r = 0; r < kRows; ++r) {
      x[r] = w[r] + b * F::kBlockBytes;
      prefetch_block(x[r] + prefetch_bytes, F::kBlockBytes);
      __m256i sums[kTokens], mins[kTokens];
      F::template row_sums<kTokens>(x[r], y, sums, mins);
#pragma GCC unroll 4
      for (size_t t = 0; t < kTokens; ++t) {
        scale_sums[r * kTokens + t] = sums[t];
        if constexpr (F::kHasMin) min_sums[r * kTokens + t] = mins[t];
      }
    }
    for (size_t p = kPairs; p < 8; ++p) {
      scale_sums[p] = _mm256_setzero_si256();
      if constexpr (F::kHasMin) min_sums[p] = _mm256_setzero_si256();
    }
    __m256 d = f16_lanes(x, F::kScaleOffset, std::make_index_sequence<kRows>());
    __m256 dmin = _mm256_setzero_ps();
    if constexpr (F::kHasMin) {
      dmin = f16_lanes(x, F::kMinScaleOffset, std::make_index_sequence<kRows>());
    }
    __m256 y_d = f32_lanes(y, offsetof(BlockQ8_K, d), std::make_index_sequence<kTokens>());
    // With one token the rows are already in pair order, with one row the tokens.
    if constexpr (kTokens > 1) {
      d = _mm256_permutevar8x32_ps(d, row_of_lane);
      if constexpr (F::kHasMin) dmin = _mm256_permutevar8x32_ps(dmin, row_of_lane);
    }
    if constexpr (kRows > 1) y_d = _mm256_permutevar8x32_ps(y_d, token_of_lane);
    const __m256i min_totals = F::kHasMin ? lane_totals(min_sums) : _mm256_setzero_si256();
    acc = add_block<F>(acc, lane_totals(scale_sums), min_totals, d, dmin, y_d);
  }
  alignas(32) float sums[8];
  _mm256_store_ps(sums, acc);
  for (size_t r = 0; r < kRows; ++r) {
    for (size_t t = 0; t < kTokens; ++t) out[t * out_stride + r] = sums[r * kTokens + t];
  }
}

// One row w with kTokens Q8_K rows a[t] (2 to 4, or 8): out[t * out_stride]. The tokens'
// sums and minimum sums are reduced together: totals in lanes t of S and M.
template <class F, size_t kTokens>
HWY_INLINE void dot_row(const uint8_t* w, const uint8_t* const* a, size_t n, float* out,
                        size_t out_stride) {
  static_assert((kTokens >= 2 && kTokens <= 4) || kTokens == 8, "tokens per row");
  constexpr size_t kSecond = kTokens == 8 ? 8 : 4;  // where the minimum sums start
  __m256 acc = _mm256_setzero_ps();
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const uint8_t* x = w + b * F::kBlockBytes;
    prefetch_ahead(x, F::kBlockBytes);
    const uint8_t* y[kTokens];
    for (size_t t = 0; t < kTokens; ++t) y[t] = a[t] + b * sizeof(BlockQ8_K);
    __m256i sums[kTokens], mins[kTokens];
    F::template row_sums<kTokens>(x, y, sums, mins);
    __m256i v[2 * kSecond];
#pragma GCC unroll 8
    for (size_t t = 0; t < kSecond; ++t) {
      v[t] = t < kTokens ? sums[t] : _mm256_setzero_si256();
      v[kSecond + t] = F::kHasMin && t < kTokens ? mins[t] : _mm256_setzero_si256();
    }
    const __m256 d = _mm256_set1_ps(load_f16(x + F::kScaleOffset));
    const __m256 dmin = F::kHasMin ? _mm256_set1_ps(load_f16(x + F::kMinScaleOffset)) : d;
    if constexpr (kTokens == 8) {
      const __m256 y_d = f32_lanes(y, offsetof(BlockQ8_K, d), std::make_index_sequence<8>());
      const __m256i min_totals = F::kHasMin ? lane_totals(v + 8) : _mm256_setzero_si256();
      acc = add_block<F>(acc, lane_totals(v), min_totals, d, dmin, y_d);
    } else {
      // [S of tokens 0-3 | M of tokens 0-3], or zeros for M.
      const __m256i totals = lane_totals(v);
      const __m256i min_totals = _mm256_permute2x128_si256(totals, totals, 0x01);
      const __m256 y_d = f32_lanes(y, offsetof(BlockQ8_K, d), std::make_index_sequence<kTokens>());
      acc = add_block<F>(acc, totals, min_totals, d, dmin, y_d);
    }
  }
  alignas(32) float sums[8];
  _mm256_store_ps(sums, acc);
  for (size_t t = 0; t < kTokens; ++t) out[t * out_stride] = sums[t];
}

// Rows with `tokens` tokens, in groups of 8 and 4 and the rest, each row read once. With
// minimums a row runs on its own (its sums and minimum sums fill one reduction); without,
// two rows share the reductions of the groups under 8 (their 8 pairs fill one).
template <class F>
HWY_INLINE void dot_rows(const uint8_t* w, size_t w_stride, size_t rows, const uint8_t* const* a,
                         size_t tokens, size_t n, float* out, size_t out_stride) {
  constexpr size_t kRowStep = F::kHasMin ? 1 : 2;
  for (size_t r = 0; r < rows; r += kRowStep) {
    const size_t count = std::min(kRowStep, rows - r);
    const uint8_t* row[kRowStep];
    for (size_t i = 0; i < count; ++i) row[i] = w + (r + i) * w_stride;
    size_t t = 0;
    for (; tokens - t >= 8; t += 8) {
      for (size_t i = 0; i < count; ++i) {
        dot_row<F, 8>(row[i], a + t, n, out + t * out_stride + r + i, out_stride);
      }
    }
    const size_t rest = tokens - t;
    if (count == 2 && rest > 0) {
      // Two rows with 1 to 4 tokens from token `first` on.
      const auto two_rows = [&](size_t first, size_t group) HWY_ATTR {
        float* o = out + first * out_stride + r;
        switch (group) {
          case 1:
            return dot_pairs<F, 2, 1>(row, a + first, n, o, out_stride);
          case 2:
            return dot_pairs<F, 2, 2>(row, a + first, n, o, out_stride);
          case 3:
            return dot_pairs<F, 2, 3>(row, a + first, n, o, out_stride);
          default:
            return dot_pairs<F, 2, 4>(row, a + first, n, o, out_stride);
        }
      };
      if (rest > 4) two_rows(t, 4);
      two_rows(rest > 4 ? t + 4 : t, rest > 4 ? rest - 4 : rest);
      continue;
    }
    for (size_t i = 0; i < count; ++i) {
      size_t u = t;
      if (tokens - u >= 4) {
        dot_row<F, 4>(row[i], a + u, n, out + u * out_stride + r + i, out_stride);
        u += 4;
      }
      float* oi = out + u * out_stride + r + i;
      switch (tokens - u) {
        case 1:
          dot_pairs<F, 1, 1>(&row[i], a + u, n, oi, out_stride);
          break;
        case 2:
          dot_row<F, 2>(row[i], a + u, n, oi, out_stride);
          break;
        case 3:
          dot_row<F, 3>(row[i], a + u, n, oi, out_stride);
          break;
        default:
          break;
      }
    }
  }
}

// Tiles of pairs for rows [0, rows): blocks of kRows rows, then the rows left one at a time.
template <class F, size_t kRows, size_t kTokens>
HWY_INLINE void dot_pair_rows(const uint8_t* w, size_t w_stride, size_t rows,
                              const uint8_t* const* a, size_t n, float* out, size_t out_stride) {
  size_t r = 0;
  for (; r + kRows <= rows; r += kRows) {
    const uint8_t* block_rows[kRows];
    for (size_t i = 0; i < kRows; ++i) block_rows[i] = w + (r + i) * w_stride;
    dot_pairs<F, kRows, kTokens>(block_rows, a, n, out + r, out_stride);
  }
  for (; r < rows; ++r) {
    const uint8_t* row = w + r * w_stride;
    dot_pairs<F, 1, kTokens>(&row, a, n, out + r, out_stride);
  }
}

// Word k (bytes 4k .. 4k + 3) at x[r] + offset, in 32-bit lane r.
HWY_INLINE __m256i row_words(const uint8_t* const* x, size_t offset) {
  uint32_t v[8];
#pragma GCC unroll 8
  for (size_t r = 0; r < 8; ++r) std::memcpy(&v[r], x[r] + offset, sizeof(uint32_t));
  return _mm256_setr_epi32(static_cast<int32_t>(v[0]), static_cast<int32_t>(v[1]),
                           static_cast<int32_t>(v[2]), static_cast<int32_t>(v[3]),
                           static_cast<int32_t>(v[4]), static_cast<int32_t>(v[5]),
                           static_cast<int32_t>(v[6]), static_cast<int32_t>(v[7]));
}

// A vpshufb control that puts bytes `first` and `second` of each 32-bit lane into its two
// int16 words, zero-extended (low byte; control bytes with the top bit set give zero) or
// in the high byte (`high`, for a sign-extending shift after it).
HWY_INLINE __m256i lane_byte_pick(int first, int second, bool high = false) {
  const __m256i lane_base = _mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0C0C0C0C, 0, 0x04040404,
                                              0x08080808, 0x0C0C0C0C);
  const int pattern = high ? 0x80 | first << 8 | 0x80 << 16 | second << 24
                           : first | 0x80 << 8 | second << 16 | 0x80 << 24;
  return _mm256_add_epi8(_mm256_set1_epi32(pattern), lane_base);
}

// x[r] = super-block `block` of the 8 rows w[r] (blocks of block_bytes), with the same
// block of the 8 rows after them (rows_ahead_bytes further on) prefetched: the start of a
// panel copy.
HWY_INLINE void panel_blocks(const uint8_t* const* w, size_t block, size_t block_bytes,
                             size_t rows_ahead_bytes, const uint8_t** x) {
#pragma GCC unroll 8
  for (size_t r = 0; r < 8; ++r) {
    x[r] = w[r] + block * block_bytes;
    prefetch_block(x[r] + rows_ahead_bytes, block_bytes);
  }
}

// The 8 x 8 transpose of 32-bit words: word i of q[r] to lane r of out[i].
HWY_INLINE void transpose_words(const __m256i* q, __m256i* out) {
  __m256i pairs[8];  // [words 0, 1 | 4, 5] and [2, 3 | 6, 7] of rows 2k, 2k + 1
#pragma GCC unroll 8
  for (size_t k = 0; k < 4; ++k) {
    pairs[2 * k] = _mm256_unpacklo_epi32(q[2 * k], q[2 * k + 1]);
    pairs[2 * k + 1] = _mm256_unpackhi_epi32(q[2 * k], q[2 * k + 1]);
  }
  __m256i quads[2][4];  // [h][i]: words i and i + 4 of rows 4h .. 4h + 3
#pragma GCC unroll 8
  for (size_t h = 0; h < 2; ++h) {
    const __m256i* p = pairs + 4 * h;
    quads[h][0] = _mm256_unpacklo_epi64(p[0], p[2]);
    quads[h][1] = _mm256_unpackhi_epi64(p[0], p[2]);
    quads[h][2] = _mm256_unpacklo_epi64(p[1], p[3]);
    quads[h][3] = _mm256_unpackhi_epi64(p[1], p[3]);
  }
#pragma GCC unroll 8
  for (size_t i = 0; i < 4; ++i) {
    out[i] = _mm256_permute2x128_si256(quads[0][i], quads[1][i], 0x20);
    out[i + 4] = _mm256_permute2x128_si256(quads[0][i], quads[1][i], 0x31);
  }
}

// Panel products of `rows` rows w + r * w_stride with `tokens` Q8_K rows a + t * a_stride:
// out[t * out_stride + r]. Per 8 rows, super-blocks are copied into a panel kPanelBlocks
// at a time (about 20 KiB, in L1) and all the tokens run over them, kPanelTokenGroup at a time; the
// float sums of each (row, token) carry over from chunk to chunk in `out`. A last panel of fewer
// rows repeats its last row and keeps only its own lanes.
template <class F>
HWY_INLINE void dot_panels(const uint8_t* w, size_t w_stride, size_t rows, const uint8_t* a,
                           size_t a_stride, size_t tokens, size_t n, float* out,
                           size_t out_stride) {
  constexpr size_t kPanelRows = 8;
  constexpr size_t kPanelBlocks = 8;
  constexpr size_t kTokenGroup = kPanelTokenGroup;
  typename F::Panel panel[kPanelBlocks];
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
        F::pack(row_starts, c0 + b, kPanelRows * w_stride, panel[b]);
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
        with_token_count(group, [&](auto k) HWY_ATTR {
          F::template panel_dot<decltype(k)::value>(panel, chunk, c0, token_rows, acc);
        });
        for (size_t t = 0; t < group; ++t) {
          _mm256_maskstore_ps(out + (t0 + t) * out_stride + r0, mask, acc[t]);
        }
      }
    }
  }
}

// Products of `rows` rows stored as panels (ops/quant/panels.h; rows a multiple of 8)
// with `tokens` Q8_K rows a + t * a_stride: out[t * out_stride + r]. Fewer than
// F::kExpandMinTokens tokens run straight from the stored blocks, up to kPanelTokenGroup at a time
// over all of a group's super-blocks (one stream from memory per 8 rows); more tokens expand
// kPanelBlocks blocks at a time into panels in L1 and run all their tokens over them, as
// dot_panels.
template <class F>
HWY_INLINE void dot_stored_panels(const uint8_t* panels, size_t rows, const uint8_t* a,
                                  size_t a_stride, size_t tokens, size_t n, float* out,
                                  size_t out_stride) {
  constexpr size_t kPanelRows = 8;
  constexpr size_t kPanelBlocks = 8;
  constexpr size_t kTokenGroup = kPanelTokenGroup;
  const size_t blocks = n / kSuperBlock;
  const bool expand = tokens >= F::kExpandMinTokens;
  typename F::Panel panel[kPanelBlocks];
  for (size_t r0 = 0; r0 < rows; r0 += kPanelRows) {
    const uint8_t* group = panels + (r0 / kPanelRows) * blocks * F::kStoredBlockBytes;
    // Tokens [t0, t0 + count) over super-blocks [c0, c0 + chunk), adding to `out` after
    // the first chunk.
    const auto run_tokens = [&](size_t t0, size_t count, size_t c0, size_t chunk) HWY_ATTR {
      run_token_group(a, a_stride, t0, count, c0 == 0, out, out_stride, r0,
                      [&](auto k, const uint8_t* const* token_rows, __m256* acc) HWY_ATTR {
                        if (expand) {
                          F::template panel_dot<decltype(k)::value>(panel, chunk, c0, token_rows,
                                                                    acc);
                        } else {
                          F::template stored_dot<decltype(k)::value>(
                              group + c0 * F::kStoredBlockBytes, chunk, c0, token_rows, acc);
                        }
                      });
    };
    if (!expand) {
      for (size_t t0 = 0; t0 < tokens; t0 += kTokenGroup) {
        run_tokens(t0, std::min(kTokenGroup, tokens - t0), 0, blocks);
      }
      continue;
    }
    for (size_t c0 = 0; c0 < blocks; c0 += kPanelBlocks) {
      const size_t chunk = std::min(kPanelBlocks, blocks - c0);
      for (size_t b = 0; b < chunk; ++b) {
        // The next chunk's blocks (the next group's after the last chunk) into L2, read
        // while this chunk's tokens run.
        prefetch_block<_MM_HINT_T1>(group + (c0 + kPanelBlocks + b) * F::kStoredBlockBytes,
                                    F::kStoredBlockBytes);
        F::expand(group + (c0 + b) * F::kStoredBlockBytes, panel[b]);
      }
      for (size_t t0 = 0; t0 < tokens; t0 += kTokenGroup) {
        run_tokens(t0, std::min(kTokenGroup, tokens - t0), c0, chunk);
      }
    }
  }
}

// One token runs tiles of F::kOneTokenRows rows, 2 to F::kPanelMinTokens - 1 tokens one row at a
// time, more on panels.
template <class F>
HWY_INLINE void dot_tile(const uint8_t* w, size_t w_stride, size_t rows, const uint8_t* a,
                         size_t a_stride, size_t tokens, size_t n, float* out, size_t out_stride) {
  if (tokens == 0) return;
  if (tokens >= F::kPanelMinTokens) {
    return dot_panels<F>(w, w_stride, rows, a, a_stride, tokens, n, out, out_stride);
  }
  const uint8_t* token_rows[F::kPanelMinTokens - 1];
  for (size_t t = 0; t < tokens; ++t) token_rows[t] = a + t * a_stride;
  if (tokens == 1) {
    return dot_pair_rows<F, F::kOneTokenRows, 1>(w, w_stride, rows, token_rows, n, out, out_stride);
  }
  dot_rows<F>(w, w_stride, rows, token_rows, tokens, n, out, out_stride);
}

}  // namespace tandem::quant::HWY_NAMESPACE::avx2
HWY_AFTER_NAMESPACE();
#endif  // TANDEM_AVX2_KERNELS
