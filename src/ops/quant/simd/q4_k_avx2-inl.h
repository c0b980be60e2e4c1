// The Q4_K format of the AVX2 K-quant tiles (k_quant_tiles_avx2-inl.h, whose top comment
// gives the arithmetic), included by vec_dot_simd.cpp after it once per Highway target (no
// include guard, as Highway's -inl.h convention). Per super-block, S = sum over sub-blocks j
// of scale_j * (levels . activations of j) and M = sum over j of min_j * (sum of j's
// activations), exact in int32.

#if TANDEM_AVX2_KERNELS
HWY_BEFORE_NAMESPACE();
namespace tandem::quant::HWY_NAMESPACE::avx2 {

struct Q4K {
  static constexpr size_t kBlockBytes = sizeof(BlockQ4_K);
  static constexpr size_t kScaleOffset = offsetof(BlockQ4_K, d);
  static constexpr bool kHasMin = true;
  static constexpr size_t kMinScaleOffset = offsetof(BlockQ4_K, dmin);
  // Measured with one token: tiles of 4 rows 4% faster than 8, 2 rows 15% slower.
  static constexpr size_t kOneTokenRows = 4;
  // Measured (tandem_matmul_bench): panels are faster from 4 tokens (55 against 48 G
  // multiply-adds/s one row at a time), equal with 2.
  static constexpr size_t kPanelMinTokens = 4;
  // Stored panels: from this many tokens, expanding blocks into L1 panels beats reading
  // the stored nibbles for each group of 4 tokens. Measured (tandem_matmul_bench, one
  // thread): straight from the stored nibbles 86-92 G multiply-adds/s with 4 to 16 tokens
  // and 88-91 with 64; expanded 71-74 with 4, 88-94 with 16, 93-101 with 64.
  static constexpr size_t kExpandMinTokens = 24;

  // The 8-lane sums of one block x with each token's block y[t]: a 32-byte load of levels
  // serves two sub-blocks (low and high nibbles) for every token.
  template <size_t kTokens>
  HWY_INLINE static void row_sums(const uint8_t* x, const uint8_t* const* y, __m256i* sums,
                                  __m256i* mins) {
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    const K4Scales unpacked = unpack_k4_scales(x + offsetof(BlockQ4_K, scales));
    const uint8_t* qs = x + offsetof(BlockQ4_K, qs);
    for_each_index<kTokens>([&](auto t) HWY_ATTR
                            __attribute__((always_inline)) { sums[t] = _mm256_setzero_si256(); });
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
      for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
        const uint8_t* yq = y[t] + offsetof(BlockQ8_K, qs) + 64 * g;
        const __m256i sum_low = scaled_dot(low, load(yq), scale_low);
        const __m256i sum_high = scaled_dot(high, load(yq + 32), scale_high);
        sums[t] = _mm256_add_epi32(sums[t], _mm256_add_epi32(sum_low, sum_high));
        settle(sums[t]);
      });
    }
    for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
      mins[t] = _mm256_madd_epi16(load(y[t] + offsetof(BlockQ8_K, bsums)), unpacked.min_lanes);
    });
  }

  // One super-block of 8 rows with the rows in the 8 32-bit lanes of each vector.
  struct alignas(32) Panel {
    // [sub-block j][i][4 r + e]: the level (0-15) of element 32 j + 4 i + e of row r.
    uint8_t levels[8][8][32];
    // [j][2 r] and [j][2 r + 1]: row r's scale of sub-block j (int16 pairs for vpmaddwd).
    int16_t scales[8][16];
    // [p][2 r + h]: row r's minimum of sub-block 2 p + h.
    int16_t mins[4][16];
    float d[8];
    float dmin[8];
  };

  // Row r's 6-bit scales and minimums in byte lanes, from the words p_k (word k of row
  // r's 12 scale bytes in lane r), as unpack_k4_scales: byte j of lane r of scale_low /
  // scale_high is row r's scale of sub-block j / 4 + j; the same for the minimums.
  struct ScaleLanes {
    __m256i scale_low, scale_high, min_low, min_high;
  };
  HWY_INLINE static ScaleLanes scale_lanes(__m256i p0, __m256i p1, __m256i p2) {
    const __m256i six_bits = _mm256_set1_epi8(0x3F);
    const __m256i four_bits = _mm256_set1_epi8(0x0F);
    const __m256i two_bits = _mm256_set1_epi8(0x03);
    const auto top_bits = [&](__m256i p) HWY_ATTR {
      return _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(p, 6), two_bits), 4);
    };
    return {_mm256_and_si256(p0, six_bits),
            _mm256_or_si256(_mm256_and_si256(p2, four_bits), top_bits(p0)),
            _mm256_and_si256(p1, six_bits),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(p2, 4), four_bits), top_bits(p1))};
  }
  // Sub-block j's scales of the 8 rows as int16 pairs (both words of lane r: row r's).
  HWY_INLINE static __m256i sub_block_scales(const ScaleLanes& s, int j) {
    return _mm256_shuffle_epi8(j < 4 ? s.scale_low : s.scale_high, lane_byte_pick(j % 4, j % 4));
  }
  // Word 2 r + h: row r's minimum of sub-block 2 p + h.
  HWY_INLINE static __m256i sub_block_min_pairs(const ScaleLanes& s, int p) {
    return _mm256_shuffle_epi8(p < 2 ? s.min_low : s.min_high,
                               lane_byte_pick(2 * (p % 2), 2 * (p % 2) + 1));
  }
  HWY_INLINE static void store_scales(const ScaleLanes& s, Panel& out) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(out.scales[j]), sub_block_scales(s, j));
    }
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(out.mins[p]), sub_block_min_pairs(s, p));
    }
  }

  // Copies super-block `block` of the 8 rows w[r] into `out`, and prefetches the same block
  // of the 8 rows after them (rows_ahead_bytes further on).
  HWY_INLINE static void pack(const uint8_t* const* w, size_t block, size_t rows_ahead_bytes,
                              Panel& out) {
    const uint8_t* x[8];
    panel_blocks(w, block, kBlockBytes, rows_ahead_bytes, x);
    const size_t scales = offsetof(BlockQ4_K, scales);
    store_scales(
        scale_lanes(row_words(x, scales), row_words(x, scales + 4), row_words(x, scales + 8)), out);
    const auto rows = std::make_index_sequence<8>();
    _mm256_store_ps(out.d, f16_lanes(x, kScaleOffset, rows));
    _mm256_store_ps(out.dmin, f16_lanes(x, kMinScaleOffset, rows));

    // Levels: bytes 32g .. 32g + 31 of the 8 rows transposed as 32-bit words (word i of
    // row r to lane r of vector i), then split into low and high nibbles.
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
#pragma GCC unroll 8
    for (int g = 0; g < 4; ++g) {
      __m256i q[8], words[8];
#pragma GCC unroll 8
      for (size_t r = 0; r < 8; ++r) q[r] = load(x[r] + offsetof(BlockQ4_K, qs) + 32 * g);
      transpose_words(q, words);
#pragma GCC unroll 8
      for (size_t i = 0; i < 8; ++i) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(out.levels[2 * g][i]),
                           _mm256_and_si256(words[i], low_mask));
        _mm256_store_si256(reinterpret_cast<__m256i*>(out.levels[2 * g + 1][i]),
                           _mm256_and_si256(_mm256_srli_epi16(words[i], 4), low_mask));
      }
    }
  }

  // A stored panel block (ops/quant/panels.h): the rows' words already in lanes.
  static constexpr size_t kStoredBlockBytes = 8 * kBlockBytes;
  // stored_dot prefetches its stream into L2, 4 blocks ahead, from this many tokens; with
  // fewer the hardware prefetcher keeps up and the prefetches only cost. Measured on Zen 4
  // streaming 128 experts of 768 x 2048 from memory, two threads, passes alternating: 1 / 2
  // / 3 tokens 0-7% faster without, 4 / 8 tokens 8% / 35-41% slower without.
  static constexpr size_t kPrefetchMinTokens = 4;
  static constexpr size_t kPrefetchBlocks = 4;
  HWY_INLINE static ScaleLanes stored_scale_lanes(const uint8_t* block) {
    const uint8_t* words = block + q4_k_panel::kScales;
    return scale_lanes(load(words), load(words + 32), load(words + 64));
  }
  HWY_INLINE static __m256 stored_d(const uint8_t* block, size_t offset) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + offset)));
  }

  // A panel from a stored panel block: the levels split into nibbles, scales unpacked.
  HWY_INLINE static void expand(const uint8_t* block, Panel& out) {
    store_scales(stored_scale_lanes(block), out);
    _mm256_store_ps(out.d, stored_d(block, q4_k_panel::kD));
    _mm256_store_ps(out.dmin, stored_d(block, q4_k_panel::kDmin));
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m256i q = load(block + q4_k_panel::kLevels + 256 * g + 32 * i);
        _mm256_store_si256(reinterpret_cast<__m256i*>(out.levels[2 * g][i]),
                           _mm256_and_si256(q, low_mask));
        _mm256_store_si256(reinterpret_cast<__m256i*>(out.levels[2 * g + 1][i]),
                           _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask));
      }
    }
  }

  // The minimum totals of the 8 rows with one token's block y: sum over sub-blocks j of
  // min_j * (sum of j's activations), from Q8_K's 16-element sums paired as int16 (the
  // word of sub-blocks 2k, 2k + 1 is word k of the lower half (k < 2) or word k - 2 of
  // the upper half). min_pairs(p): sub_block_min_pairs of sub-blocks 2p, 2p + 1.
  template <class MinPairs>
  HWY_INLINE static __m256i min_totals(const uint8_t* y, const MinPairs& min_pairs) {
    const __m256i sub_sums =
        _mm256_madd_epi16(load(y + offsetof(BlockQ8_K, bsums)), _mm256_set1_epi16(1));
    const __m256i packed = _mm256_packs_epi32(sub_sums, sub_sums);
    __m256i totals = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m256i pair =
          _mm256_permutevar8x32_epi32(packed, _mm256_set1_epi32(k < 2 ? k : k + 2));
      totals = _mm256_add_epi32(totals, _mm256_madd_epi16(min_pairs(k), pair));
    }
    return totals;
  }

  // The float step of one super-block for each of the kTokens tokens (add_block): acc[t]
  // from the block's integer sums[t], its minimums (min_pairs, as min_totals takes them)
  // and scales d, dmin, and token t's Q8_K block y[t].
  template <size_t kTokens, class MinPairs>
  HWY_INLINE static void add_block_sums(const __m256i* sums, const MinPairs& min_pairs, __m256 d,
                                        __m256 dmin, const uint8_t* const* y, __m256* acc) {
    for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
      float y_d;
      std::memcpy(&y_d, y[t] + offsetof(BlockQ8_K, d), sizeof(y_d));
      acc[t] = add_block<Q4K>(acc[t], sums[t], min_totals(y[t], min_pairs), d, dmin,
                              _mm256_set1_ps(y_d));
    });
  }

  // One super-block of 8 rows with the kTokens Q8_K blocks y[t], the arithmetic of every
  // panel path: levels(j, i) is level vector i (elements 32 j + 4 i .. + 3 of each row) of
  // sub-block j, scales(j) its scales as int16 pairs, min_pairs(p) the minimums of
  // sub-blocks 2p, 2p + 1; acc[t] lane r accumulates row r's product with token t. A
  // sub-block's 8 products per token add up in int16 (8 * 2 * 15 * 127 < 2^15) before its
  // scale. kUnrolled: the sub-blocks unrolled (needed where levels() depends on j's
  // parity), else one loop body (the L1 panels, measured faster so).
  template <size_t kTokens, bool kUnrolled, class Levels, class Scales, class MinPairs>
  HWY_INLINE static void block_dot(const Levels& levels, const Scales& scales,
                                   const MinPairs& min_pairs, __m256 d, __m256 dmin,
                                   const uint8_t* const* y, __m256* acc) {
    __m256i sums[kTokens];
    for_each_index<kTokens>([&](auto t) HWY_ATTR
                            __attribute__((always_inline)) { sums[t] = _mm256_setzero_si256(); });
#if TANDEM_VNNI_KERNELS
    // The sub-block's products summed in int32 by vpdpbusd, then times its scale (both
    // int16 words of a scale lane hold it, non-negative).
    const auto sub_block = [&](int j) HWY_ATTR __attribute__((always_inline)) {
      add_group_dots<kTokens, 8>(
          [&](int i) HWY_ATTR __attribute__((always_inline)) { return levels(j, i); },
          [](size_t) HWY_ATTR __attribute__((always_inline)) { return _mm256_setzero_si256(); },
          _mm256_srli_epi32(scales(j), 16), y,
          offsetof(BlockQ8_K, qs) + 32 * static_cast<size_t>(j), sums);
    };
#else
    const auto sub_block = [&](int j) HWY_ATTR __attribute__((always_inline)) {
      __m256i products[kTokens];  // int16 pairs, summed over the sub-block's 8 groups
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m256i level = levels(j, i);
        for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
          const __m256i product = _mm256_maddubs_epi16(
              level, broadcast_word(y[t] + offsetof(BlockQ8_K, qs) + 32 * j + 4 * i));
          products[t] = i == 0 ? product : _mm256_add_epi16(products[t], product);
          settle(products[t]);
        });
      }
      const __m256i scale = scales(j);
      for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
        sums[t] = _mm256_add_epi32(sums[t], _mm256_madd_epi16(products[t], scale));
        settle(sums[t]);
      });
    };
#endif
    if constexpr (kUnrolled) {
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) sub_block(j);
    } else {
#pragma GCC unroll 1
      for (int j = 0; j < 8; ++j) sub_block(j);
    }
    add_block_sums<kTokens>(sums, min_pairs, d, dmin, y, acc);
  }

#if TANDEM_VNNI_KERNELS
  // Tokens up to which stored_block_few_tokens runs: a token group of AVX-512's 32
  // registers (three sums per token). Measured (768 x 2048 from cache, one thread, Zen 4):
  // 5 / 6 / 8 tokens 138 / 143 / 149 G multiply-adds/s as block_dot, 144 / 152 / 157 so.
  static constexpr size_t kFewTokens = 8;

  // block_dot of one stored block with up to kFewTokens tokens by vpdpbusd, each stored level
  // vector loaded once for both of its sub-blocks (low nibbles 2g, high nibbles 2g + 1):
  // with few tokens the loads bound the pass (every vpdpbusd reads its 4 activation
  // bytes from memory too), and block_dot's order, one sub-block after the other, loads
  // each vector twice. The same integer sums, so the same results.
  template <size_t kTokens>
  HWY_INLINE static void stored_block_few_tokens(const uint8_t* block, const uint8_t* const* y,
                                                 __m256* acc) {
    static_assert(kTokens <= kFewTokens, "three sums per token stay in registers");
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    const ScaleLanes lanes = stored_scale_lanes(block);
    __m256i sums[kTokens];
    for_each_index<kTokens>([&](auto t) HWY_ATTR
                            __attribute__((always_inline)) { sums[t] = _mm256_setzero_si256(); });
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
      __m256i low_dots[kTokens], high_dots[kTokens];
      for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
        low_dots[t] = high_dots[t] = _mm256_setzero_si256();
      });
      const size_t low_offset = offsetof(BlockQ8_K, qs) + 64 * static_cast<size_t>(g);
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        __m256i q = load(block + q4_k_panel::kLevels + 256 * g + 32 * i);
        settle(q);  // one load, in a register for both nibbles
        const __m256i low = _mm256_and_si256(q, low_mask);
        const __m256i high = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
        const size_t word = 4 * static_cast<size_t>(i);
        for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
          low_dots[t] = dot_broadcast_bytes(low_dots[t], low, y[t] + low_offset + word);
          high_dots[t] = dot_broadcast_bytes(high_dots[t], high, y[t] + low_offset + 32 + word);
        });
      }
      const __m256i scale_low = _mm256_srli_epi32(sub_block_scales(lanes, 2 * g), 16);
      const __m256i scale_high = _mm256_srli_epi32(sub_block_scales(lanes, 2 * g + 1), 16);
      for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
        sums[t] = _mm256_add_epi32(sums[t],
                                   _mm256_add_epi32(_mm256_mullo_epi32(low_dots[t], scale_low),
                                                    _mm256_mullo_epi32(high_dots[t], scale_high)));
        settle(sums[t]);
      });
    }
    const auto min_pairs = [&](int p) HWY_ATTR { return sub_block_min_pairs(lanes, p); };
    add_block_sums<kTokens>(sums, min_pairs, stored_d(block, q4_k_panel::kD),
                            stored_d(block, q4_k_panel::kDmin), y, acc);
  }
#endif

  // Stored panel blocks [0, count) of 8 rows (super-blocks first_block ...) with the
  // kTokens Q8_K rows a[t], straight from the stored nibbles (block_dot, or
  // stored_block_few_tokens).
  template <size_t kTokens>
  HWY_INLINE static void stored_dot(const uint8_t* blocks, size_t count, size_t first_block,
                                    const uint8_t* const* a, __m256* acc) {
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    for (size_t b = 0; b < count; ++b) {
      const uint8_t* block = blocks + b * kStoredBlockBytes;
      prefetch_stored_stream<Q4K, kTokens>(block);
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
      const ScaleLanes lanes = stored_scale_lanes(block);
      const auto levels = [&](int j, int i) HWY_ATTR {
        const __m256i q = load(block + q4_k_panel::kLevels + 256 * (j / 2) + 32 * i);
        return j % 2 == 0 ? _mm256_and_si256(q, low_mask)
                          : _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
      };
      const auto scales = [&](int j) HWY_ATTR { return sub_block_scales(lanes, j); };
      const auto min_pairs = [&](int p) HWY_ATTR { return sub_block_min_pairs(lanes, p); };
      block_dot<kTokens, true>(levels, scales, min_pairs, stored_d(block, q4_k_panel::kD),
                               stored_d(block, q4_k_panel::kDmin), y, acc);
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
      const auto levels = [&](int j, int i) HWY_ATTR {
        return _mm256_load_si256(reinterpret_cast<const __m256i*>(p.levels[j][i]));
      };
      const auto scales = [&](int j) HWY_ATTR {
        return _mm256_load_si256(reinterpret_cast<const __m256i*>(p.scales[j]));
      };
      const auto min_pairs = [&](int k) HWY_ATTR {
        return _mm256_load_si256(reinterpret_cast<const __m256i*>(p.mins[k]));
      };
      block_dot<kTokens, false>(levels, scales, min_pairs, _mm256_load_ps(p.d),
                                _mm256_load_ps(p.dmin), y, acc);
    }
  }
};

}  // namespace tandem::quant::HWY_NAMESPACE::avx2
HWY_AFTER_NAMESPACE();
#endif  // TANDEM_AVX2_KERNELS
