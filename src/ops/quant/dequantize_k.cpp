// Dequantizers of the 256-element K-quant super-blocks Q4_K, Q5_K, Q6_K, Q8_K. The
// order of the float operations follows ggml's reference dequantizers so results
// agree bit for bit (e.g. Q6_K is (d * scale) * q, Q4_K is (d * scale) * q - dmin * min).

#include "ops/quant/blocks.h"
#include "ops/quant/dequantize_formats.h"
#include "platform/half.h"

namespace tandem::quant {
namespace {

constexpr int kSubBlock = 32;  // elements per scale in Q4_K / Q5_K

}  // namespace

void dequantize_q4_k(const void* src, std::span<float> out) {
  for (size_t b = 0; b < out.size() / kSuperBlock; ++b) {
    const auto block = load_block<BlockQ4_K>(src, b);
    const float d = f16_to_f32(block.d);
    const float dmin = f16_to_f32(block.dmin);
    float* y = out.data() + b * kSuperBlock;
    // Group g (64 elements) uses sub-blocks 2g (low nibbles) and 2g + 1 (high nibbles).
    for (int g = 0; g < kSuperBlock / 64; ++g) {
      const uint8_t* q = block.qs + kSubBlock * g;
      const ScaleMin low = unpack_k4_scale_min(2 * g, block.scales);
      const ScaleMin high = unpack_k4_scale_min(2 * g + 1, block.scales);
      const float d1 = d * low.scale, m1 = dmin * low.min;
      const float d2 = d * high.scale, m2 = dmin * high.min;
      for (int l = 0; l < kSubBlock; ++l) y[64 * g + l] = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < kSubBlock; ++l) {
        y[64 * g + kSubBlock + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
      }
    }
  }
}

void dequantize_q5_k(const void* src, std::span<float> out) {
  for (size_t b = 0; b < out.size() / kSuperBlock; ++b) {
    const auto block = load_block<BlockQ5_K>(src, b);
    const float d = f16_to_f32(block.d);
    const float dmin = f16_to_f32(block.dmin);
    float* y = out.data() + b * kSuperBlock;
    for (int g = 0; g < kSuperBlock / 64; ++g) {
      const uint8_t* ql = block.qs + kSubBlock * g;
      const uint8_t low_bit = static_cast<uint8_t>(1u << (2 * g));
      const uint8_t high_bit = static_cast<uint8_t>(2u << (2 * g));
      const ScaleMin low = unpack_k4_scale_min(2 * g, block.scales);
      const ScaleMin high = unpack_k4_scale_min(2 * g + 1, block.scales);
      const float d1 = d * low.scale, m1 = dmin * low.min;
      const float d2 = d * high.scale, m2 = dmin * high.min;
      for (int l = 0; l < kSubBlock; ++l) {
        const int q = (ql[l] & 0xF) + ((block.qh[l] & low_bit) ? 16 : 0);
        y[64 * g + l] = d1 * static_cast<float>(q) - m1;
      }
      for (int l = 0; l < kSubBlock; ++l) {
        const int q = (ql[l] >> 4) + ((block.qh[l] & high_bit) ? 16 : 0);
        y[64 * g + kSubBlock + l] = d2 * static_cast<float>(q) - m2;
      }
    }
  }
}

void dequantize_q6_k(const void* src, std::span<float> out) {
  for (size_t b = 0; b < out.size() / kSuperBlock; ++b) {
    const auto block = load_block<BlockQ6_K>(src, b);
    const float d = f16_to_f32(block.d);
    float* y = out.data() + b * kSuperBlock;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = block.ql + 64 * half;
      const uint8_t* qh = block.qh + 32 * half;
      const int8_t* sc = block.scales + 8 * half;
      float* yh = y + 128 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        yh[l] = d * sc[is] * static_cast<float>(q1);
        yh[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
        yh[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
        yh[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
      }
    }
  }
}

void dequantize_q8_k(const void* src, std::span<float> out) {
  for (size_t b = 0; b < out.size() / kSuperBlock; ++b) {
    const auto block = load_block<BlockQ8_K>(src, b);
    float* y = out.data() + b * kSuperBlock;
    for (int j = 0; j < kSuperBlock; ++j) y[j] = block.d * static_cast<float>(block.qs[j]);
  }
}

}  // namespace tandem::quant
