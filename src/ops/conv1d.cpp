#include "ops/conv1d.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "platform/error.h"

namespace tandem {

void causal_conv1d(const Conv1dShape& shape, std::span<const float> input,
                   std::span<const float> weight, std::span<float> state, std::span<float> out,
                   Conv1dActivation activation, ThreadPool& pool) {
  const size_t channels = shape.channels;
  const size_t kernel = shape.kernel;
  TANDEM_CHECK(channels > 0 && kernel > 0);
  TANDEM_CHECK(input.size() % channels == 0, "input is not [tokens][channels]");
  const size_t tokens = input.size() / channels;
  const size_t history = kernel - 1;
  TANDEM_CHECK(weight.size() == channels * kernel, "weight is not [channels][kernel]");
  TANDEM_CHECK(state.size() == channels * history, "state is not [channels][kernel - 1]");
  TANDEM_CHECK(out.size() == input.size());
  if (tokens == 0) return;

  pool.parallel_for(
      channels,
      [&](size_t begin, size_t end, size_t) {
        // One channel's window: its history, then its inputs over time.
        std::vector<float> window(history + tokens);
        for (size_t c = begin; c < end; ++c) {
          float* channel_state = state.data() + c * history;
          std::copy(channel_state, channel_state + history, window.begin());
          for (size_t t = 0; t < tokens; ++t) window[history + t] = input[t * channels + c];
          const float* taps = weight.data() + c * kernel;
          for (size_t t = 0; t < tokens; ++t) {
            float sum = 0.0f;
            for (size_t j = 0; j < kernel; ++j) sum += window[t + j] * taps[j];
            if (activation == Conv1dActivation::kSilu) sum = sum / (1.0f + std::exp(-sum));
            out[t * channels + c] = sum;
          }
          std::copy(window.end() - static_cast<std::ptrdiff_t>(history), window.end(),
                    channel_state);
        }
      },
      16);
}

}  // namespace tandem
