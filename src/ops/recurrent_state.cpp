#include "ops/recurrent_state.h"

#include <algorithm>

#include "platform/error.h"

namespace tandem {

RecurrentState::RecurrentState(const DeltaNetDims& dims, size_t layer_count)
    : dims_(dims), layer_count_(layer_count), data_(layer_count * dims.layer_state_floats()) {
  TANDEM_CHECK(dims.conv_kernel >= 1 && dims.key_heads > 0 && dims.value_heads > 0);
}

size_t RecurrentState::bytes_for(const DeltaNetDims& dims, size_t layer_count) {
  return layer_count * dims.layer_state_floats() * sizeof(float);
}

RecurrentStateView::RecurrentStateView(const DeltaNetDims& dims, size_t layer_count,
                                       std::span<float> data)
    : dims_(dims), layer_count_(layer_count), data_(data) {
  TANDEM_CHECK(data.size() == layer_count * dims.layer_state_floats(), "recurrent state of ",
               data.size(), " floats for ", layer_count, " layers");
}

std::span<float> RecurrentStateView::conv_state(size_t layer) const {
  TANDEM_CHECK(layer < layer_count_);
  return data_.subspan(layer * dims_.layer_state_floats(), dims_.conv_state_floats());
}

std::span<float> RecurrentStateView::delta_state(size_t layer) const {
  TANDEM_CHECK(layer < layer_count_);
  return data_.subspan(layer * dims_.layer_state_floats() + dims_.conv_state_floats(),
                       dims_.delta_state_floats());
}

void RecurrentState::reset() { std::fill(data_.begin(), data_.end(), 0.0f); }

}  // namespace tandem
