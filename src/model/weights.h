#pragma once
// Weight views over a model file's tensors (no copies: the file mapping is the
// storage), and the per-layer weight groups that the shared blocks take. Lookups
// check names, types and shapes and throw Error naming the tensor.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ops/weight_matrix.h"

namespace tandem {

class ModelFile;
struct TensorInfo;

// A 2-D tensor of shape ne = [cols, rows] as a matrix view.
WeightMatrix weight_matrix(const TensorInfo& tensor);

class WeightLookup {
 public:
  explicit WeightLookup(const ModelFile& model) : model_(model) {}

  bool has(std::string_view name) const;
  // A [rows][cols] matrix (ggml shape [cols, rows]) of any type tandem can dequantize.
  WeightMatrix matrix(std::string_view name, size_t rows, size_t cols) const;
  // An F32 vector of `size` elements.
  std::span<const float> vector(std::string_view name, size_t size) const;
  // A stacked expert tensor (ggml shape [cols, rows, count]) as `count` matrices.
  std::vector<WeightMatrix> experts(std::string_view name, size_t count, size_t rows,
                                    size_t cols) const;

 private:
  const ModelFile& model_;
};

// "blk.<layer>.<suffix>".
std::string layer_tensor(size_t layer, std::string_view suffix);

// Pre-norm self-attention with per-head QK-norm (Qwen3 family).
struct AttentionWeights {
  std::span<const float> norm;    // attn_norm [hidden]
  WeightMatrix q;                 // attn_q [q_rows][hidden]
  WeightMatrix k;                 // attn_k [kv_heads * head_dim][hidden]
  WeightMatrix v;                 // attn_v [kv_heads * head_dim][hidden]
  WeightMatrix output;            // attn_output [hidden][heads * head_dim]
  std::span<const float> q_norm;  // attn_q_norm [head_dim] (empty: no QK-norm)
  std::span<const float> k_norm;  // attn_k_norm [head_dim]
};

// Pre-norm SwiGLU FFN: down(silu(gate x) * up x).
struct DenseFfnWeights {
  std::span<const float> norm;  // ffn_norm [hidden]
  WeightMatrix gate;            // ffn_gate [ffn][hidden]
  WeightMatrix up;              // ffn_up [ffn][hidden]
  WeightMatrix down;            // ffn_down [hidden][ffn]
};

// Pre-norm routed experts, each a SwiGLU FFN.
struct MoeFfnWeights {
  std::span<const float> norm;     // ffn_norm [hidden]
  WeightMatrix router;             // ffn_gate_inp [experts][hidden]
  std::vector<WeightMatrix> gate;  // ffn_gate_exps, per expert [expert_ffn][hidden]
  std::vector<WeightMatrix> up;    // ffn_up_exps, per expert [expert_ffn][hidden]
  std::vector<WeightMatrix> down;  // ffn_down_exps, per expert [hidden][expert_ffn]
};

// The weights outside the layers.
struct EmbeddingWeights {
  WeightMatrix token_embedding;        // token_embd [vocab][hidden]
  std::span<const float> output_norm;  // output_norm [hidden]
  WeightMatrix output;                 // output [vocab][hidden], token_embd when tied
};

struct ModelConfig;

AttentionWeights load_attention_weights(const WeightLookup& lookup, const ModelConfig& config,
                                        size_t layer);
DenseFfnWeights load_dense_ffn_weights(const WeightLookup& lookup, const ModelConfig& config,
                                       size_t layer);
MoeFfnWeights load_moe_ffn_weights(const WeightLookup& lookup, const ModelConfig& config,
                                   size_t layer);
// `input`: token_embedding; `output`: output_norm and output. What is not asked for
// stays empty (a pipeline stage's file may not hold it).
EmbeddingWeights load_embedding_weights(const WeightLookup& lookup, const ModelConfig& config,
                                        bool input = true, bool output = true);

}  // namespace tandem
