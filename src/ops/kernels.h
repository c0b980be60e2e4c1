#pragma once
// Element-wise and per-row kernels of the forward pass, on F32 activations. Each
// follows ggml's CPU arithmetic (accumulation width, order of float operations) so
// the reference path matches llama.cpp run on F32 weights to rounding noise. They
// are scalar loops written to vectorize; tests compare them with formulas in double.

#include <cstddef>
#include <span>

namespace tandem {

// out = x / sqrt(mean(x^2) + eps) * weight. out may alias x. weight.size() == x.size().
void rms_norm(std::span<const float> x, std::span<const float> weight, float eps,
              std::span<float> out);

// NEOX-style rotary embedding of one head in place: for i < rope_dims / 2 the pair
// (x[i], x[i + rope_dims / 2]) is rotated by position * theta_base^(-2i / rope_dims);
// elements from rope_dims on pass through.
void rope_neox(std::span<float> head, int position, size_t rope_dims, float theta_base);

// The rotation of rope_neox split in two, so that the heads of one token share one set of
// angles: rope_angles fills cos_theta / sin_theta [rope_dims / 2] for `position`, and
// rope_neox_rotate applies them to a head. Together they compute exactly rope_neox.
void rope_angles(int position, size_t rope_dims, float theta_base, std::span<float> cos_theta,
                 std::span<float> sin_theta);
void rope_neox_rotate(std::span<float> head, std::span<const float> cos_theta,
                      std::span<const float> sin_theta);

// In place: x = exp(x - max) / sum.
void softmax(std::span<float> x);

inline float silu(float x);

// out[i] = silu(gate[i]) * up[i]. out may alias gate or up.
void swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out);

// x[i] += y[i].
void add_in_place(std::span<float> x, std::span<const float> y);

// Index of the largest element, the lowest index on ties.
size_t argmax(std::span<const float> x);

}  // namespace tandem

#include <cmath>

inline float tandem::silu(float x) { return x / (1.0f + std::exp(-x)); }
