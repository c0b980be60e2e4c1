#pragma once
// ModelConfig: every hyperparameter the forward pass needs, read once from a GGUF
// model's metadata ("<arch>.<key>"). Architecture code reads only this struct.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

class ModelFile;

enum class Architecture {
  kQwen3,      // dense SwiGLU FFN
  kQwen3Moe,   // routed experts
  kQwen35Moe,  // Gated DeltaNet + gated attention + experts with a shared expert
};

std::string_view architecture_name(Architecture arch);

struct ModelConfig {
  Architecture arch = Architecture::kQwen3;
  size_t layer_count = 0;        // block_count
  size_t hidden = 0;             // embedding_length
  size_t head_count = 0;         // attention.head_count
  size_t kv_head_count = 0;      // attention.head_count_kv
  size_t head_dim = 0;           // attention.key_length (default hidden / head_count)
  size_t value_head_dim = 0;     // attention.value_length (default head_dim)
  size_t ffn_hidden = 0;         // feed_forward_length (dense FFN width)
  size_t expert_count = 0;       // expert_count (0 for dense models)
  size_t experts_used = 0;       // expert_used_count
  size_t expert_ffn_hidden = 0;  // expert_feed_forward_length
  float rope_theta = 10000.0f;   // rope.freq_base
  size_t rope_dims = 0;          // rope.dimension_count (default head_dim)
  float rms_eps = 1e-6f;         // attention.layer_norm_rms_epsilon
  size_t vocab_size = 0;         // rows of token_embd.weight
  size_t context_length = 0;     // context_length

  // qwen35moe only (0 / empty elsewhere).
  size_t shared_expert_ffn_hidden = 0;  // expert_shared_feed_forward_length
  std::vector<int64_t> rope_sections;   // rope.dimension_sections
  size_t full_attention_interval = 0;   // full_attention_interval
  size_t ssm_conv_kernel = 0;           // ssm.conv_kernel
  size_t ssm_state_size = 0;            // ssm.state_size
  size_t ssm_group_count = 0;           // ssm.group_count
  size_t ssm_time_step_rank = 0;        // ssm.time_step_rank
  size_t ssm_inner_size = 0;            // ssm.inner_size

  bool is_moe() const { return expert_count > 0; }
  size_t q_width() const { return head_count * head_dim; }
  size_t kv_width() const { return kv_head_count * head_dim; }

  // Reads and checks the hyperparameters; throws Error naming the missing or bad key.
  static ModelConfig from_model(const ModelFile& model);
};

}  // namespace tandem
