// Q8_0 weights stored as panels (ops/quant/panels.h) times Q8_0 activations, included by
// vec_dot_simd.cpp after the K-quant tiles (whose helpers it uses) once per Highway target
// (no include guard, as Highway's -inl.h convention). A panel block holds one 32-element
// block of 8 rows: their 8 F16 scales, then 8 vectors of 32 bytes, vector i holding
// bytes 4 i .. 4 i + 3 of row r in lane r. Every vector goes into the 8 rows' integer sums
// with one broadcast word of the token's block, so the sums land in their lanes without
// the horizontal reduction of the row tiles (dot_q8_0), and each block takes the row
// tile's float step in lanes: the same integer sums and roundings, so the same results.

#if TANDEM_AVX2_KERNELS
HWY_BEFORE_NAMESPACE();
namespace tandem::quant::HWY_NAMESPACE::avx2 {

struct Q8Panels {
  static constexpr size_t kBlockBytes = sizeof(BlockQ8_0);
  static constexpr size_t kStoredBlockBytes = 8 * kBlockBytes;
  // The stream is prefetched into L2 from this many tokens, kPrefetchBlocks blocks ahead
  // (about the K-quant passes' distance in bytes); with fewer the hardware prefetcher keeps
  // up. Measured as Q4K::kPrefetchMinTokens (128 experts of 768 x 2048 from memory, two
  // threads, passes alternating): 1 / 2 tokens 1-3% / 19-25% faster without, 3 the same,
  // 4 / 8 tokens 15-22% / 30% slower without.
  static constexpr size_t kPrefetchMinTokens = 4;
  static constexpr size_t kPrefetchBlocks = 16;

  // Panel blocks [0, count) of 8 rows with the kTokens Q8_0 rows a[t]; acc[t] lane r
  // accumulates row r's product with token t.
  template <size_t kTokens>
  HWY_INLINE static void stored_dot(const uint8_t* blocks, size_t count, const uint8_t* const* a,
                                    __m256* acc) {
    for (size_t b = 0; b < count; ++b) {
      const uint8_t* block = blocks + b * kStoredBlockBytes;
      prefetch_stored_stream<Q8Panels, kTokens>(block);
      const uint8_t* y[kTokens];
      __m256i sums[kTokens];
      for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
        y[t] = a[t] + b * kBlockBytes;
        sums[t] = _mm256_setzero_si256();
      });
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m256i levels = load(block + q8_0_panel::kLevels + 32 * static_cast<size_t>(i));
        const __m256i magnitudes = _mm256_abs_epi8(levels);
        const size_t word = offsetof(BlockQ8_0, qs) + 4 * static_cast<size_t>(i);
        for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
          sums[t] = add_signed_byte_dots(sums[t], magnitudes, levels, broadcast_word(y[t] + word));
        });
      }
      const __m256 d_w = _mm256_cvtph_ps(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + q8_0_panel::kD)));
      for_each_index<kTokens>([&](auto t) HWY_ATTR __attribute__((always_inline)) {
        uint16_t d_a;
        std::memcpy(&d_a, y[t] + offsetof(BlockQ8_0, d), sizeof(d_a));
        __m256 terms = _mm256_mul_ps(_mm256_cvtepi32_ps(sums[t]),
                                     _mm256_mul_ps(d_w, _mm256_set1_ps(f16_to_f32(d_a))));
        settle(terms);
        acc[t] = _mm256_add_ps(acc[t], terms);
      });
    }
  }
};

// Products of `rows` Q8_0 rows stored as panels (rows a multiple of 8) with `tokens` Q8_0
// rows a + t * a_stride: out[t * out_stride + r]. Each group of 8 rows runs all its
// blocks for up to kPanelTokenGroup tokens at a time (the group's blocks, 2 KiB per 256
// columns, stay in cache for the next tokens).
HWY_INLINE void dot_stored_q8_0_panels(const uint8_t* panels, size_t rows, const uint8_t* a,
                                       size_t a_stride, size_t tokens, size_t n, float* out,
                                       size_t out_stride) {
  const size_t blocks = n / kLegacyBlock;
  for (size_t r0 = 0; r0 < rows; r0 += kPanelRows) {
    const uint8_t* group = panels + (r0 / kPanelRows) * blocks * Q8Panels::kStoredBlockBytes;
    for (size_t t0 = 0; t0 < tokens; t0 += kPanelTokenGroup) {
      run_token_group(a, a_stride, t0, std::min(kPanelTokenGroup, tokens - t0), true, out,
                      out_stride, r0,
                      [&](auto k, const uint8_t* const* token_rows, __m256* acc) HWY_ATTR {
                        Q8Panels::stored_dot<decltype(k)::value>(group, blocks, token_rows, acc);
                      });
    }
  }
}

}  // namespace tandem::quant::HWY_NAMESPACE::avx2
HWY_AFTER_NAMESPACE();
#endif  // TANDEM_AVX2_KERNELS
