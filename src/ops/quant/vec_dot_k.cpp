// Scalar dot products of the K-quant formats with Q8_K activations. As ggml's scalar
// kernels: the 256 weight levels are expanded to int8, products are accumulated into
// 8 integer lanes (element i goes to lane i % 8) weighted by the sub-block scale, each
// lane is scaled by d_w * d_a into a float lane sum over super-blocks, and the offsets
// of Q4_K / Q5_K are applied per super-block from the activation block sums
// (bsums). The float lanes are added last, in order.

#include <array>

#include "ops/quant/blocks.h"
#include "ops/quant/vec_dot_formats.h"
#include "platform/half.h"

namespace tandem::quant {
namespace {

constexpr int kLanes = 8;

using Levels = std::array<int8_t, kSuperBlock>;  // weight levels in element order
using LaneSums = std::array<int32_t, kLanes>;

// sum over elements of scale(group) * w * a, lane by lane; `group_size` elements share
// a scale.
LaneSums lane_sums(const Levels& w, const int8_t* q8, const int* scales, int group_size) {
  LaneSums lanes{};
  for (int i = 0; i < kSuperBlock; ++i) {
    const int16_t product = static_cast<int16_t>(w[i] * q8[i]);
    lanes[i % kLanes] += scales[i / group_size] * product;
  }
  return lanes;
}

// Shared by Q4_K and Q5_K once the levels are expanded.
void accumulate_k4(const Levels& levels, const uint8_t* packed_scales, uint16_t d_bits,
                   uint16_t dmin_bits, const BlockQ8_K& y, std::array<float, kLanes>& float_lanes,
                   float& sum) {
  int scales[8];
  int mins[8];
  for (int j = 0; j < 8; ++j) {
    const ScaleMin sm = unpack_k4_scale_min(j, packed_scales);
    scales[j] = sm.scale;
    mins[j] = sm.min;
  }
  // Offsets: sum of min(sub-block) * activation sum, from the 16-element bsums.
  int min_sum = 0;
  for (int g = 0; g < kSuperBlock / 16; ++g) min_sum += y.bsums[g] * mins[g / 2];
  const LaneSums lanes = lane_sums(levels, y.qs, scales, 32);
  const float d = f16_to_f32(d_bits) * y.d;
  for (int l = 0; l < kLanes; ++l) float_lanes[l] += d * static_cast<float>(lanes[l]);
  const float dmin = f16_to_f32(dmin_bits) * y.d;
  sum -= dmin * static_cast<float>(min_sum);
}

float finish(const std::array<float, kLanes>& float_lanes, float sum) {
  for (float lane : float_lanes) sum += lane;
  return sum;
}

}  // namespace

float dot_q4_k_q8_k(const void* w, const void* a, size_t n) {
  std::array<float, kLanes> float_lanes{};
  float sum = 0;
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load_block<BlockQ4_K>(w, b);
    const auto y = load_block<BlockQ8_K>(a, b);
    Levels levels;
    for (int g = 0; g < kSuperBlock / 64; ++g) {
      for (int l = 0; l < 32; ++l) {
        levels[64 * g + l] = static_cast<int8_t>(x.qs[32 * g + l] & 0xF);
        levels[64 * g + 32 + l] = static_cast<int8_t>(x.qs[32 * g + l] >> 4);
      }
    }
    accumulate_k4(levels, x.scales, x.d, x.dmin, y, float_lanes, sum);
  }
  return finish(float_lanes, sum);
}

float dot_q5_k_q8_k(const void* w, const void* a, size_t n) {
  std::array<float, kLanes> float_lanes{};
  float sum = 0;
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load_block<BlockQ5_K>(w, b);
    const auto y = load_block<BlockQ8_K>(a, b);
    Levels levels;
    for (int g = 0; g < kSuperBlock / 64; ++g) {
      for (int l = 0; l < 32; ++l) {
        const int high_low = (x.qh[l] >> (2 * g)) & 1;
        const int high_high = (x.qh[l] >> (2 * g + 1)) & 1;
        levels[64 * g + l] = static_cast<int8_t>((x.qs[32 * g + l] & 0xF) | (high_low << 4));
        levels[64 * g + 32 + l] = static_cast<int8_t>((x.qs[32 * g + l] >> 4) | (high_high << 4));
      }
    }
    accumulate_k4(levels, x.scales, x.d, x.dmin, y, float_lanes, sum);
  }
  return finish(float_lanes, sum);
}

float dot_q6_k_q8_k(const void* w, const void* a, size_t n) {
  std::array<float, kLanes> float_lanes{};
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load_block<BlockQ6_K>(w, b);
    const auto y = load_block<BlockQ8_K>(a, b);
    Levels levels;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x.ql + 64 * h;
      const uint8_t* qh = x.qh + 32 * h;
      int8_t* out = levels.data() + 128 * h;
      for (int l = 0; l < 32; ++l) {
        out[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        out[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        out[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        out[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int scales[16];
    for (int g = 0; g < 16; ++g) scales[g] = x.scales[g];
    const LaneSums lanes = lane_sums(levels, y.qs, scales, 16);
    const float d = f16_to_f32(x.d) * y.d;
    for (int l = 0; l < kLanes; ++l) float_lanes[l] += d * static_cast<float>(lanes[l]);
  }
  return finish(float_lanes, 0.0f);
}

}  // namespace tandem::quant
