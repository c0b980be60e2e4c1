#include "model/footprint.h"

#include <string>

#include "platform/error.h"

namespace tandem {
namespace {

// Layer index of "blk.N.something", or -1.
int64_t layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  const size_t dot = name.find('.', 4);
  if (dot == std::string::npos) return -1;
  try {
    return std::stoll(name.substr(4, dot - 4));
  } catch (const std::exception&) {
    return -1;
  }
}

bool is_expert_tensor(const std::string& name) { return name.find("_exps.") != std::string::npos; }

}  // namespace

ModelFootprint ModelFootprint::from_model(const ModelFile& model) {
  ModelFootprint out;
  const uint64_t block_count = model.get_uint(model.arch_key("block_count"));
  const uint64_t nextn = model.get_uint_opt(model.arch_key("nextn_predict_layers")).value_or(0);
  if (nextn >= block_count) {
    throw Error(str_cat(model.path(), ": nextn_predict_layers (", nextn, ") >= block_count (",
                        block_count, ")"));
  }
  const uint64_t layers = block_count - nextn;
  out.layers.resize(layers);
  out.hidden_size = model.get_uint(model.arch_key("embedding_length"));
  out.context_length = model.get_uint_opt(model.arch_key("context_length")).value_or(4096);
  const uint64_t experts = model.get_uint_opt(model.arch_key("expert_count")).value_or(0);
  const uint64_t experts_used = model.get_uint_opt(model.arch_key("expert_used_count")).value_or(0);

  const uint64_t heads = model.get_uint(model.arch_key("attention.head_count"));
  const uint64_t kv_heads =
      model.get_uint_opt(model.arch_key("attention.head_count_kv")).value_or(heads);
  const uint64_t key_length =
      model.get_uint_opt(model.arch_key("attention.key_length")).value_or(out.hidden_size / heads);
  const uint64_t value_length =
      model.get_uint_opt(model.arch_key("attention.value_length")).value_or(key_length);
  const uint64_t kv_per_token = kv_heads * (key_length + value_length) * sizeof(float);

  for (const TensorInfo& t : model.tensors()) {
    const int64_t layer = layer_of(t.name);
    if (layer >= static_cast<int64_t>(block_count)) {
      throw Error(
          str_cat(model.path(), ": tensor ", t.name, " is beyond block_count ", block_count));
    }
    if (layer >= static_cast<int64_t>(layers)) continue;  // multi-token-prediction layer
    if (layer >= 0) {
      LayerFootprint& f = out.layers[static_cast<size_t>(layer)];
      f.weight_bytes += t.bytes;
      f.active_bytes_per_token +=
          is_expert_tensor(t.name) && experts > 0 ? t.bytes / experts * experts_used : t.bytes;
      if (t.name.find(".ssm_") != std::string::npos) f.recurrent = true;
      if (t.name.find(".ssm_conv1d.") != std::string::npos) {
        // Conv state: (kernel - 1) past inputs of every conv channel.
        f.state_bytes_per_sequence +=
            static_cast<uint64_t>(t.dim(0) - 1) * static_cast<uint64_t>(t.dim(1)) * 4;
      }
    } else if (t.name == "token_embd.weight") {
      out.embedding_bytes = t.bytes;
    } else {
      out.output_bytes += t.bytes;
      out.output_active_bytes += t.bytes;
    }
  }
  out.tied_embeddings = model.find_tensor("output.weight") == nullptr;
  if (out.tied_embeddings) {
    out.output_bytes += out.embedding_bytes;
    out.output_active_bytes += out.embedding_bytes;
  }
  const uint64_t state_size = model.get_uint_opt(model.arch_key("ssm.state_size")).value_or(0);
  const uint64_t inner_size = model.get_uint_opt(model.arch_key("ssm.inner_size")).value_or(0);
  for (LayerFootprint& f : out.layers) {
    if (f.recurrent) {
      // Delta-rule state: one (head_k_dim x head_v_dim) matrix per value head, F32.
      f.state_bytes_per_sequence += state_size * inner_size * sizeof(float);
    } else {
      f.kv_bytes_per_token = kv_per_token;
    }
  }
  return out;
}

uint64_t ModelFootprint::weight_bytes(size_t first_layer, size_t end_layer) const {
  uint64_t total = 0;
  for (size_t i = first_layer; i < end_layer; ++i) total += layers[i].weight_bytes;
  return total;
}

uint64_t ModelFootprint::active_bytes(size_t first_layer, size_t end_layer) const {
  uint64_t total = 0;
  for (size_t i = first_layer; i < end_layer; ++i) total += layers[i].active_bytes_per_token;
  return total;
}

uint64_t ModelFootprint::cache_bytes(size_t first_layer, size_t end_layer, uint64_t context,
                                     uint64_t sequences, KvType kv_type) const {
  uint64_t total = 0;
  for (size_t i = first_layer; i < end_layer; ++i) {
    // kv_bytes_per_token counts F32 elements.
    const uint64_t kv = layers[i].kv_bytes_per_token / sizeof(float) * kv_element_bytes(kv_type);
    total += (kv * context + layers[i].state_bytes_per_sequence) * sequences;
  }
  return total;
}

uint64_t ModelFootprint::total_weight_bytes() const {
  return weight_bytes(0, layers.size()) + embedding_bytes + output_bytes -
         (tied_embeddings ? embedding_bytes : 0);
}

}  // namespace tandem
