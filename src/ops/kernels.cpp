#include "ops/kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "platform/error.h"

namespace tandem {

void rms_norm(std::span<const float> x, std::span<const float> weight, float eps,
              std::span<float> out) {
  TANDEM_CHECK(weight.size() == x.size() && out.size() == x.size(), "rms_norm sizes ", x.size(),
               " ", weight.size(), " ", out.size());
  // Sum of squares in double, as ggml_compute_forward_rms_norm does, in kLanes independent
  // partial sums (vector lanes; one chain of dependent adds would take 4 cycles a value).
  constexpr size_t kLanes = 8;
  double partial[kLanes] = {};
  const size_t whole = x.size() - x.size() % kLanes;
  for (size_t i = 0; i < whole; i += kLanes) {
    for (size_t lane = 0; lane < kLanes; ++lane) {
      partial[lane] += static_cast<double>(x[i + lane]) * static_cast<double>(x[i + lane]);
    }
  }
  double sum = 0.0;
  for (double p : partial) sum += p;
  for (size_t i = whole; i < x.size(); ++i) sum += static_cast<double>(x[i]) * x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(x.size()));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] * scale * weight[i];
}

void rope_angles(int position, size_t rope_dims, float theta_base, std::span<float> cos_theta,
                 std::span<float> sin_theta) {
  const size_t half = rope_dims / 2;
  TANDEM_CHECK(rope_dims % 2 == 0 && cos_theta.size() >= half && sin_theta.size() >= half,
               "rope angles for ", rope_dims, " dims");
  // The angle is advanced by a float multiply per pair, as ggml's rope cache does; the
  // rounding of this recurrence is part of what llama.cpp computes.
  const float theta_scale = std::pow(theta_base, -2.0f / static_cast<float>(rope_dims));
  float theta = static_cast<float>(position);
  for (size_t i = 0; i < half; ++i) {
    cos_theta[i] = std::cos(theta);
    sin_theta[i] = std::sin(theta);
    theta *= theta_scale;
  }
}

void rope_neox_rotate(std::span<float> head, std::span<const float> cos_theta,
                      std::span<const float> sin_theta) {
  const size_t half = cos_theta.size();
  TANDEM_CHECK(sin_theta.size() == half && 2 * half <= head.size(), "rope over ", 2 * half, " of ",
               head.size(), " dims");
  for (size_t i = 0; i < half; ++i) {
    const float x0 = head[i];
    const float x1 = head[i + half];
    head[i] = x0 * cos_theta[i] - x1 * sin_theta[i];
    head[i + half] = x0 * sin_theta[i] + x1 * cos_theta[i];
  }
}

void rope_neox(std::span<float> head, int position, size_t rope_dims, float theta_base) {
  TANDEM_CHECK(rope_dims % 2 == 0 && rope_dims <= head.size(), "rope over ", rope_dims, " of ",
               head.size(), " dims");
  std::vector<float> cos_theta(rope_dims / 2);
  std::vector<float> sin_theta(rope_dims / 2);
  rope_angles(position, rope_dims, theta_base, cos_theta, sin_theta);
  rope_neox_rotate(head, cos_theta, sin_theta);
}

void softmax(std::span<float> x) {
  if (x.empty()) return;
  const float max_value = *std::max_element(x.begin(), x.end());
  double sum = 0.0;
  for (float& v : x) {
    v = std::exp(v - max_value);
    sum += v;
  }
  const float inverse = static_cast<float>(1.0 / sum);
  for (float& v : x) v *= inverse;
}

void swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  TANDEM_CHECK(gate.size() == up.size() && out.size() == up.size(), "swiglu sizes");
  for (size_t i = 0; i < out.size(); ++i) out[i] = silu(gate[i]) * up[i];
}

void add_in_place(std::span<float> x, std::span<const float> y) {
  TANDEM_CHECK(x.size() == y.size(), "add sizes ", x.size(), " ", y.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
}

size_t argmax(std::span<const float> x) {
  size_t best = 0;
  for (size_t i = 1; i < x.size(); ++i) {
    if (x[i] > x[best]) best = i;
  }
  return best;
}

}  // namespace tandem
