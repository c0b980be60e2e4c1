#include "ops/gated_norm.h"

#include <algorithm>
#include <cmath>

#include "platform/error.h"

namespace tandem {

void l2_normalize_rows(std::span<float> rows, size_t dim, float eps) {
  TANDEM_CHECK(dim > 0 && rows.size() % dim == 0);
  for (size_t begin = 0; begin < rows.size(); begin += dim) {
    float* row = rows.data() + begin;
    double sum = 0.0;
    for (size_t i = 0; i < dim; ++i) sum += static_cast<double>(row[i] * row[i]);
    const float scale = 1.0f / std::max(std::sqrt(static_cast<float>(sum)), eps);
    for (size_t i = 0; i < dim; ++i) row[i] *= scale;
  }
}

void gated_rms_norm(std::span<const float> x, std::span<const float> gate,
                    std::span<const float> weight, float eps, std::span<float> out) {
  const size_t dim = weight.size();
  TANDEM_CHECK(dim > 0 && x.size() % dim == 0);
  TANDEM_CHECK(gate.size() == x.size() && out.size() == x.size());
  for (size_t begin = 0; begin < x.size(); begin += dim) {
    double sum = 0.0;
    for (size_t i = 0; i < dim; ++i) sum += static_cast<double>(x[begin + i] * x[begin + i]);
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(dim)) + eps);
    for (size_t i = 0; i < dim; ++i) {
      const float g = gate[begin + i];
      const float silu = g / (1.0f + std::exp(-g));
      out[begin + i] = x[begin + i] * scale * weight[i] * silu;
    }
  }
}

}  // namespace tandem
