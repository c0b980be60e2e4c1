// Quantizers of the K-quant super-blocks (256 elements). Q4_K / Q5_K fit a scale and
// an offset per 32-element sub-block (fit_scale_and_min), Q6_K a signed scale per
// 16-element sub-block (fit_symmetric_scale); the sub-block scales are then stored
// as 6-bit (Q4_K / Q5_K) or 8-bit (Q6_K) multiples of one F16 super-block scale and
// every element is re-rounded against the stored scales. Q8_K (activations) uses one
// F32 scale per super-block.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "ops/quant/blocks.h"
#include "ops/quant/quantize_formats.h"
#include "ops/quant/scale_search.h"
#include "platform/half.h"

namespace tandem::quant {
namespace {

constexpr int kSubBlocks = kSuperBlock / 32;  // Q4_K / Q5_K scale groups per super-block
constexpr float kGroupMaxEps = 1e-15f;

// Levels 0..max_level of one Q4_K / Q5_K super-block and its packed scales.
struct AsymmetricBlock {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kK4ScaleBytes];
  std::array<uint8_t, kSuperBlock> levels;
};

// Packs the 6-bit scale and min of sub-block j; inverse of unpack_k4_scale_min.
void pack_k4_scale_min(int j, uint8_t scale, uint8_t min, uint8_t* scales) {
  if (j < 4) {
    scales[j] = scale;
    scales[j + 4] = min;
  } else {
    scales[j + 4] = static_cast<uint8_t>((scale & 0xF) | ((min & 0xF) << 4));
    scales[j - 4] |= static_cast<uint8_t>((scale >> 4) << 6);
    scales[j] |= static_cast<uint8_t>((min >> 4) << 6);
  }
}

// Shared by Q4_K (max_level 15) and Q5_K (31); rmin and nstep are llama.cpp's
// search settings for each.
AsymmetricBlock quantize_asymmetric(const float* x, int max_level, float rmin, int nstep) {
  AsymmetricBlock out{};
  std::array<float, kSubBlocks> scales{}, mins{};
  std::array<uint8_t, 32> aux{};
  std::array<float, 32> weights{};
  float max_scale = 0;  // scales are never negative: the offset absorbs the sign
  float max_min = 0;
  for (int j = 0; j < kSubBlocks; ++j) {
    const float* xs = x + 32 * j;
    // Weight elements by magnitude plus the group's RMS, so large values count more
    // without small ones being ignored.
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = fit_scale_and_min({xs, 32}, weights, max_level, rmin, 0.1f, nstep,
                                  {out.levels.data() + 32 * j, 32}, aux, &mins[j]);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }

  const float inverse_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inverse_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  for (int j = 0; j < kSubBlocks; ++j) {
    // Narrowed before the clamp, as llama.cpp does (matters only for a negative fit).
    const auto ls =
        std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inverse_scale * scales[j])));
    const auto lm = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inverse_min * mins[j])));
    pack_k4_scale_min(j, ls, lm, out.scales);
  }
  out.d = f32_to_f16(max_scale / 63.0f);
  out.dmin = f32_to_f16(max_min / 63.0f);

  // Re-round every element against the scales as stored.
  for (int j = 0; j < kSubBlocks; ++j) {
    const ScaleMin sm = unpack_k4_scale_min(j, out.scales);
    const float d = f16_to_f32(out.d) * sm.scale;
    if (d == 0) continue;
    const float dm = f16_to_f32(out.dmin) * sm.min;
    for (int l = 0; l < 32; ++l) {
      const int level = nearest_int((x[32 * j + l] + dm) / d);
      out.levels[32 * j + l] = static_cast<uint8_t>(std::clamp(level, 0, max_level));
    }
  }
  return out;
}

}  // namespace

void quantize_q4_k(std::span<const float> in, void* dst) {
  for (size_t b = 0; b < in.size() / kSuperBlock; ++b) {
    const AsymmetricBlock q = quantize_asymmetric(in.data() + b * kSuperBlock, 15, -1.0f, 20);
    BlockQ4_K block{};
    block.d = q.d;
    block.dmin = q.dmin;
    std::memcpy(block.scales, q.scales, kK4ScaleBytes);
    // Group g of 64 elements: low nibbles hold elements 64g .. 64g + 31, high 64g + 32 ..
    for (int g = 0; g < kSuperBlock / 64; ++g) {
      for (int l = 0; l < 32; ++l) {
        block.qs[32 * g + l] =
            static_cast<uint8_t>(q.levels[64 * g + l] | (q.levels[64 * g + 32 + l] << 4));
      }
    }
    store_block(dst, b, block);
  }
}

void quantize_q5_k(std::span<const float> in, void* dst) {
  for (size_t b = 0; b < in.size() / kSuperBlock; ++b) {
    const AsymmetricBlock q = quantize_asymmetric(in.data() + b * kSuperBlock, 31, -0.5f, 15);
    BlockQ5_K block{};
    block.d = q.d;
    block.dmin = q.dmin;
    std::memcpy(block.scales, q.scales, kK4ScaleBytes);
    // As Q4_K for the low 4 bits; bit 4 of sub-block s goes to bit s of qh[l].
    for (int g = 0; g < kSuperBlock / 64; ++g) {
      for (int l = 0; l < 32; ++l) {
        const int low = q.levels[64 * g + l];
        const int high = q.levels[64 * g + 32 + l];
        block.qs[32 * g + l] = static_cast<uint8_t>((low & 0xF) | ((high & 0xF) << 4));
        block.qh[l] |= static_cast<uint8_t>(((low >> 4) << (2 * g)) | ((high >> 4) << (2 * g + 1)));
      }
    }
    store_block(dst, b, block);
  }
}

void quantize_q6_k(std::span<const float> in, void* dst) {
  constexpr int kGroups = kSuperBlock / 16;
  for (size_t b = 0; b < in.size() / kSuperBlock; ++b) {
    const float* x = in.data() + b * kSuperBlock;
    std::array<int8_t, kSuperBlock> levels{};  // 0..63, i.e. quant + 32
    std::array<float, kGroups> scales{};
    float max_scale = 0;  // signed scale of largest magnitude
    float max_abs_scale = 0;
    for (int g = 0; g < kGroups; ++g) {
      scales[g] = fit_symmetric_scale({x + 16 * g, 16}, 32, {levels.data() + 16 * g, 16});
      if (std::fabs(scales[g]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[g]);
        max_scale = scales[g];
      }
    }
    BlockQ6_K block{};
    if (max_abs_scale < kGroupMaxEps) {
      store_block(dst, b, block);  // all zero
      continue;
    }
    // Map the largest scale to -128 so the sub-block scales use the full int8 range.
    const float inverse = -128.0f / max_scale;
    block.d = f32_to_f16(1 / inverse);
    for (int g = 0; g < kGroups; ++g) {
      block.scales[g] = static_cast<int8_t>(std::min(127, nearest_int(inverse * scales[g])));
    }
    for (int g = 0; g < kGroups; ++g) {
      const float d = f16_to_f32(block.d) * block.scales[g];
      if (d == 0) continue;
      for (int l = 0; l < 16; ++l) {
        const int level = std::clamp(nearest_int(x[16 * g + l] / d), -32, 31);
        levels[16 * g + l] = static_cast<int8_t>(level + 32);
      }
    }
    // Half h, quarter k, lane l: low nibble in ql[64h + 32(k % 2) + l] (k < 2 low half of
    // the byte, else high), top 2 bits at bit 2k of qh[32h + l].
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < 32; ++l) {
        const int base = 128 * h + l;
        const int q1 = levels[base], q2 = levels[base + 32];
        const int q3 = levels[base + 64], q4 = levels[base + 96];
        block.ql[64 * h + l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        block.ql[64 * h + 32 + l] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        block.qh[32 * h + l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) |
                                                    ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
    store_block(dst, b, block);
  }
}

void quantize_q8_k(std::span<const float> in, void* dst) {
  for (size_t b = 0; b < in.size() / kSuperBlock; ++b) {
    const float* x = in.data() + b * kSuperBlock;
    BlockQ8_K block{};
    float max = 0;  // signed value of largest magnitude
    float amax = 0;
    for (int j = 0; j < kSuperBlock; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax != 0) {
      // The largest magnitude maps to -127 (never -128, which SIMD kernels could not negate).
      const float inverse = -127.0f / max;
      for (int j = 0; j < kSuperBlock; ++j) {
        block.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(inverse * x[j])));
      }
      for (int g = 0; g < kSuperBlock / 16; ++g) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += block.qs[16 * g + l];
        block.bsums[g] = static_cast<int16_t>(sum);
      }
      block.d = 1 / inverse;
    }
    store_block(dst, b, block);
  }
}

}  // namespace tandem::quant
