// Quantizers of the 32-element formats used for activations: Q8_0 and Q8_1. As ggml's
// reference quantizers: d = max|x| / 127, q = round(x / d) with ties away from zero.

#include <algorithm>
#include <cmath>

#include "ops/quant/blocks.h"
#include "ops/quant/quantize_formats.h"
#include "platform/half.h"

namespace tandem::quant {
namespace {

// Scale of one block and its levels; returns the F32 scale before F16 rounding.
float quantize_levels(const float* x, int8_t* qs) {
  float amax = 0;
  for (int j = 0; j < kLegacyBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127;
  const float inverse = d != 0 ? 1.0f / d : 0.0f;
  for (int j = 0; j < kLegacyBlock; ++j) qs[j] = static_cast<int8_t>(std::round(x[j] * inverse));
  return d;
}

}  // namespace

void quantize_q8_0(std::span<const float> in, void* dst) {
  for (size_t b = 0; b < in.size() / kLegacyBlock; ++b) {
    BlockQ8_0 block;
    block.d = f32_to_f16(quantize_levels(in.data() + b * kLegacyBlock, block.qs));
    store_block(dst, b, block);
  }
}

void quantize_q8_1(std::span<const float> in, void* dst) {
  for (size_t b = 0; b < in.size() / kLegacyBlock; ++b) {
    BlockQ8_1 block;
    const float d = quantize_levels(in.data() + b * kLegacyBlock, block.qs);
    int sum = 0;
    for (int j = 0; j < kLegacyBlock; ++j) sum += block.qs[j];
    block.d = f32_to_f16(d);
    // s uses the unrounded d, as ggml does.
    block.s = f32_to_f16(static_cast<float>(sum) * d);
    store_block(dst, b, block);
  }
}

}  // namespace tandem::quant
