// qwen35moe (Qwen3.5 MoE): three Gated DeltaNet layers, then one gated full-attention layer
// (the interval is configurable), each followed by a routed MoE with a sigmoid-gated shared
// expert. Shapes in ggml order (row length first).

#include <string>
#include <utility>
#include <vector>

#include "gguf/gguf_value.h"
#include "model/synth/synth_spec.h"

namespace tandem::synth {
namespace {

GgufValue u32(uint64_t value) { return GgufValue::of_uint(GgufValueType::kUint32, value); }
GgufValue f32(double value) { return GgufValue::of_float(GgufValueType::kFloat32, value); }

// The interleaved multi-section RoPE splits rope_dim / 2 frequency pairs into sections
// (time, height, width, 0): [11, 11, 10, 0] for 64 dims, [6, 6, 4, 0] for 32.
GgufValue rope_sections(uint32_t rope_dim) {
  const int64_t pairs = rope_dim / 2;
  const int64_t first = (pairs + 2) / 3;
  GgufValue::Array items;
  for (int64_t s : {first, first, pairs - 2 * first, int64_t{0}}) {
    items.push_back(GgufValue::of_int(GgufValueType::kInt32, s));
  }
  return GgufValue::of_array(GgufValueType::kInt32, std::move(items));
}

}  // namespace

std::vector<SynthTensor> qwen35moe_tensors(const SynthConfig& c) {
  const int64_t hidden = c.hidden;
  const int64_t q_dim = int64_t{c.heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.kv_heads} * c.head_dim;
  const int64_t key_dim = int64_t{c.linear_k_heads} * c.linear_head_dim;    // per q and per k
  const int64_t value_dim = int64_t{c.linear_v_heads} * c.linear_head_dim;  // = ssm inner size
  const int64_t qkv_dim = 2 * key_dim + value_dim;
  const int64_t v_heads = c.linear_v_heads;
  const int64_t experts = c.experts;
  const int64_t ffn = c.expert_ffn;
  const int64_t shared_ffn = c.shared_expert_ffn;
  std::vector<SynthTensor> out = global_tensors(c);
  for (uint32_t il = 0; il < c.layers; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    std::vector<SynthTensor> layer;
    layer.push_back(make_tensor(c, p + "attn_norm.weight", {hidden}));
    if (c.is_full_attention_layer(il)) {
      // attn_q holds the query and the output gate of every head: 2 x q_dim outputs.
      layer.push_back(make_tensor(c, p + "attn_q.weight", {hidden, 2 * q_dim}));
      layer.push_back(make_tensor(c, p + "attn_k.weight", {hidden, kv_dim}));
      layer.push_back(make_tensor(c, p + "attn_v.weight", {hidden, kv_dim}));
      layer.push_back(make_tensor(c, p + "attn_output.weight", {q_dim, hidden}));
      layer.push_back(make_tensor(c, p + "attn_q_norm.weight", {c.head_dim}));
      layer.push_back(make_tensor(c, p + "attn_k_norm.weight", {c.head_dim}));
    } else {
      layer.push_back(make_tensor(c, p + "attn_qkv.weight", {hidden, qkv_dim}));
      layer.push_back(make_tensor(c, p + "attn_gate.weight", {hidden, value_dim}));
      layer.push_back(make_tensor(c, p + "ssm_a", {v_heads}));
      layer.push_back(make_tensor(c, p + "ssm_alpha.weight", {hidden, v_heads}));
      layer.push_back(make_tensor(c, p + "ssm_beta.weight", {hidden, v_heads}));
      layer.push_back(make_tensor(c, p + "ssm_conv1d.weight", {c.conv_kernel, qkv_dim}));
      layer.push_back(make_tensor(c, p + "ssm_dt.bias", {v_heads}));
      layer.push_back(make_tensor(c, p + "ssm_norm.weight", {c.linear_head_dim}));
      layer.push_back(make_tensor(c, p + "ssm_out.weight", {value_dim, hidden}));
    }
    layer.push_back(make_tensor(c, p + "post_attention_norm.weight", {hidden}));
    layer.push_back(make_tensor(c, p + "ffn_gate_inp.weight", {hidden, experts}));
    layer.push_back(make_tensor(c, p + "ffn_gate_exps.weight", {hidden, ffn, experts}));
    layer.push_back(make_tensor(c, p + "ffn_up_exps.weight", {hidden, ffn, experts}));
    layer.push_back(make_tensor(c, p + "ffn_down_exps.weight", {ffn, hidden, experts}));
    layer.push_back(make_tensor(c, p + "ffn_gate_inp_shexp.weight", {hidden}));
    layer.push_back(make_tensor(c, p + "ffn_gate_shexp.weight", {hidden, shared_ffn}));
    layer.push_back(make_tensor(c, p + "ffn_up_shexp.weight", {hidden, shared_ffn}));
    layer.push_back(make_tensor(c, p + "ffn_down_shexp.weight", {shared_ffn, hidden}));
    append_sorted(out, std::move(layer));
  }
  return out;
}

GgufMetadata qwen35moe_hparams(const SynthConfig& c) {
  const std::string a = c.architecture + ".";
  return {
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
      {a + "expert_count", u32(c.experts)},
      {a + "expert_used_count", u32(c.experts_used)},
      {a + "expert_feed_forward_length", u32(c.expert_ffn)},
      {a + "expert_shared_feed_forward_length", u32(c.shared_expert_ffn)},
      {a + "rope.dimension_count", u32(c.rope_dimension_count())},
      {a + "rope.dimension_sections", rope_sections(c.rope_dimension_count())},
      {a + "ssm.conv_kernel", u32(c.conv_kernel)},
      {a + "ssm.state_size", u32(c.linear_head_dim)},
      {a + "ssm.group_count", u32(c.linear_k_heads)},
      {a + "ssm.time_step_rank", u32(c.linear_v_heads)},
      {a + "ssm.inner_size", u32(int64_t{c.linear_v_heads} * c.linear_head_dim)},
      {a + "full_attention_interval", u32(c.full_attention_interval)},
  };
}

}  // namespace tandem::synth
