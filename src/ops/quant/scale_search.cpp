#include "ops/quant/scale_search.h"

#include <algorithm>
#include <cmath>

namespace tandem::quant {
namespace {

// Groups whose largest magnitude is below this are treated as all zero.
constexpr float kGroupMaxEps = 1e-15f;

}  // namespace

float fit_scale_and_min(std::span<const float> x, std::span<const float> weights, int max_level,
                        float rmin, float rdelta, int nstep, std::span<uint8_t> levels,
                        std::span<uint8_t> aux, float* min_out) {
  const size_t n = x.size();
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (size_t i = 1; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  min = std::min(min, 0.0f);  // the offset only ever shifts values up
  if (max == min) {
    std::fill(levels.begin(), levels.end(), uint8_t{0});
    *min_out = -min;
    return 0.0f;
  }
  const auto level_for = [&](float inverse_scale, size_t i) {
    return static_cast<uint8_t>(
        std::clamp(nearest_int(inverse_scale * (x[i] - min)), 0, max_level));
  };

  float inverse_scale = static_cast<float>(max_level) / (max - min);
  float scale = 1 / inverse_scale;
  float best_error = 0;
  for (size_t i = 0; i < n; ++i) {
    levels[i] = level_for(inverse_scale, i);
    const float diff = scale * levels[i] + min - x[i];
    best_error += weights[i] * (diff * diff);
  }
  if (nstep < 1) {
    *min_out = -min;
    return scale;
  }
  // Each candidate is measured from the best offset found so far.
  for (int step = 0; step <= nstep; ++step) {
    inverse_scale =
        (rmin + rdelta * static_cast<float>(step) + static_cast<float>(max_level)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (size_t i = 0; i < n; ++i) {
      const int l = level_for(inverse_scale, i);
      aux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * static_cast<float>(l);
      sum_l2 += w * static_cast<float>(l) * static_cast<float>(l);
      sum_xl += w * static_cast<float>(l) * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0) {  // a positive offset is not representable: refit the scale alone
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float error = 0;
    for (size_t i = 0; i < n; ++i) {
      const float diff = this_scale * aux[i] + this_min - x[i];
      error += weights[i] * (diff * diff);
    }
    if (error < best_error) {
      std::copy(aux.begin(), aux.end(), levels.begin());
      best_error = error;
      scale = this_scale;
      min = this_min;
    }
  }
  *min_out = -min;
  return scale;
}

float fit_symmetric_scale(std::span<const float> x, int half_levels, std::span<int8_t> levels) {
  const size_t n = x.size();
  float max = 0;
  float amax = 0;
  for (size_t i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(levels.begin(), levels.end(), int8_t{0});
    return 0.0f;
  }
  const auto level_for = [&](float inverse_scale, size_t i) {
    return std::clamp(nearest_int(inverse_scale * x[i]), -half_levels, half_levels - 1);
  };
  // Weighted sums sum(w x l) and sum(w l^2) with w = x^2; the best scale for fixed
  // levels is their ratio, and the error shrinks as sumlx^2 / suml2 grows.
  const auto sums = [&](float inverse_scale, float* sumlx, float* suml2) {
    *sumlx = 0;
    *suml2 = 0;
    for (size_t i = 0; i < n; ++i) {
      const int l = level_for(inverse_scale, i);
      const float w = x[i] * x[i];
      *sumlx += w * x[i] * static_cast<float>(l);
      *suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
  };
  // The largest magnitude maps to level -half_levels, the one level without a mirror.
  float inverse_scale = static_cast<float>(-half_levels) / max;
  for (size_t i = 0; i < n; ++i) {
    levels[i] = static_cast<int8_t>(level_for(inverse_scale, i) + half_levels);
  }
  float sumlx, suml2;
  sums(inverse_scale, &sumlx, &suml2);
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    inverse_scale = -(static_cast<float>(half_levels) + 0.1f * static_cast<float>(step)) / max;
    sums(inverse_scale, &sumlx, &suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (size_t i = 0; i < n; ++i) {
        levels[i] = static_cast<int8_t>(level_for(inverse_scale, i) + half_levels);
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

}  // namespace tandem::quant
