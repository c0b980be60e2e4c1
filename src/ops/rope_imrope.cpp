#include "ops/rope_imrope.h"

#include <cmath>

#include "platform/error.h"

namespace tandem {

bool imrope_pair_uses_position(const ImropeOptions& options, size_t pair) {
  const auto& sections = options.sections;
  const int32_t total = sections[0] + sections[1] + sections[2] + sections[3];
  TANDEM_CHECK(total > 0, "rope sections are all zero");
  const int32_t sector = static_cast<int32_t>(pair % static_cast<size_t>(total));
  if (sector % 3 == 1 && sector < 3 * sections[1]) return true;  // h
  if (sector % 3 == 2 && sector < 3 * sections[2]) return true;  // w
  if (sector % 3 == 0 && sector < 3 * sections[0]) return true;  // t
  return false;                                                  // e, 0 for text
}

void apply_imrope_text(const ImropeOptions& options, std::span<const int32_t> positions,
                       std::span<float> x) {
  const size_t dim = options.head_dim;
  const size_t half = options.rotated_dims / 2;
  TANDEM_CHECK(dim > 0 && options.rotated_dims % 2 == 0 && options.rotated_dims <= dim);
  TANDEM_CHECK(x.size() % dim == 0);
  const size_t tokens = positions.size();
  TANDEM_CHECK(tokens > 0 && (x.size() / dim) % tokens == 0, "x is not [tokens][heads][dim]");
  const size_t heads = x.size() / dim / tokens;
  const float theta_scale = std::pow(options.theta, -2.0f / static_cast<float>(2 * half));
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t pair = 0; pair < half; ++pair) {
      if (!imrope_pair_uses_position(options, pair)) continue;
      const float angle =
          static_cast<float>(positions[t]) * std::pow(theta_scale, static_cast<float>(pair));
      const float cos_angle = std::cos(angle);
      const float sin_angle = std::sin(angle);
      for (size_t h = 0; h < heads; ++h) {
        float* head = x.data() + (t * heads + h) * dim;
        const float x0 = head[pair];
        const float x1 = head[pair + half];
        head[pair] = x0 * cos_angle - x1 * sin_angle;
        head[pair + half] = x0 * sin_angle + x1 * cos_angle;
      }
    }
  }
}

}  // namespace tandem
