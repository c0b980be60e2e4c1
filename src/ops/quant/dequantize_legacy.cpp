// Dequantizers of the 32-element block formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1.
// The arithmetic (int to float, then one multiply and at most one add, in float)
// matches ggml's reference dequantizers bit for bit.

#include <cstring>

#include "ops/quant/blocks.h"
#include "ops/quant/dequantize_formats.h"
#include "platform/half.h"

namespace tandem::quant {
namespace {

constexpr int kHalf = kLegacyBlock / 2;

// Bit 4 of elements j and j + 16 of a Q5 block, from the 32-bit qh field.
inline int q5_high_low_half(uint32_t qh, int j) { return static_cast<int>((qh >> j) & 1u) << 4; }
inline int q5_high_high_half(uint32_t qh, int j) {
  return static_cast<int>((qh >> (j + kHalf)) & 1u) << 4;
}

}  // namespace

void dequantize_q4_0(const void* src, std::span<float> out) {
  for (size_t b = 0; b < out.size() / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ4_0>(src, b);
    const float d = f16_to_f32(block.d);
    float* y = out.data() + b * kLegacyBlock;
    for (int j = 0; j < kHalf; ++j) {
      const int x0 = (block.qs[j] & 0xF) - 8;
      const int x1 = (block.qs[j] >> 4) - 8;
      y[j] = static_cast<float>(x0) * d;
      y[j + kHalf] = static_cast<float>(x1) * d;
    }
  }
}

void dequantize_q4_1(const void* src, std::span<float> out) {
  for (size_t b = 0; b < out.size() / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ4_1>(src, b);
    const float d = f16_to_f32(block.d);
    const float m = f16_to_f32(block.m);
    float* y = out.data() + b * kLegacyBlock;
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>(block.qs[j] & 0xF) * d + m;
      y[j + kHalf] = static_cast<float>(block.qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const void* src, std::span<float> out) {
  for (size_t b = 0; b < out.size() / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ5_0>(src, b);
    const float d = f16_to_f32(block.d);
    uint32_t qh;
    std::memcpy(&qh, block.qh, sizeof(qh));
    float* y = out.data() + b * kLegacyBlock;
    for (int j = 0; j < kHalf; ++j) {
      const int x0 = ((block.qs[j] & 0xF) | q5_high_low_half(qh, j)) - 16;
      const int x1 = ((block.qs[j] >> 4) | q5_high_high_half(qh, j)) - 16;
      y[j] = static_cast<float>(x0) * d;
      y[j + kHalf] = static_cast<float>(x1) * d;
    }
  }
}

void dequantize_q5_1(const void* src, std::span<float> out) {
  for (size_t b = 0; b < out.size() / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ5_1>(src, b);
    const float d = f16_to_f32(block.d);
    const float m = f16_to_f32(block.m);
    uint32_t qh;
    std::memcpy(&qh, block.qh, sizeof(qh));
    float* y = out.data() + b * kLegacyBlock;
    for (int j = 0; j < kHalf; ++j) {
      const int x0 = (block.qs[j] & 0xF) | q5_high_low_half(qh, j);
      const int x1 = (block.qs[j] >> 4) | q5_high_high_half(qh, j);
      y[j] = static_cast<float>(x0) * d + m;
      y[j + kHalf] = static_cast<float>(x1) * d + m;
    }
  }
}

void dequantize_q8_0(const void* src, std::span<float> out) {
  for (size_t b = 0; b < out.size() / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ8_0>(src, b);
    const float d = f16_to_f32(block.d);
    float* y = out.data() + b * kLegacyBlock;
    for (int j = 0; j < kLegacyBlock; ++j) y[j] = static_cast<float>(block.qs[j]) * d;
  }
}

void dequantize_q8_1(const void* src, std::span<float> out) {
  for (size_t b = 0; b < out.size() / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ8_1>(src, b);
    const float d = f16_to_f32(block.d);
    float* y = out.data() + b * kLegacyBlock;
    for (int j = 0; j < kLegacyBlock; ++j) y[j] = static_cast<float>(block.qs[j]) * d;
  }
}

}  // namespace tandem::quant
