#pragma once
// Hyperparameters of a qwen35moe (Qwen3.5 hybrid MoE) GGUF, read once into one struct,
// with the tensor table checked against them so that a wrong file fails at load with
// the tensor's name rather than later inside a kernel. docs/qwen35moe.md lists every
// key and tensor.

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/model_file.h"
#include "ops/recurrent_state.h"
#include "ops/rope_imrope.h"

namespace tandem {

enum class Qwen35LayerKind { kDeltaNet, kAttention };

struct Qwen35MoeConfig {
  size_t embedding = 0;         // embedding_length
  size_t layer_count = 0;       // block_count
  size_t vocab = 0;             // rows of token_embd
  size_t heads = 0;             // attention.head_count
  size_t kv_heads = 0;          // attention.head_count_kv
  size_t head_dim = 0;          // attention.key_length (== value_length)
  size_t experts = 0;           // expert_count
  size_t experts_used = 0;      // expert_used_count
  size_t expert_ff = 0;         // expert_feed_forward_length
  size_t shared_expert_ff = 0;  // expert_shared_feed_forward_length
  size_t context_length = 0;
  float rms_eps = 1e-6f;                // attention.layer_norm_rms_epsilon
  bool tied_output = false;             // no output.weight: token_embd is the LM head
  ImropeOptions rope;                   // head_dim, rope.dimension_count, sections, freq_base
  DeltaNetDims deltanet;                // ssm.* keys
  std::vector<Qwen35LayerKind> layers;  // layer il: DeltaNet unless (il + 1) % interval == 0

  // Reads the keys and checks every tensor's shape; throws Error naming what is wrong.
  static Qwen35MoeConfig from_file(const ModelFile& file);

  size_t deltanet_layer_count() const;
  size_t attention_layer_count() const { return layer_count - deltanet_layer_count(); }
  // Index of layer il among the layers of its kind (its slot in the recurrent state or
  // the KV cache).
  size_t index_within_kind(size_t layer) const;

  // Memory of one sequence: the recurrent state is fixed, the KV cache (F32 K and V of
  // the attention layers) grows with the tokens kept.
  size_t recurrent_state_bytes() const {
    return RecurrentState::bytes_for(deltanet, deltanet_layer_count());
  }
  size_t kv_cache_bytes_per_token() const {
    return attention_layer_count() * 2 * kv_heads * head_dim * sizeof(float);
  }
};

}  // namespace tandem
