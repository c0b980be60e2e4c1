#include "model/weights.h"

#include <cstdint>

#include "gguf/model_file.h"
#include "model/model_config.h"
#include "platform/error.h"

namespace tandem {
namespace {

std::string shape_text(const TensorInfo& tensor) {
  std::string out = "[";
  for (size_t i = 0; i < tensor.shape.size(); ++i) out += str_cat(i ? ", " : "", tensor.shape[i]);
  return out + "]";
}

void check_data(const TensorInfo& tensor) {
  if (tensor.data.size() < tensor.bytes || tensor.bytes == 0) {
    throw Error(str_cat("tensor ", tensor.name, " has no data"));
  }
  if (!traits(tensor.type).can_dequantize) {
    throw Error(str_cat("tensor ", tensor.name, " has type ", type_name(tensor.type),
                        ", which tandem cannot compute with"));
  }
}

}  // namespace

WeightMatrix weight_matrix(const TensorInfo& tensor) {
  check_data(tensor);
  const size_t cols = static_cast<size_t>(tensor.row_length());
  const size_t rows = static_cast<size_t>(tensor.row_count());
  const size_t stride = row_bytes(tensor.type, cols);
  TANDEM_CHECK(stride * rows == tensor.bytes, tensor.name, " byte count");
  return {tensor.type,
          rows,
          cols,
          stride,
          tensor.data.first(tensor.bytes),
          tensor.panels ? WeightLayout::kPanels : WeightLayout::kRows};
}

std::string layer_tensor(size_t layer, std::string_view suffix) {
  return str_cat("blk.", layer, ".", suffix);
}

bool WeightLookup::has(std::string_view name) const { return model_.find_tensor(name) != nullptr; }

WeightMatrix WeightLookup::matrix(std::string_view name, size_t rows, size_t cols) const {
  const TensorInfo& tensor = model_.tensor(name);
  if (tensor.shape.size() != 2 || static_cast<size_t>(tensor.dim(0)) != cols ||
      static_cast<size_t>(tensor.dim(1)) != rows) {
    throw Error(str_cat(model_.path(), ": tensor ", name, " has shape ", shape_text(tensor),
                        ", expected [", cols, ", ", rows, "]"));
  }
  return weight_matrix(tensor);
}

std::span<const float> WeightLookup::vector(std::string_view name, size_t size) const {
  const TensorInfo& tensor = model_.tensor(name);
  if (tensor.type != TensorType::kF32 || tensor.element_count() != size) {
    throw Error(str_cat(model_.path(), ": tensor ", name, " is ", type_name(tensor.type), " ",
                        shape_text(tensor), ", expected f32 [", size, "]"));
  }
  check_data(tensor);
  if (reinterpret_cast<uintptr_t>(tensor.data.data()) % alignof(float) != 0) {
    throw Error(str_cat(model_.path(), ": tensor ", name, " is not aligned for f32"));
  }
  return {reinterpret_cast<const float*>(tensor.data.data()), size};
}

std::vector<WeightMatrix> WeightLookup::experts(std::string_view name, size_t count, size_t rows,
                                                size_t cols) const {
  const TensorInfo& tensor = model_.tensor(name);
  if (tensor.shape.size() != 3 || static_cast<size_t>(tensor.dim(0)) != cols ||
      static_cast<size_t>(tensor.dim(1)) != rows || static_cast<size_t>(tensor.dim(2)) != count) {
    throw Error(str_cat(model_.path(), ": tensor ", name, " has shape ", shape_text(tensor),
                        ", expected [", cols, ", ", rows, ", ", count, "]"));
  }
  const WeightMatrix all = weight_matrix(tensor);  // [count * rows][cols]
  std::vector<WeightMatrix> out;
  out.reserve(count);
  for (size_t e = 0; e < count; ++e) out.push_back(all.slice_rows(e * rows, rows));
  return out;
}

AttentionWeights load_attention_weights(const WeightLookup& lookup, const ModelConfig& config,
                                        size_t layer) {
  const auto name = [layer](std::string_view suffix) { return layer_tensor(layer, suffix); };
  AttentionWeights w;
  w.norm = lookup.vector(name("attn_norm.weight"), config.hidden);
  w.q = lookup.matrix(name("attn_q.weight"), config.q_width(), config.hidden);
  w.k = lookup.matrix(name("attn_k.weight"), config.kv_width(), config.hidden);
  w.v = lookup.matrix(name("attn_v.weight"), config.kv_width(), config.hidden);
  w.output = lookup.matrix(name("attn_output.weight"), config.hidden, config.q_width());
  w.q_norm = lookup.vector(name("attn_q_norm.weight"), config.head_dim);
  w.k_norm = lookup.vector(name("attn_k_norm.weight"), config.head_dim);
  return w;
}

DenseFfnWeights load_dense_ffn_weights(const WeightLookup& lookup, const ModelConfig& config,
                                       size_t layer) {
  const auto name = [layer](std::string_view suffix) { return layer_tensor(layer, suffix); };
  DenseFfnWeights w;
  w.norm = lookup.vector(name("ffn_norm.weight"), config.hidden);
  w.gate = lookup.matrix(name("ffn_gate.weight"), config.ffn_hidden, config.hidden);
  w.up = lookup.matrix(name("ffn_up.weight"), config.ffn_hidden, config.hidden);
  w.down = lookup.matrix(name("ffn_down.weight"), config.hidden, config.ffn_hidden);
  return w;
}

MoeFfnWeights load_moe_ffn_weights(const WeightLookup& lookup, const ModelConfig& config,
                                   size_t layer) {
  const auto name = [layer](std::string_view suffix) { return layer_tensor(layer, suffix); };
  const size_t experts = config.expert_count;
  const size_t ffn = config.expert_ffn_hidden;
  MoeFfnWeights w;
  w.norm = lookup.vector(name("ffn_norm.weight"), config.hidden);
  w.router = lookup.matrix(name("ffn_gate_inp.weight"), experts, config.hidden);
  w.gate = lookup.experts(name("ffn_gate_exps.weight"), experts, ffn, config.hidden);
  w.up = lookup.experts(name("ffn_up_exps.weight"), experts, ffn, config.hidden);
  w.down = lookup.experts(name("ffn_down_exps.weight"), experts, config.hidden, ffn);
  return w;
}

EmbeddingWeights load_embedding_weights(const WeightLookup& lookup, const ModelConfig& config,
                                        bool input, bool output) {
  EmbeddingWeights w;
  const bool tied = !lookup.has("output.weight");
  if (input || (output && tied)) {
    w.token_embedding = lookup.matrix("token_embd.weight", config.vocab_size, config.hidden);
  }
  if (!output) return w;
  w.output_norm = lookup.vector("output_norm.weight", config.hidden);
  // Tied models (no output.weight) reuse the embedding as the output projection.
  w.output =
      tied ? w.token_embedding : lookup.matrix("output.weight", config.vocab_size, config.hidden);
  return w;
}

}  // namespace tandem
