#include "model/model_config.h"

#include "gguf/model_file.h"
#include "platform/error.h"

namespace tandem {
namespace {

Architecture parse_architecture(const std::string& name, const std::string& path) {
  if (name == "qwen3") return Architecture::kQwen3;
  if (name == "qwen3moe") return Architecture::kQwen3Moe;
  if (name == "qwen35moe") return Architecture::kQwen35Moe;
  throw Error(
      str_cat(path, ": architecture '", name, "' is not supported (qwen3, qwen3moe, qwen35moe)"));
}

size_t positive(const ModelFile& model, std::string_view suffix) {
  const std::string key = model.arch_key(suffix);
  const uint64_t value = model.get_uint(key);
  if (value == 0) throw Error(str_cat(model.path(), ": ", key, " is 0"));
  return static_cast<size_t>(value);
}

size_t optional_uint(const ModelFile& model, std::string_view suffix, size_t fallback) {
  return static_cast<size_t>(model.get_uint_opt(model.arch_key(suffix)).value_or(fallback));
}

}  // namespace

std::string_view architecture_name(Architecture arch) {
  switch (arch) {
    case Architecture::kQwen3:
      return "qwen3";
    case Architecture::kQwen3Moe:
      return "qwen3moe";
    case Architecture::kQwen35Moe:
      return "qwen35moe";
  }
  return "unknown";
}

ModelConfig ModelConfig::from_model(const ModelFile& model) {
  ModelConfig c;
  c.arch = parse_architecture(model.architecture(), model.path());
  c.layer_count = positive(model, "block_count");
  c.hidden = positive(model, "embedding_length");
  c.head_count = positive(model, "attention.head_count");
  c.kv_head_count = optional_uint(model, "attention.head_count_kv", c.head_count);
  c.head_dim = optional_uint(model, "attention.key_length", c.hidden / c.head_count);
  c.value_head_dim = optional_uint(model, "attention.value_length", c.head_dim);
  c.ffn_hidden = optional_uint(model, "feed_forward_length", 0);
  c.rope_theta =
      static_cast<float>(model.get_float_opt(model.arch_key("rope.freq_base")).value_or(10000.0));
  c.rope_dims = optional_uint(model, "rope.dimension_count", c.head_dim);
  c.rms_eps =
      static_cast<float>(model.get_float(model.arch_key("attention.layer_norm_rms_epsilon")));
  c.context_length = positive(model, "context_length");
  // A pipeline stage's shard may not hold token_embd; it carries <arch>.vocab_size.
  const TensorInfo* embedding = model.find_tensor("token_embd.weight");
  c.vocab_size = embedding ? embedding->row_count() : model.get_uint(model.arch_key("vocab_size"));

  if (c.kv_head_count == 0 || c.head_count % c.kv_head_count != 0) {
    throw Error(str_cat(model.path(), ": ", model.arch_key("attention.head_count"), " = ",
                        c.head_count, " is not a multiple of ",
                        model.arch_key("attention.head_count_kv"), " = ", c.kv_head_count));
  }
  if (c.value_head_dim != c.head_dim) {
    throw Error(str_cat(model.path(), ": ", model.arch_key("attention.value_length"), " = ",
                        c.value_head_dim, " differs from ", model.arch_key("attention.key_length"),
                        " = ", c.head_dim, " (not supported)"));
  }
  if (c.rope_dims == 0 || c.rope_dims % 2 != 0 || c.rope_dims > c.head_dim) {
    throw Error(str_cat(model.path(), ": ", model.arch_key("rope.dimension_count"), " = ",
                        c.rope_dims, " must be even and at most the head dimension ", c.head_dim));
  }

  if (c.arch == Architecture::kQwen3) {
    c.ffn_hidden = positive(model, "feed_forward_length");
  } else {
    c.expert_count = positive(model, "expert_count");
    c.experts_used = positive(model, "expert_used_count");
    c.expert_ffn_hidden = positive(model, "expert_feed_forward_length");
    if (c.experts_used > c.expert_count) {
      throw Error(str_cat(model.path(), ": ", model.arch_key("expert_used_count"), " = ",
                          c.experts_used, " exceeds ", model.arch_key("expert_count"), " = ",
                          c.expert_count));
    }
  }
  if (c.arch == Architecture::kQwen35Moe) {
    c.shared_expert_ffn_hidden = optional_uint(model, "expert_shared_feed_forward_length", 0);
    if (model.has(model.arch_key("rope.dimension_sections"))) {
      c.rope_sections = model.get_int_array(model.arch_key("rope.dimension_sections"));
    }
    c.full_attention_interval = positive(model, "full_attention_interval");
    c.ssm_conv_kernel = positive(model, "ssm.conv_kernel");
    c.ssm_state_size = positive(model, "ssm.state_size");
    c.ssm_group_count = positive(model, "ssm.group_count");
    c.ssm_time_step_rank = positive(model, "ssm.time_step_rank");
    c.ssm_inner_size = positive(model, "ssm.inner_size");
  }
  return c;
}

}  // namespace tandem
