// qwen3 (dense) and qwen3moe: attention with QK-norm, then a SwiGLU FFN or a softmax-routed
// mixture of SwiGLU experts. Shapes in ggml order (row length first).

#include <string>
#include <utility>
#include <vector>

#include "gguf/gguf_value.h"
#include "model/synth/synth_spec.h"

namespace tandem::synth {
namespace {

GgufValue u32(uint64_t value) { return GgufValue::of_uint(GgufValueType::kUint32, value); }
GgufValue f32(double value) { return GgufValue::of_float(GgufValueType::kFloat32, value); }

}  // namespace

std::vector<SynthTensor> qwen3_tensors(const SynthConfig& c) {
  const int64_t hidden = c.hidden;
  const int64_t q_dim = int64_t{c.heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.kv_heads} * c.head_dim;
  std::vector<SynthTensor> out = global_tensors(c);
  for (uint32_t il = 0; il < c.layers; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    std::vector<SynthTensor> layer;
    layer.push_back(make_tensor(c, p + "attn_norm.weight", {hidden}));
    layer.push_back(make_tensor(c, p + "attn_q.weight", {hidden, q_dim}));
    layer.push_back(make_tensor(c, p + "attn_k.weight", {hidden, kv_dim}));
    layer.push_back(make_tensor(c, p + "attn_v.weight", {hidden, kv_dim}));
    layer.push_back(make_tensor(c, p + "attn_output.weight", {q_dim, hidden}));
    layer.push_back(make_tensor(c, p + "attn_q_norm.weight", {c.head_dim}));
    layer.push_back(make_tensor(c, p + "attn_k_norm.weight", {c.head_dim}));
    layer.push_back(make_tensor(c, p + "ffn_norm.weight", {hidden}));
    if (c.is_moe()) {
      const int64_t experts = c.experts;
      const int64_t ffn = c.expert_ffn;
      layer.push_back(make_tensor(c, p + "ffn_gate_inp.weight", {hidden, experts}));
      layer.push_back(make_tensor(c, p + "ffn_gate_exps.weight", {hidden, ffn, experts}));
      layer.push_back(make_tensor(c, p + "ffn_up_exps.weight", {hidden, ffn, experts}));
      layer.push_back(make_tensor(c, p + "ffn_down_exps.weight", {ffn, hidden, experts}));
    } else {
      const int64_t ffn = c.feed_forward_length();
      layer.push_back(make_tensor(c, p + "ffn_gate.weight", {hidden, ffn}));
      layer.push_back(make_tensor(c, p + "ffn_up.weight", {hidden, ffn}));
      layer.push_back(make_tensor(c, p + "ffn_down.weight", {ffn, hidden}));
    }
    append_sorted(out, std::move(layer));
  }
  return out;
}

GgufMetadata qwen3_hparams(const SynthConfig& c) {
  const std::string a = c.architecture + ".";
  GgufMetadata out = {
      {a + "context_length", u32(c.context)},
      {a + "embedding_length", u32(c.hidden)},
      {a + "block_count", u32(c.layers)},
      {a + "feed_forward_length", u32(c.feed_forward_length())},
      {a + "attention.head_count", u32(c.heads)},
      {a + "attention.head_count_kv", u32(c.kv_heads)},
      {a + "attention.key_length", u32(c.head_dim)},
      {a + "attention.value_length", u32(c.head_dim)},
      {a + "rope.freq_base", f32(c.rope_freq_base())},
      {a + "attention.layer_norm_rms_epsilon", f32(1e-6)},
  };
  if (c.is_moe()) {
    out.emplace_back(a + "expert_count", u32(c.experts));
    out.emplace_back(a + "expert_used_count", u32(c.experts_used));
    out.emplace_back(a + "expert_feed_forward_length", u32(c.expert_ffn));
  }
  return out;
}

}  // namespace tandem::synth
