// Scalar dot products of the 32-element formats with Q8_0 / Q8_1 activations: an
// integer sum per block, then (in float, in ggml's order) the block scales. For Q4_1 /
// Q5_1 the offset m contributes m * s, where the activation block stores
// s = d * sum(q).

#include <cstring>

#include "ops/quant/blocks.h"
#include "ops/quant/vec_dot_formats.h"
#include "platform/half.h"

namespace tandem::quant {
namespace {

constexpr int kHalf = kLegacyBlock / 2;

inline uint32_t load_qh(const uint8_t (&qh)[4]) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));
  return bits;
}

// Integer dot product of one block's 4-bit (or 5-bit with qh) levels, minus `offset`,
// with 32 activation levels. Element j < 16 is the low nibble of qs[j], j + 16 the high.
int block_sum(const uint8_t* qs, uint32_t qh, int offset, const int8_t* q8) {
  int sum_low = 0, sum_high = 0;
  for (int j = 0; j < kHalf; ++j) {
    const int v0 = ((qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4)) - offset;
    const int v1 = ((qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1u) << 4)) - offset;
    sum_low += v0 * q8[j];
    sum_high += v1 * q8[j + kHalf];
  }
  return sum_low + sum_high;
}

}  // namespace

float dot_q4_0_q8_0(const void* w, const void* a, size_t n) {
  float sum = 0;
  for (size_t b = 0; b < n / kLegacyBlock; ++b) {
    const auto x = load_block<BlockQ4_0>(w, b);
    const auto y = load_block<BlockQ8_0>(a, b);
    const int sumi = block_sum(x.qs, 0, 8, y.qs);
    sum += static_cast<float>(sumi) * f16_to_f32(x.d) * f16_to_f32(y.d);
  }
  return sum;
}

float dot_q4_1_q8_1(const void* w, const void* a, size_t n) {
  float sum = 0;
  for (size_t b = 0; b < n / kLegacyBlock; ++b) {
    const auto x = load_block<BlockQ4_1>(w, b);
    const auto y = load_block<BlockQ8_1>(a, b);
    const int sumi = block_sum(x.qs, 0, 0, y.qs);
    sum += (f16_to_f32(x.d) * f16_to_f32(y.d)) * static_cast<float>(sumi) +
           f16_to_f32(x.m) * f16_to_f32(y.s);
  }
  return sum;
}

float dot_q5_0_q8_0(const void* w, const void* a, size_t n) {
  float sum = 0;
  for (size_t b = 0; b < n / kLegacyBlock; ++b) {
    const auto x = load_block<BlockQ5_0>(w, b);
    const auto y = load_block<BlockQ8_0>(a, b);
    const int sumi = block_sum(x.qs, load_qh(x.qh), 16, y.qs);
    sum += (f16_to_f32(x.d) * f16_to_f32(y.d)) * static_cast<float>(sumi);
  }
  return sum;
}

float dot_q5_1_q8_1(const void* w, const void* a, size_t n) {
  float sum = 0;
  for (size_t b = 0; b < n / kLegacyBlock; ++b) {
    const auto x = load_block<BlockQ5_1>(w, b);
    const auto y = load_block<BlockQ8_1>(a, b);
    const int sumi = block_sum(x.qs, load_qh(x.qh), 0, y.qs);
    sum += (f16_to_f32(x.d) * f16_to_f32(y.d)) * static_cast<float>(sumi) +
           f16_to_f32(x.m) * f16_to_f32(y.s);
  }
  return sum;
}

float dot_q8_0_q8_0(const void* w, const void* a, size_t n) {
  float sum = 0;
  for (size_t b = 0; b < n / kLegacyBlock; ++b) {
    const auto x = load_block<BlockQ8_0>(w, b);
    const auto y = load_block<BlockQ8_0>(a, b);
    int sumi = 0;
    for (int j = 0; j < kLegacyBlock; ++j) sumi += x.qs[j] * y.qs[j];
    sum += static_cast<float>(sumi) * (f16_to_f32(x.d) * f16_to_f32(y.d));
  }
  return sum;
}

}  // namespace tandem::quant
