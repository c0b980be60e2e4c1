// The Q6_K format of the AVX2 K-quant tiles (k_quant_tiles_avx2-inl.h, whose top comment
// gives the arithmetic), included by vec_dot_simd.cpp after it once per Highway target (no
// include guard, as Highway's -inl.h convention). Levels are 6-bit (0-63, the value's
// offset of 32 not subtracted); per super-block, S = sum over the 16 groups g of 16
// elements of scale_g * (levels . activations of g) - 32 * sum over g of scale_g * (sum of
// g's activations, Q8_K's bsums), exact in int32. Q6_K has no minimums.

#if TANDEM_AVX2_KERNELS
HWY_BEFORE_NAMESPACE();
namespace tandem::quant::HWY_NAMESPACE::avx2 {

struct Q6K {
  static constexpr size_t kBlockBytes = sizeof(BlockQ6_K);
  static constexpr size_t kScaleOffset = offsetof(BlockQ6_K, d);
  static constexpr bool kHasMin = false;
  static constexpr size_t kMinScaleOffset = 0;
  // Measured with one token: tiles of 8 rows 10% faster than 4.
  static constexpr size_t kOneTokenRows = 8;
  // Measured (tandem_matmul_bench): panels are faster from 12 to 16 tokens (64-68 against
  // 52-56 G multiply-adds/s one row at a time), about equal with 8, slower with 4.
  static constexpr size_t kPanelMinTokens = 12;
  // Stored panels: from this many tokens, expanding blocks into L1 panels beats
  // assembling the stored levels for each group of 4 tokens. Measured
  // (tandem_matmul_bench, one thread): straight 67-74 G multiply-adds/s with 4 to 16
  // tokens and 71-74 with 64; expanded 43-55 with 4, 66-77 with 16, 80-86 with 64.
  static constexpr size_t kExpandMinTokens = 24;

  // The 32 levels of elements 128 h + 32 quarter + l (l < 32) of block x: the low 4 bits
  // from ql (low nibbles for quarters 0 and 1, high for 2 and 3), bits 4-5 from qh's bits
  // 2 quarter, 2 quarter + 1.
  HWY_INLINE static __m256i levels(const uint8_t* x, int h, int quarter) {
    const __m256i ql = load(x + offsetof(BlockQ6_K, ql) + 64 * h + 32 * (quarter % 2));
    const __m256i qh = load(x + offsetof(BlockQ6_K, qh) + 32 * h);
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    const __m256i low = quarter < 2 ? _mm256_and_si256(ql, low_mask)
                                    : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low_mask);
    __m256i high;
    switch (quarter) {
      case 0:
        high = _mm256_slli_epi16(qh, 4);
        break;
      case 1:
        high = _mm256_slli_epi16(qh, 2);
        break;
      case 2:
        high = qh;
        break;
      default:
        high = _mm256_srli_epi16(qh, 2);
        break;
    }
    return _mm256_or_si256(low, _mm256_and_si256(high, _mm256_set1_epi8(0x30)));
  }

  // The 8-lane sums of one block x with each token's block y[t], offsets subtracted.
  template <size_t kTokens>
  HWY_INLINE static void row_sums(const uint8_t* x, const uint8_t* const* y, __m256i* sums,
                                  __m256i* /*mins*/) {
    // The 16 group scales as int16.
    const __m256i scales16 = _mm256_cvtepi8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + offsetof(BlockQ6_K, scales))));
    for_each_index<kTokens>([&](auto t) HWY_ATTR
                            __attribute__((always_inline)) { sums[t] = _mm256_setzero_si256(); });
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      // Groups 8h .. 8h + 7 in both 128-bit halves.
      const __m256i half_scales = h == 0 ? _mm256_permute2x128_si256(scales16, scales16, 0x00)
                                         : _mm256_permute2x128_si256(scales16, scales16, 0x11);
#pragma GCC unroll 4
      for (int quarter = 0; quarter < 4; ++quarter) {
        // Group 8h + 2 quarter for l < 16 (the low half), + 1 for l >= 16.
        const __m256i pick = _mm256_set_m128i(
            _mm_set1_epi16(static_cast<int16_t>(((4 * quarter + 3) << 8) | (4 * quarter + 2))),
            _mm_set1_epi16(static_cast<int16_t>(((4 * quarter + 1) << 8) | (4 * quarter))));
        const __m256i level = levels(x, h, quarter);
        const __m256i scale = _mm256_shuffle_epi8(half_scales, pick);
        for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
          const __m256i a =
              load(y[t] + offsetof(BlockQ8_K, qs) + 128 * static_cast<size_t>(h) + 32 * quarter);
          sums[t] = _mm256_add_epi32(sums[t], scaled_dot(level, a, scale));
          settle(sums[t]);
        });
      }
    }
    for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
      const __m256i offsets = _mm256_madd_epi16(load(y[t] + offsetof(BlockQ8_K, bsums)), scales16);
      sums[t] = _mm256_sub_epi32(sums[t], _mm256_slli_epi32(offsets, 5));
    });
  }

  // One super-block of 8 rows with the rows in the 8 32-bit lanes of each vector.
  struct alignas(32) Panel {
    // [group g][i][4 r + e]: the level (0-63) of element 16 g + 4 i + e of row r.
    uint8_t levels[16][4][32];
    // [g][2 r] and [g][2 r + 1]: row r's scale of group g (int16 pairs for vpmaddwd).
    int16_t scales[16][16];
    // [p][2 r + h]: row r's scale of group 2 p + h (for the offsets).
    int16_t scale_pairs[8][16];
    float d[8];
  };

  // Group g's scales of the 8 rows as int16 pairs (both words of lane r: row r's), from
  // words[k]: scale bytes 4k .. 4k + 3 of row r in lane r (picked into the high byte of
  // int16 words and shifted back with the sign).
  HWY_INLINE static __m256i group_scales(const __m256i* words, int g) {
    return _mm256_srai_epi16(_mm256_shuffle_epi8(words[g / 4], lane_byte_pick(g % 4, g % 4, true)),
                             8);
  }
  // Word 2 r + h: row r's scale of group 2 p + h.
  HWY_INLINE static __m256i scale_pair(const __m256i* words, int p) {
    const int first = (2 * p) % 4;
    return _mm256_srai_epi16(
        _mm256_shuffle_epi8(words[p / 2], lane_byte_pick(first, first + 1, true)), 8);
  }
  HWY_INLINE static void store_scales(const __m256i* words, Panel& out) {
#pragma GCC unroll 8
    for (int g = 0; g < 16; ++g) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(out.scales[g]), group_scales(words, g));
    }
#pragma GCC unroll 8
    for (int p = 0; p < 8; ++p) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(out.scale_pairs[p]), scale_pair(words, p));
    }
  }

  // Copies super-block `block` of the 8 rows w[r] into `out`, and prefetches the same block
  // of the 8 rows after them (rows_ahead_bytes further on).
  HWY_INLINE static void pack(const uint8_t* const* w, size_t block, size_t rows_ahead_bytes,
                              Panel& out) {
    const uint8_t* x[8];
    panel_blocks(w, block, kBlockBytes, rows_ahead_bytes, x);
    __m256i words[4];
#pragma GCC unroll 8
    for (size_t k = 0; k < 4; ++k) words[k] = row_words(x, offsetof(BlockQ6_K, scales) + 4 * k);
    store_scales(words, out);
    _mm256_store_ps(out.d, f16_lanes(x, kScaleOffset, std::make_index_sequence<8>()));

// Levels of elements 128h + 32 quarter ... of the 8 rows, transposed as 32-bit words:
// word i (elements + 4i .. + 4i + 3) of row r to lane r, in group 8h + 2 quarter + i / 4.
#pragma GCC unroll 8
    for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 8
      for (int quarter = 0; quarter < 4; ++quarter) {
        __m256i q[8], transposed[8];
#pragma GCC unroll 8
        for (size_t r = 0; r < 8; ++r) q[r] = levels(x[r], h, quarter);
        transpose_words(q, transposed);
#pragma GCC unroll 8
        for (size_t i = 0; i < 8; ++i) {
          const size_t g = 8 * static_cast<size_t>(h) + 2 * static_cast<size_t>(quarter) + i / 4;
          _mm256_store_si256(reinterpret_cast<__m256i*>(out.levels[g][i % 4]), transposed[i]);
        }
      }
    }
  }

  // A stored panel block (ops/quant/panels.h): the rows' levels recoded in lanes, their
  // scale words in lanes.
  static constexpr size_t kStoredBlockBytes = 8 * kBlockBytes;
  // stored_dot prefetches its stream from this many tokens (see Q4K's): measured as Q4K's,
  // one token 8-9% faster without, 2 tokens the same, 4 / 8 tokens 38% / 49-56% slower.
  static constexpr size_t kPrefetchMinTokens = 2;
  static constexpr size_t kPrefetchBlocks = 4;
  // Level vector i (elements 128 h + 32 quarter + 4 i .. + 3 of each row; group
  // 8 h + 2 quarter + i / 4) of a stored block, as levels() gives them for one row:
  // quarters 0-2 are bits 0-5 of their bytes, quarter 3 gathers bits 6-7 of the three
  // (masked before each 16-bit shift, so no bit crosses into the neighbouring byte).
  HWY_INLINE static __m256i stored_levels(const uint8_t* block, int h, int quarter, int i) {
    const uint8_t* bytes = block + q6_k_panel::kLevels + static_cast<size_t>(3 * (8 * h + i)) * 32;
    if (quarter < 3) return _mm256_and_si256(load(bytes + 32 * quarter), _mm256_set1_epi8(0x3F));
    return stored_top_levels(load(bytes), load(bytes + 32), load(bytes + 64));
  }
  // Quarter 3's levels from the three stored byte vectors of a level vector: bits 6-7 of
  // b0, b1, b2 as bits 0-1, 2-3, 4-5.
  HWY_INLINE static __m256i stored_top_levels(__m256i b0, __m256i b1, __m256i b2) {
    const __m256i top = _mm256_set1_epi8(static_cast<char>(0xC0));
    __m256i q = _mm256_srli_epi16(_mm256_and_si256(b0, top), 2);
    q = _mm256_srli_epi16(_mm256_or_si256(q, _mm256_and_si256(b1, top)), 2);
    return _mm256_srli_epi16(_mm256_or_si256(q, _mm256_and_si256(b2, top)), 2);
  }
#if TANDEM_VNNI_KERNELS
  // Four times stored_top_levels (bits 6-7 of b0, b1, b2 as bits 2-3, 4-5, 6-7; at most
  // 252, still an unsigned byte for vpdpbusd) in five operations instead of eight: two
  // bit selects by vpternlogd (imm 0xE4: mask ? first : second) of b2 and the shifted b1,
  // b0, and the two low bits, which the 16-bit shift of b0 fills, cleared.
  HWY_INLINE static __m256i stored_top_levels_times_4(__m256i b0, __m256i b1, __m256i b2) {
    constexpr int kSelect = 0xE4;
    const __m256i b1_b0 = _mm256_ternarylogic_epi32(
        _mm256_srli_epi16(b1, 2), _mm256_srli_epi16(b0, 4), _mm256_set1_epi8(0x30), kSelect);
    const __m256i all =
        _mm256_ternarylogic_epi32(b2, b1_b0, _mm256_set1_epi8(static_cast<char>(0xC0)), kSelect);
    return _mm256_and_si256(all, _mm256_set1_epi8(static_cast<char>(0xFC)));
  }
  // Group g's scales of the 8 rows as 32-bit lanes, sign-extended: the byte placed at the
  // top of its lane, then an arithmetic shift (group_scales gives int16 pairs).
  HWY_INLINE static __m256i group_scale_lanes(const __m256i* words, int g) {
    return _mm256_srai_epi32(_mm256_shuffle_epi8(words[g / 4], lane_byte_pick(0x80, g % 4, true)),
                             24);
  }
#endif
  HWY_INLINE static void stored_scale_words(const uint8_t* block, __m256i* words) {
#pragma GCC unroll 4
    for (size_t k = 0; k < 4; ++k) words[k] = load(block + q6_k_panel::kScales + 32 * k);
  }
  HWY_INLINE static __m256 stored_d(const uint8_t* block) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + q6_k_panel::kD)));
  }

  // A panel from a stored panel block: the levels assembled, scales unpacked.
  HWY_INLINE static void expand(const uint8_t* block, Panel& out) {
    __m256i words[4];
    stored_scale_words(block, words);
    store_scales(words, out);
    _mm256_store_ps(out.d, stored_d(block));
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 4
      for (int quarter = 0; quarter < 4; ++quarter) {
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) {
          const int g = 8 * h + 2 * quarter + i / 4;
          _mm256_store_si256(reinterpret_cast<__m256i*>(out.levels[g][i % 4]),
                             stored_levels(block, h, quarter, i));
        }
      }
    }
  }

  // The offset totals (32 * sum over groups of scale * sum of the group's activations)
  // of the 8 rows with one token's block y; scale_pairs(p): scale_pair of groups 2p, 2p + 1.
  template <class ScalePairs>
  HWY_INLINE static __m256i offset_totals(const uint8_t* y, const ScalePairs& scale_pairs) {
    __m256i offsets = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      int32_t two;
      std::memcpy(&two, y + offsetof(BlockQ8_K, bsums) + 4 * k, sizeof(two));
      offsets =
          _mm256_add_epi32(offsets, _mm256_madd_epi16(scale_pairs(k), _mm256_set1_epi32(two)));
    }
    return _mm256_slli_epi32(offsets, 5);
  }

#if TANDEM_VNNI_KERNELS
  // starts[t][g]: -32 times the sum of token t's activations in group g (Q8_K's bsums),
  // where the vpdpbusd sums of group g start, so that they come out with the level
  // offset subtracted.
  template <size_t kTokens>
  HWY_INLINE static void group_starts(const uint8_t* const* y, int32_t (*starts)[16]) {
    for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
#pragma GCC unroll 2
      for (size_t half = 0; half < 2; ++half) {
        const __m256i group_sums = _mm256_cvtepi16_epi32(_mm_loadu_si128(
            reinterpret_cast<const __m128i*>(y[t] + offsetof(BlockQ8_K, bsums) + 16 * half)));
        _mm256_store_si256(
            reinterpret_cast<__m256i*>(starts[t] + 8 * half),
            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(group_sums, 5)));
      }
    });
  }
#endif

  // The float step of one super-block for each of the kTokens tokens (add_block): acc[t]
  // from the block's integer totals[t] (offsets subtracted), its scales d and token t's
  // Q8_K block y[t].
  template <size_t kTokens>
  HWY_INLINE static void add_block_sums(const __m256i* totals, __m256 d, const uint8_t* const* y,
                                        __m256* acc) {
    for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
      float y_d;
      std::memcpy(&y_d, y[t] + offsetof(BlockQ8_K, d), sizeof(y_d));
      acc[t] = add_block<Q6K>(acc[t], totals[t], totals[t], d, d, _mm256_set1_ps(y_d));
    });
  }

  // One super-block of 8 rows with the kTokens Q8_K blocks y[t], the arithmetic of every
  // panel path: levels(g, k) is level vector k (elements 16 g + 4 k .. + 3 of each row) of
  // group g, scales(g) its scales as int16 pairs, scale_pairs(p) the scales of groups 2p,
  // 2p + 1; acc[t] lane r accumulates row r's product with token t. Two products per token
  // add up in int16 (2 * 2 * 63 * 127 < 2^15) before the group's scale. kUnrolled: all
  // groups unrolled (where levels() depends on the group's place in the block), else
  // two at a time (the L1 panels).
  template <size_t kTokens, bool kUnrolled, class Levels, class Scales, class ScalePairs>
  HWY_INLINE static void block_dot(const Levels& levels, const Scales& scales,
                                   const ScalePairs& scale_pairs, __m256 d, const uint8_t* const* y,
                                   __m256* acc) {
    __m256i sums[kTokens];
    for_each_index<kTokens>([&](auto t) HWY_ATTR
                            __attribute__((always_inline)) { sums[t] = _mm256_setzero_si256(); });
#if TANDEM_VNNI_KERNELS
    // The group's 16 products summed in int32 by vpdpbusd, starting from -32 times the
    // sum of its activations (the level offset: Q8_K's 16-element sums), then times its
    // scale (the high int16 word of a scale lane, with its sign). The block's total is
    // the same integer as with offset_totals subtracted at the end (so scale_pairs, which
    // offset_totals reads, goes unused here).
    (void)scale_pairs;
    alignas(32) int32_t starts[kTokens][16];
    group_starts<kTokens>(y, starts);
    const auto group = [&](int g) HWY_ATTR __attribute__((always_inline)) {
      add_group_dots<kTokens, 4>(
          [&](int k) HWY_ATTR __attribute__((always_inline)) { return levels(g, k); },
          [&](size_t t) HWY_ATTR
          __attribute__((always_inline)) { return _mm256_set1_epi32(starts[t][g]); },
          _mm256_srai_epi32(scales(g), 16), y,
          offsetof(BlockQ8_K, qs) + 16 * static_cast<size_t>(g), sums);
    };
#else
    const auto group = [&](int g) HWY_ATTR __attribute__((always_inline)) {
      const __m256i scale = scales(g);
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        const __m256i first = levels(g, 2 * half);
        const __m256i second = levels(g, 2 * half + 1);
        for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
          const uint8_t* yq = y[t] + offsetof(BlockQ8_K, qs) + 16 * g + 8 * half;
          __m256i products = _mm256_maddubs_epi16(first, broadcast_word(yq));
          settle(products);
          products =
              _mm256_add_epi16(products, _mm256_maddubs_epi16(second, broadcast_word(yq + 4)));
          sums[t] = _mm256_add_epi32(sums[t], _mm256_madd_epi16(products, scale));
          settle(sums[t]);
        });
      }
    };
#endif
    if constexpr (kUnrolled) {
#pragma GCC unroll 16
      for (int g = 0; g < 16; ++g) group(g);
    } else {
#pragma GCC unroll 2
      for (int g = 0; g < 16; ++g) group(g);
    }
#if !TANDEM_VNNI_KERNELS
    for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
      sums[t] = _mm256_sub_epi32(sums[t], offset_totals(y[t], scale_pairs));
    });
#endif
    add_block_sums<kTokens>(sums, d, y, acc);
  }

#if TANDEM_VNNI_KERNELS
  // Tokens up to which stored_block_few_tokens runs. Measured (768 x 2048 from cache, one
  // thread, Zen 4): 1 token 56 G multiply-adds/s as block_dot, 2 tokens 68 -> 87-97; with
  // 3 or 4 the same as block_dot (105, 114).
  static constexpr size_t kFewTokens = 2;

  // block_dot of one stored block with up to kFewTokens tokens by vpdpbusd, the three
  // byte vectors of level vector i of half h loaded once for the four quarters they hold
  // (groups 8 h + 2 quarter + i / 4; block_dot, one group after the other, loads them
  // for each quarter, and all three again for quarter 3): with few tokens the loads bound
  // the pass. The same integer sums, so the same results.
  template <size_t kTokens>
  HWY_INLINE static void stored_block_few_tokens(const uint8_t* block, const uint8_t* const* y,
                                                 __m256* acc) {
    static_assert(kTokens <= kFewTokens, "the group sums stay in registers");
    alignas(32) int32_t starts[kTokens][16];
    group_starts<kTokens>(y, starts);
    __m256i words[4];
    stored_scale_words(block, words);
    const __m256i low_bits = _mm256_set1_epi8(0x3F);
    __m256i sums[kTokens];
    for_each_index<kTokens>([&](auto t) HWY_ATTR
                            __attribute__((always_inline)) { sums[t] = _mm256_setzero_si256(); });
#pragma GCC unroll 4
    for (int part = 0; part < 4; ++part) {
      const int h = part / 2;
      const int first_group = 8 * h + part % 2;  // quarter q's group: first_group + 2 q
      // [quarter q][token t]; quarter 3's sums are four times theirs, levels and start
      // (stored_top_levels_times_4), divided exactly before the scale.
      __m256i dots[4][kTokens];
      for_each_index<4>([&](auto q) HWY_ATTR __attribute__((always_inline)) {
        for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
          dots[q][t] = _mm256_set1_epi32(starts[t][first_group + 2 * q] * (q == 3 ? 4 : 1));
        });
      });
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const uint8_t* bytes = block + q6_k_panel::kLevels +
                               static_cast<size_t>(3 * (8 * h + 4 * (part % 2) + k)) * 32;
        __m256i b0 = load(bytes);
        __m256i b1 = load(bytes + 32);
        __m256i b2 = load(bytes + 64);
        settle(b0);  // each loaded once, in a register for its two uses
        settle(b1);
        settle(b2);
        const __m256i top = stored_top_levels_times_4(b0, b1, b2);
        for_each_index<4>([&](auto q) HWY_ATTR __attribute__((always_inline)) {
          const __m256i levels =
              q == 3 ? top : _mm256_and_si256(q == 0 ? b0 : (q == 1 ? b1 : b2), low_bits);
          const size_t offset = offsetof(BlockQ8_K, qs) +
                                16 * static_cast<size_t>(first_group + 2 * q) +
                                4 * static_cast<size_t>(k);
          for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
            dots[q][t] = dot_broadcast_bytes(dots[q][t], levels, y[t] + offset);
          });
        });
      }
      for_each_index<4>([&](auto q) HWY_ATTR __attribute__((always_inline)) {
        const __m256i scale = group_scale_lanes(words, first_group + 2 * q);
        for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
          const __m256i dot = q == 3 ? _mm256_srai_epi32(dots[q][t], 2) : dots[q][t];
          sums[t] = _mm256_add_epi32(sums[t], _mm256_mullo_epi32(dot, scale));
          settle(sums[t]);
        });
      });
    }
    add_block_sums<kTokens>(sums, stored_d(block), y, acc);
  }
#endif

  // Stored panel blocks [0, count) of 8 rows (super-blocks first_block ...) with the
  // kTokens Q8_K rows a[t], levels assembled from the stored bits (block_dot, or
  // stored_block_few_tokens).
  template <size_t kTokens>
  HWY_INLINE static void stored_dot(const uint8_t* blocks, size_t count, size_t first_block,
                                    const uint8_t* const* a, __m256* acc) {
    for (size_t b = 0; b < count; ++b) {
      const uint8_t* block = blocks + b * kStoredBlockBytes;
      // Into L2, 4 blocks ahead: measured on Zen 4 (tandem_matmul_bench, one thread), the
      // output matrix's stream with 1 / 2 tokens 25-37% faster than into L1 2 blocks ahead
      // (and one token faster still with no software prefetch: kPrefetchMinTokens).
      prefetch_stored_stream<Q6K, kTokens>(block);
      const uint8_t* y[kTokens];
      for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
        y[t] = a[t] + (first_block + b) * sizeof(BlockQ8_K);
      });
#if TANDEM_VNNI_KERNELS
      if constexpr (kTokens <= kFewTokens) {
        stored_block_few_tokens<kTokens>(block, y, acc);
        continue;
      }
#endif
      __m256i words[4];
      stored_scale_words(block, words);
      // Group g = 8 h + 2 quarter + i / 4 holds level vectors i = 4 (g % 2) + k.
      const auto levels = [&](int g, int k) HWY_ATTR {
        return stored_levels(block, g / 8, (g % 8) / 2, 4 * (g % 2) + k);
      };
      const auto scales = [&](int g) HWY_ATTR { return group_scales(words, g); };
      const auto scale_pairs = [&](int p) HWY_ATTR { return scale_pair(words, p); };
      block_dot<kTokens, true>(levels, scales, scale_pairs, stored_d(block), y, acc);
    }
  }

  // Panels [0, blocks) (super-blocks first_block ...) of 8 rows with the kTokens Q8_K rows
  // a[t] (block_dot).
  template <size_t kTokens>
  HWY_INLINE static void panel_dot(const Panel* panel, size_t blocks, size_t first_block,
                                   const uint8_t* const* a, __m256* acc) {
    for (size_t b = 0; b < blocks; ++b) {
      const Panel& p = panel[b];
      const uint8_t* y[kTokens];
      for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
        y[t] = a[t] + (first_block + b) * sizeof(BlockQ8_K);
      });
      const auto levels = [&](int g, int k) HWY_ATTR {
        return _mm256_load_si256(reinterpret_cast<const __m256i*>(p.levels[g][k]));
      };
      const auto scales = [&](int g) HWY_ATTR {
        return _mm256_load_si256(reinterpret_cast<const __m256i*>(p.scales[g]));
      };
      const auto scale_pairs = [&](int k) HWY_ATTR {
        return _mm256_load_si256(reinterpret_cast<const __m256i*>(p.scale_pairs[k]));
      };
      block_dot<kTokens, false>(levels, scales, scale_pairs, _mm256_load_ps(p.d), y, acc);
    }
  }
};

}  // namespace tandem::quant::HWY_NAMESPACE::avx2
HWY_AFTER_NAMESPACE();
#endif  // TANDEM_AVX2_KERNELS
