#pragma once
// The recurrent memory of one sequence for the Gated DeltaNet layers of a model: per
// layer a conv state and a delta-rule state. Its size is fixed by the configuration,
// whatever the context length (unlike a KV cache), so memory planning can count it
// per sequence up front with RecurrentState::bytes_for().

#include <cstddef>
#include <span>
#include <vector>

#include "ops/conv1d.h"
#include "ops/deltanet.h"

namespace tandem {

// The dimensions of one Gated DeltaNet layer, from GGUF:
//   key_heads = ssm.group_count, value_heads = ssm.time_step_rank,
//   key_dim = ssm.state_size, value_dim = ssm.inner_size / value_heads,
//   conv_kernel = ssm.conv_kernel.
struct DeltaNetDims {
  size_t key_heads = 0;
  size_t value_heads = 0;
  size_t key_dim = 0;
  size_t value_dim = 0;
  size_t conv_kernel = 0;
  KeyHeadOrder order = KeyHeadOrder::kTiled;  // kGrouped for qwen3next files

  DeltaNetShape rule_shape() const { return {key_heads, value_heads, key_dim, value_dim, order}; }
  size_t key_width() const { return key_heads * key_dim; }        // q or k part of a row
  size_t value_width() const { return value_heads * value_dim; }  // v part, = inner size
  // Channels of the conv: q, k and v of a token, in that order.
  size_t conv_channels() const { return 2 * key_width() + value_width(); }
  Conv1dShape conv_shape() const { return {conv_channels(), conv_kernel}; }
  size_t conv_state_floats() const { return conv_channels() * (conv_kernel - 1); }
  size_t delta_state_floats() const { return value_heads * value_dim * key_dim; }
  size_t layer_state_floats() const { return conv_state_floats() + delta_state_floats(); }
};

// A non-owning view of one sequence's recurrent memory laid out as RecurrentState
// lays it out (per layer: conv state, then delta state), for storage held elsewhere
// (a cache keyed by sequence).
class RecurrentStateView {
 public:
  RecurrentStateView(const DeltaNetDims& dims, size_t layer_count, std::span<float> data);

  size_t layer_count() const { return layer_count_; }
  // [conv_channels][conv_kernel - 1]
  std::span<float> conv_state(size_t layer) const;
  // [value_heads][value_dim][key_dim]
  std::span<float> delta_state(size_t layer) const;

 private:
  DeltaNetDims dims_;
  size_t layer_count_;
  std::span<float> data_;
};

class RecurrentState {
 public:
  // State for `layer_count` DeltaNet layers (numbered 0.. in model order), all zero.
  RecurrentState(const DeltaNetDims& dims, size_t layer_count);

  // Bytes a sequence needs for `layer_count` layers of `dims` (F32 states).
  static size_t bytes_for(const DeltaNetDims& dims, size_t layer_count);
  size_t bytes() const { return data_.size() * sizeof(float); }

  const DeltaNetDims& dims() const { return dims_; }
  size_t layer_count() const { return layer_count_; }
  RecurrentStateView view() { return {dims_, layer_count_, data_}; }
  // [conv_channels][conv_kernel - 1]
  std::span<float> conv_state(size_t layer) { return view().conv_state(layer); }
  // [value_heads][value_dim][key_dim]
  std::span<float> delta_state(size_t layer) { return view().delta_state(layer); }

  // Back to a fresh sequence.
  void reset();

 private:
  DeltaNetDims dims_;
  size_t layer_count_;
  std::vector<float> data_;  // per layer: conv state, then delta state
};

}  // namespace tandem
