#pragma once
// What qwen35moe derives from its ModelConfig: the Gated DeltaNet layer dimensions,
// which layers are DeltaNet and which attention, the IMROPE options, and the size of
// the fixed recurrent state each sequence needs (docs/qwen35moe.md).

#include <cstddef>

#include "model/model_config.h"
#include "ops/recurrent_state.h"
#include "ops/rope_imrope.h"

namespace tandem {

// From ssm.group_count (key heads), ssm.time_step_rank (value heads), ssm.state_size,
// ssm.inner_size and ssm.conv_kernel; tiled key-head order (qwen35moe files). Throws
// Error when they are inconsistent.
DeltaNetDims qwen35_deltanet_dims(const ModelConfig& config);

// Layer `layer` is a DeltaNet layer unless (layer + 1) % full_attention_interval == 0.
bool qwen35_is_deltanet_layer(const ModelConfig& config, size_t layer);
size_t qwen35_deltanet_layer_count(const ModelConfig& config);
// Index of a DeltaNet layer among the DeltaNet layers (its slot in the recurrent state).
size_t qwen35_deltanet_index(const ModelConfig& config, size_t layer);

// rope.dimension_count, rope.dimension_sections and rope.freq_base of the attention layers.
ImropeOptions qwen35_rope(const ModelConfig& config);

// F32 values of recurrent state one sequence needs: 0 for architectures without one.
size_t recurrent_state_floats(const ModelConfig& config);

}  // namespace tandem
