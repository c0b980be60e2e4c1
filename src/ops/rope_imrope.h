#pragma once
// IMROPE (interleaved multi-section RoPE, ggml_rope_multi with GGML_ROPE_TYPE_IMROPE) for
// text tokens, as qwen35moe's full-attention layers use it. Pairs are NEOX-style,
// (x[i], x[i + n_rot/2]) for i < n_rot/2, with frequency theta^(-2i/n_rot); dims from
// n_rot on pass through. Each pair takes one of four position components by its sector
// s = i % (sections[0] + ... + sections[3]):
//   s % 3 == 1 and s < 3 sections[1] -> h;   s % 3 == 2 and s < 3 sections[2] -> w;
//   s % 3 == 0 and s < 3 sections[0] -> t;   otherwise -> e.
// For text llama.cpp sets t = h = w = the token position and e = 0, so a pair that
// falls to e is not rotated at all (with sections [6, 6, 4, 0] and n_rot = 32: pair 14).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem {

struct ImropeOptions {
  size_t head_dim = 0;
  size_t rotated_dims = 0;            // n_rot (rope.dimension_count), even, <= head_dim
  std::array<int32_t, 4> sections{};  // rope.dimension_sections
  float theta = 10000.0f;             // rope.freq_base
};

// Whether pair i (0 <= i < n_rot/2) rotates with the token position (true) or with the
// extra component e, which is 0 for text (false).
bool imrope_pair_uses_position(const ImropeOptions& options, size_t pair);

// x: [tokens][heads][head_dim], rotated in place; positions: [tokens].
void apply_imrope_text(const ImropeOptions& options, std::span<const int32_t> positions,
                       std::span<float> x);

}  // namespace tandem
