#pragma once
// Per-head bodies of the gated delta rule, compiled for every SIMD target Highway
// supports and chosen at run time (deltanet_kernels.cpp). Internal to ops/deltanet.cpp.

#include <cstddef>

namespace tandem::deltanet_detail {

// One value head's inputs and outputs; strides are in floats between consecutive tokens.
struct HeadData {
  const float* query;  // token t at query + t * key_stride, key_dim floats
  const float* key;
  size_t key_stride;
  const float* value;  // value_dim floats per token
  size_t value_stride;
  const float* log_decay;  // one float per token
  const float* beta;
  size_t gate_stride;
  float* out;  // value_dim floats per token
  size_t out_stride;
  size_t key_dim;
  size_t value_dim;
};

// state: this head's [value_dim][key_dim], read and updated.
void sequential_head(const HeadData& head, size_t tokens, float* state);
void chunked_head(const HeadData& head, size_t tokens, size_t chunk, float* state);

}  // namespace tandem::deltanet_detail
