#pragma once
// Causal depthwise 1-D convolution over time with a rolling state, as the short
// convolution in front of Gated DeltaNet (llama.cpp's ggml_ssm_conv with the
// conv state of its recurrent memory).
//
// Each channel c has `kernel` taps. The state keeps, per channel, the previous
// kernel - 1 inputs (oldest first; zeros for a fresh sequence), so running T tokens
// at once gives exactly the same outputs and final state as T one-token calls.

#include <cstddef>
#include <span>

#include "platform/thread_pool.h"

namespace tandem {

enum class Conv1dActivation { kNone, kSilu };

struct Conv1dShape {
  size_t channels = 0;
  size_t kernel = 0;  // taps, >= 1
  size_t state_floats() const { return channels * (kernel - 1); }
};

// input:  [tokens][channels]
// weight: [channels][kernel], taps oldest first (GGUF ssm_conv1d, ne = [kernel, channels])
// state:  [channels][kernel - 1], read and replaced by the last kernel - 1 inputs
// out:    [tokens][channels], must not overlap input;
//         out[t][c] = act(sum_j window_c[t + j] * weight[c][j]),
//         window_c = state[c] followed by input[0..tokens)[c].
void causal_conv1d(const Conv1dShape& shape, std::span<const float> input,
                   std::span<const float> weight, std::span<float> state, std::span<float> out,
                   Conv1dActivation activation, ThreadPool& pool);

}  // namespace tandem
