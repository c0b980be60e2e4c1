#pragma once
// What a model costs, layer by layer: weight bytes, bytes read per decoded token, KV
// bytes per token of context (attention layers) and fixed state bytes per sequence
// (recurrent DeltaNet layers). Placement and the KV budget are computed from this.

#include <cstdint>
#include <vector>

#include "gguf/model_file.h"
#include "model/kv_cache.h"

namespace tandem {

struct LayerFootprint {
  uint64_t weight_bytes = 0;
  uint64_t active_bytes_per_token = 0;    // experts scaled by used / count
  uint64_t kv_bytes_per_token = 0;        // F32 K and V; 0 for recurrent layers
  uint64_t state_bytes_per_sequence = 0;  // conv + delta state; 0 for attention layers
  bool recurrent = false;
};

struct ModelFootprint {
  std::vector<LayerFootprint>
      layers;                        // the model's layers (multi-token-prediction layers excluded)
  uint64_t embedding_bytes = 0;      // token_embd
  uint64_t output_bytes = 0;         // output_norm + output (token_embd again when tied)
  uint64_t output_active_bytes = 0;  // read per token by the output stage
  uint64_t hidden_size = 0;          // activation width that crosses a stage boundary
  uint64_t context_length = 0;
  bool tied_embeddings = false;

  static ModelFootprint from_model(const ModelFile& model);

  uint64_t weight_bytes(size_t first_layer, size_t end_layer) const;
  uint64_t active_bytes(size_t first_layer, size_t end_layer) const;
  // KV (its elements of kv_type) + recurrent state of layers [first, end) for `sequences`
  // sequences of `context` tokens.
  uint64_t cache_bytes(size_t first_layer, size_t end_layer, uint64_t context, uint64_t sequences,
                       KvType kv_type = KvType::kF32) const;
  uint64_t total_weight_bytes() const;
};

}  // namespace tandem
