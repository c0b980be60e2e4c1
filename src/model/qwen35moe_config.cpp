#include "model/qwen35moe_config.h"

#include "platform/error.h"

namespace tandem {

DeltaNetDims qwen35_deltanet_dims(const ModelConfig& config) {
  DeltaNetDims d;
  d.key_heads = config.ssm_group_count;
  d.value_heads = config.ssm_time_step_rank;
  d.key_dim = config.ssm_state_size;
  d.conv_kernel = config.ssm_conv_kernel;
  d.order = KeyHeadOrder::kTiled;
  if (d.key_heads == 0 || d.value_heads == 0 || d.value_heads % d.key_heads != 0 ||
      config.ssm_inner_size % d.value_heads != 0 || d.conv_kernel == 0) {
    throw Error(str_cat("inconsistent DeltaNet hyperparameters: ssm.group_count ", d.key_heads,
                        ", ssm.time_step_rank ", d.value_heads, ", ssm.inner_size ",
                        config.ssm_inner_size, ", ssm.conv_kernel ", d.conv_kernel));
  }
  d.value_dim = config.ssm_inner_size / d.value_heads;
  return d;
}

bool qwen35_is_deltanet_layer(const ModelConfig& config, size_t layer) {
  TANDEM_CHECK(config.full_attention_interval > 0);
  return (layer + 1) % config.full_attention_interval != 0;
}

size_t qwen35_deltanet_layer_count(const ModelConfig& config) {
  return qwen35_deltanet_index(config, config.layer_count);
}

size_t qwen35_deltanet_index(const ModelConfig& config, size_t layer) {
  size_t count = 0;
  for (size_t il = 0; il < layer; ++il) count += qwen35_is_deltanet_layer(config, il) ? 1 : 0;
  return count;
}

ImropeOptions qwen35_rope(const ModelConfig& config) {
  ImropeOptions rope;
  rope.head_dim = config.head_dim;
  rope.rotated_dims = config.rope_dims;
  rope.theta = config.rope_theta;
  if (config.rope_sections.empty() || config.rope_sections.size() > 4) {
    throw Error(str_cat("rope.dimension_sections has ", config.rope_sections.size(),
                        " entries, expected 1 to 4"));
  }
  for (size_t i = 0; i < config.rope_sections.size(); ++i) {
    rope.sections[i] = static_cast<int32_t>(config.rope_sections[i]);
  }
  if (rope.rotated_dims % 2 != 0 || rope.rotated_dims > rope.head_dim) {
    throw Error(str_cat("rope.dimension_count ", rope.rotated_dims, " does not fit head dim ",
                        rope.head_dim));
  }
  return rope;
}

size_t recurrent_state_floats(const ModelConfig& config) {
  if (config.arch != Architecture::kQwen35Moe) return 0;
  return qwen35_deltanet_layer_count(config) * qwen35_deltanet_dims(config).layer_state_floats();
}

}  // namespace tandem
