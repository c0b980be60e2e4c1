// Weight panels (ops/quant/panels.h): the layout against the format definition, the
// round trip, and panel products against the row tiles on every SIMD target.

// The target loops below include AVX3_DL, as ops/quant/simd/vec_dot_simd.cpp compiles it.
#define HWY_WANT_AVX3_DL

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "hwy/targets.h"
#include "ops/matmul.h"
#include "ops/quant/blocks.h"
#include "ops/quant/dequantize.h"
#include "ops/quant/panels.h"
#include "ops/quant/quantize.h"
#include "ops/quant/simd/panels_dotprod.h"
#include "ops/quant/simd/quant_simd.h"
#include "ops/quant/vec_dot.h"
#include "platform/thread_pool.h"

namespace tandem {
namespace {

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(byte(rng));
  return out;
}

// rows x n weights quantized from Gaussian values (each row its own scale).
std::vector<uint8_t> quantized_matrix(TensorType type, size_t rows, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t stride = row_bytes(type, n);
  std::vector<uint8_t> out(rows * stride);
  std::vector<float> row(n);
  for (size_t r = 0; r < rows; ++r) {
    const float sigma = 0.5f + static_cast<float>(r % 5);
    for (float& v : row) v = sigma * normal(rng);
    quantize_row(type, row, out.data() + r * stride);
  }
  return out;
}

TEST(QuantPanels, Q4KBytesLandWhereTheLayoutSays) {
  const size_t rows = 16, cols = 512, blocks = 2;  // two groups of two panel blocks
  const std::vector<uint8_t> src = random_bytes(rows * blocks * sizeof(quant::BlockQ4_K), 1);
  std::vector<uint8_t> dst(src.size());
  pack_panels(TensorType::kQ4_K, rows, cols, src, dst);
  const auto source = [&](size_t row, size_t block, size_t offset) {
    return src[(row * blocks + block) * sizeof(quant::BlockQ4_K) + offset];
  };
  const auto panel = [&](size_t group, size_t block, size_t offset) {
    return dst[(group * blocks + block) * 8 * sizeof(quant::BlockQ4_K) + offset];
  };
  // Row 11 (group 1, lane 3), super-block 1: d at [3], dmin at 16 + [3], scale byte 6
  // (word 1, byte 2) at 32 + 32 * 1 + 4 * 3 + 2, qs byte 37 (g 1, i 1, e 1) at
  // 128 + 256 + 32 + 12 + 1.
  EXPECT_EQ(panel(1, 1, 6), source(11, 1, 0));
  EXPECT_EQ(panel(1, 1, 7), source(11, 1, 1));
  EXPECT_EQ(panel(1, 1, 16 + 6), source(11, 1, 2));
  EXPECT_EQ(panel(1, 1, 32 + 32 + 12 + 2), source(11, 1, 4 + 6));
  EXPECT_EQ(panel(1, 1, 128 + 256 + 32 + 12 + 1), source(11, 1, 16 + 37));
  // Row 0, super-block 0: its last qs byte (127: g 3, i 7, e 3).
  EXPECT_EQ(panel(0, 0, 128 + 768 + 224 + 3), source(0, 0, 16 + 127));
}

TEST(QuantPanels, Q6KLevelsLandWhereTheLayoutSays) {
  const size_t rows = 8, cols = 256;
  std::vector<uint8_t> src = random_bytes(rows * sizeof(quant::BlockQ6_K), 2);
  // d = 1 and every scale 1: the scalar dequantizer then gives each level minus 32.
  for (size_t r = 0; r < rows; ++r) {
    uint8_t* block = src.data() + r * sizeof(quant::BlockQ6_K);
    std::fill(block + offsetof(quant::BlockQ6_K, scales),
              block + offsetof(quant::BlockQ6_K, scales) + 16, uint8_t{1});
    const uint16_t one = 0x3C00;
    std::memcpy(block + offsetof(quant::BlockQ6_K, d), &one, 2);
  }
  std::vector<uint8_t> dst(src.size());
  pack_panels(TensorType::kQ6_K, rows, cols, src, dst);
  std::vector<float> values(cols);
  for (size_t r : {0, 5, 7}) {
    dequantize_row(TensorType::kQ6_K, src.data() + r * sizeof(quant::BlockQ6_K), values);
    for (size_t h = 0; h < 2; ++h) {
      for (size_t l = 0; l < 32; ++l) {
        // Bytes c = 0, 1, 2 of the four elements 128 h + 32 k + l.
        uint8_t bytes[3];
        for (size_t c = 0; c < 3; ++c) {
          bytes[c] = dst[((h * 8 + l / 4) * 3 + c) * 32 + 4 * r + l % 4];
        }
        for (size_t k = 0; k < 4; ++k) {
          const int level = k < 3 ? bytes[k] & 0x3F
                                  : (bytes[0] >> 6) | (bytes[1] >> 6) << 2 | (bytes[2] >> 6) << 4;
          ASSERT_EQ(static_cast<float>(level - 32), values[128 * h + 32 * k + l])
              << "row " << r << " h " << h << " k " << k << " l " << l;
        }
      }
    }
  }
  // Row 5's scale 9 (word 2, byte 1) and d (bytes 208, 209) at 1664 + 10.
  const auto source = [&](size_t row, size_t offset) {
    return src[row * sizeof(quant::BlockQ6_K) + offset];
  };
  EXPECT_EQ(dst[1536 + 64 + 20 + 1], source(5, 192 + 9));
  EXPECT_EQ(dst[1664 + 10], source(5, 208));
  EXPECT_EQ(dst[1664 + 11], source(5, 209));
}

TEST(QuantPanels, RowsComeBackUnchanged) {
  for (TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ8_0}) {
    const size_t rows = 24, cols = 768;
    const size_t stride = row_bytes(type, cols);
    const std::vector<uint8_t> src = random_bytes(rows * stride, 3);
    std::vector<uint8_t> dst(src.size());
    pack_panels(type, rows, cols, src, dst);
    EXPECT_NE(dst, src);
    std::vector<uint8_t> row(stride);
    for (size_t r = 0; r < rows; ++r) {
      unpack_panel_row(type, cols, dst, r, row);
      EXPECT_TRUE(std::equal(row.begin(), row.end(), src.begin() + static_cast<long>(r * stride)))
          << type_name(type) << " row " << r;
    }
  }
}

TEST(QuantPanels, RejectsShapesWithoutALayout) {
  EXPECT_FALSE(fits_panel_layout(TensorType::kQ4_K, 12, 256));  // not whole groups
  EXPECT_FALSE(fits_panel_layout(TensorType::kQ4_K, 16, 128));  // not whole super-blocks
  EXPECT_FALSE(fits_panel_layout(TensorType::kQ5_K, 16, 256));  // no layout for the type
  EXPECT_FALSE(fits_panel_layout(TensorType::kQ8_0, 16, 48));   // not whole blocks
  EXPECT_TRUE(fits_panel_layout(TensorType::kQ8_0, 16, 96));
  EXPECT_TRUE(fits_panel_layout(TensorType::kQ6_K, 16, 256));
  EXPECT_TRUE(fits_panel_layout(TensorType::kQ4_K, 768, 2048));
}

// Panel products equal the row tile's, value for value, for every token count's path
// (stored blocks straight, expanded panels, several token groups), on every target.
TEST(QuantPanels, ProductsEqualTheRowTile) {
  const size_t rows = 24;
  for (TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ8_0}) {
    for (size_t n : {size_t{2048}, size_t{4864}}) {
      const size_t stride = row_bytes(type, n);
      const std::vector<uint8_t> weights = quantized_matrix(type, rows, n, 7);
      std::vector<uint8_t> panels(weights.size());
      pack_panels(type, rows, n, weights, panels);
      const TensorType activation_type = activation_type_for(type);
      const size_t a_stride = row_bytes(activation_type, n);
      for (size_t tokens : {1, 2, 3, 4, 5, 6, 7, 8, 13, 26}) {
        std::vector<uint8_t> activations(tokens * a_stride);
        std::mt19937 rng(static_cast<uint32_t>(tokens));
        std::normal_distribution<float> normal(0.0f, 1.0f);
        std::vector<float> x(n);
        for (size_t t = 0; t < tokens; ++t) {
          for (float& v : x) v = normal(rng);
          quantize_row(activation_type, x, activations.data() + t * a_stride);
        }
        const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
        for (int64_t target : targets) {
          hwy::SetSupportedTargetsForTest(target);
          SCOPED_TRACE(hwy::TargetName(target));
          const size_t out_stride = rows + 3;
          std::vector<float> expected(tokens * out_stride, -1.0f), got(expected);
          simd_vec_dot_tile(type, weights.data(), stride, rows, activations.data(), a_stride,
                            tokens, n, expected.data(), out_stride);
          simd_vec_dot_panels(type, panels.data(), rows, activations.data(), a_stride, tokens, n,
                              got.data(), out_stride);
          ASSERT_EQ(got, expected) << type_name(type) << " n " << n << " tokens " << tokens;
          // The row tile equals simd_vec_dot, which quant_simd_test holds to the scalar
          // reference (K-quants within float rounding); Q8_0 equals it exactly, checked here.
          if (type == TensorType::kQ8_0) {
            for (size_t t = 0; t < tokens; ++t) {
              for (size_t r = 0; r < rows; ++r) {
                ASSERT_EQ(got[t * out_stride + r], vec_dot(type, weights.data() + r * stride,
                                                           activations.data() + t * a_stride, n))
                    << "n " << n << " token " << t << " row " << r;
              }
            }
          }
        }
        hwy::SetSupportedTargetsForTest(0);
      }
    }
  }
}

// ARM64 CPUs with the dot-product instructions run every panel type on the sdot kernels
// (so ProductsEqualTheRowTile above checks them against the NEON row tiles).
TEST(QuantPanels, DotProductKernelsServeEveryPanelTypeWhereTheCpuHasThem) {
  if (!has_dotprod_panel_dot()) {
    GTEST_SKIP() << "no ARM64 dot-product instructions on this CPU (scripts/test-arm64.sh runs "
                    "this test under qemu with them)";
  }
  for (TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ8_0}) {
    EXPECT_TRUE(has_simd_panel_dot(type)) << type_name(type);
  }
  EXPECT_FALSE(has_simd_panel_dot(TensorType::kQ5_K));
}

// A WeightMatrix in the panel layout: the same products (fast and reference) and rows.
TEST(QuantPanels, MatmulOfAPanelMatrixEqualsTheRowMatrix) {
  const size_t rows = 48, cols = 512;
  ThreadPool pool(2);
  for (TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ8_0}) {
    const std::vector<uint8_t> bytes = quantized_matrix(type, rows, cols, 9);
    std::vector<uint8_t> panel_bytes(bytes.size());
    pack_panels(type, rows, cols, bytes, panel_bytes);
    const size_t stride = row_bytes(type, cols);
    const WeightMatrix by_rows{type, rows, cols, stride, bytes};
    const WeightMatrix by_panels{type, rows, cols, stride, panel_bytes, WeightLayout::kPanels};
    FloatMatrix x(5, cols);
    std::mt19937 rng(4);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x.data()) v = normal(rng);
    for (ComputeMode mode : {ComputeMode::kFast, ComputeMode::kReference}) {
      FloatMatrix expected, got;
      matmul(mode, by_rows, x, expected, pool);
      matmul(mode, by_panels, x, got, pool);
      EXPECT_EQ(std::vector<float>(got.data().begin(), got.data().end()),
                std::vector<float>(expected.data().begin(), expected.data().end()))
          << type_name(type);
    }
    // A slice of whole groups (an expert of a stacked tensor) keeps its layout.
    const WeightMatrix slice = by_panels.slice_rows(16, 16);
    std::vector<float> a(cols), b(cols);
    dequantize_weight_row(slice, 5, a);
    dequantize_weight_row(by_rows, 21, b);
    EXPECT_EQ(a, b);
  }
}

}  // namespace
}  // namespace tandem
