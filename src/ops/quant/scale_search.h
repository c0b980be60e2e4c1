#pragma once
// Scale searches used by the K-quant quantizers. Their arithmetic follows ggml's
// reference quantizers step for step (same candidate scales, same float operations),
// so tandem quantizes a given F32 row to the same blocks as llama-quantize without an
// importance matrix.

#include <bit>
#include <cstdint>
#include <span>

namespace tandem::quant {

// Rounds to the nearest integer, ties to even, for |value| < 2^22: adding 1.5 * 2^23
// leaves the rounded integer in the low mantissa bits.
inline int nearest_int(float value) {
  const float shifted = value + 12582912.0f;
  return static_cast<int>(std::bit_cast<uint32_t>(shifted) & 0x007fffffu) - 0x00400000;
}

// Fits x[i] ~= scale * L[i] - min with L[i] in 0..max_level, minimizing the
// weighted squared error. Starts from the range [min(x, 0), max(x)] and tries
// nstep + 1 further level counts (max_level + rmin + k * rdelta) with a least-squares
// refit of scale and min each, keeping the best. Writes L (x.size() levels, aux is
// scratch of the same size), returns scale and stores min (>= 0) in *min_out.
float fit_scale_and_min(std::span<const float> x, std::span<const float> weights, int max_level,
                        float rmin, float rdelta, int nstep, std::span<uint8_t> levels,
                        std::span<uint8_t> aux, float* min_out);

// Fits x[i] ~= scale * (L[i] - half_levels) with L[i] - half_levels in
// -half_levels .. half_levels - 1, weighting each element by x[i]^2. Tries 19
// candidate scales around half_levels / max|x| with a least-squares refit each.
// Returns the signed scale (0 for an all-zero group); L is written as L + half_levels.
float fit_symmetric_scale(std::span<const float> x, int half_levels, std::span<int8_t> levels);

}  // namespace tandem::quant
