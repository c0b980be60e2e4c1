#include "model/qwen35moe_config.h"

#include <algorithm>
#include <string>

#include "platform/error.h"

namespace tandem {
namespace {

void expect_shape(const ModelFile& file, const std::string& name,
                  const std::vector<int64_t>& shape) {
  const TensorInfo& info = file.tensor(name);
  std::vector<int64_t> actual = info.shape;
  while (actual.size() > shape.size() && actual.back() == 1) actual.pop_back();
  if (actual != shape) {
    auto text = [](const std::vector<int64_t>& s) {
      std::string out = "[";
      for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
      return out + "]";
    };
    throw Error(str_cat(file.path(), ": tensor ", name, " has shape ", text(actual), ", expected ",
                        text(shape)));
  }
}

}  // namespace

Qwen35MoeConfig Qwen35MoeConfig::from_file(const ModelFile& file) {
  if (file.architecture() != "qwen35moe") {
    throw Error(
        str_cat(file.path(), ": architecture is ", file.architecture(), ", expected qwen35moe"));
  }
  auto key = [&](const char* suffix) { return file.arch_key(suffix); };
  Qwen35MoeConfig c;
  c.embedding = file.get_uint(key("embedding_length"));
  c.layer_count = file.get_uint(key("block_count"));
  c.heads = file.get_uint(key("attention.head_count"));
  c.kv_heads = file.get_uint(key("attention.head_count_kv"));
  c.head_dim = file.get_uint(key("attention.key_length"));
  if (file.get_uint(key("attention.value_length")) != c.head_dim) {
    throw Error(str_cat(file.path(), ": attention key and value lengths differ"));
  }
  c.experts = file.get_uint(key("expert_count"));
  c.experts_used = file.get_uint(key("expert_used_count"));
  c.expert_ff = file.get_uint(key("expert_feed_forward_length"));
  c.shared_expert_ff = file.get_uint_opt(key("expert_shared_feed_forward_length"))
                           .value_or(file.get_uint(key("feed_forward_length")));
  c.context_length = file.get_uint(key("context_length"));
  c.rms_eps = static_cast<float>(file.get_float(key("attention.layer_norm_rms_epsilon")));

  c.rope.head_dim = c.head_dim;
  c.rope.rotated_dims = file.get_uint(key("rope.dimension_count"));
  c.rope.theta = static_cast<float>(file.get_float(key("rope.freq_base")));
  const auto sections = file.get_int_array(key("rope.dimension_sections"));
  if (sections.empty() || sections.size() > 4) {
    throw Error(str_cat(file.path(), ": rope.dimension_sections must have 1 to 4 entries"));
  }
  for (size_t i = 0; i < sections.size(); ++i)
    c.rope.sections[i] = static_cast<int32_t>(sections[i]);
  if (c.rope.rotated_dims % 2 != 0 || c.rope.rotated_dims > c.head_dim) {
    throw Error(str_cat(file.path(), ": rope.dimension_count ", c.rope.rotated_dims,
                        " does not fit head dim ", c.head_dim));
  }

  DeltaNetDims& d = c.deltanet;
  d.key_heads = file.get_uint(key("ssm.group_count"));
  d.value_heads = file.get_uint(key("ssm.time_step_rank"));
  d.key_dim = file.get_uint(key("ssm.state_size"));
  d.conv_kernel = file.get_uint(key("ssm.conv_kernel"));
  const size_t inner = file.get_uint(key("ssm.inner_size"));
  if (d.key_heads == 0 || d.value_heads % d.key_heads != 0 || inner % d.value_heads != 0 ||
      d.conv_kernel == 0) {
    throw Error(str_cat(file.path(), ": inconsistent ssm.* hyperparameters"));
  }
  d.value_dim = inner / d.value_heads;
  d.order = KeyHeadOrder::kTiled;

  const size_t interval = file.get_uint_opt(key("full_attention_interval")).value_or(4);
  if (interval == 0) throw Error(str_cat(file.path(), ": full_attention_interval is 0"));
  for (size_t il = 0; il < c.layer_count; ++il) {
    c.layers.push_back((il + 1) % interval == 0 ? Qwen35LayerKind::kAttention
                                                : Qwen35LayerKind::kDeltaNet);
  }

  const auto n = static_cast<int64_t>(c.embedding);
  const TensorInfo& embd = file.tensor("token_embd.weight");
  c.vocab = static_cast<size_t>(embd.dim(1));
  const auto vocab = static_cast<int64_t>(c.vocab);
  expect_shape(file, "token_embd.weight", {n, vocab});
  expect_shape(file, "output_norm.weight", {n});
  c.tied_output = file.find_tensor("output.weight") == nullptr;
  if (!c.tied_output) expect_shape(file, "output.weight", {n, vocab});

  const auto e = static_cast<int64_t>(c.experts);
  const auto ff = static_cast<int64_t>(c.expert_ff);
  const auto sff = static_cast<int64_t>(c.shared_expert_ff);
  const auto hd = static_cast<int64_t>(c.head_dim);
  const auto key_width = static_cast<int64_t>(d.key_width());
  const auto value_width = static_cast<int64_t>(d.value_width());
  const auto value_heads = static_cast<int64_t>(d.value_heads);
  for (size_t il = 0; il < c.layer_count; ++il) {
    auto name = [&](const char* suffix) { return "blk." + std::to_string(il) + "." + suffix; };
    expect_shape(file, name("attn_norm.weight"), {n});
    expect_shape(file, name("post_attention_norm.weight"), {n});
    if (c.layers[il] == Qwen35LayerKind::kDeltaNet) {
      expect_shape(file, name("attn_qkv.weight"), {n, 2 * key_width + value_width});
      expect_shape(file, name("attn_gate.weight"), {n, value_width});
      expect_shape(file, name("ssm_conv1d.weight"),
                   {static_cast<int64_t>(d.conv_kernel), 2 * key_width + value_width});
      expect_shape(file, name("ssm_dt.bias"), {value_heads});
      expect_shape(file, name("ssm_a"), {value_heads});
      expect_shape(file, name("ssm_alpha.weight"), {n, value_heads});
      expect_shape(file, name("ssm_beta.weight"), {n, value_heads});
      expect_shape(file, name("ssm_norm.weight"), {static_cast<int64_t>(d.value_dim)});
      expect_shape(file, name("ssm_out.weight"), {value_width, n});
    } else {
      const auto heads = static_cast<int64_t>(c.heads);
      const auto kv = static_cast<int64_t>(c.kv_heads);
      expect_shape(file, name("attn_q.weight"), {n, 2 * heads * hd});
      expect_shape(file, name("attn_k.weight"), {n, kv * hd});
      expect_shape(file, name("attn_v.weight"), {n, kv * hd});
      expect_shape(file, name("attn_q_norm.weight"), {hd});
      expect_shape(file, name("attn_k_norm.weight"), {hd});
      expect_shape(file, name("attn_output.weight"), {heads * hd, n});
    }
    expect_shape(file, name("ffn_gate_inp.weight"), {n, e});
    expect_shape(file, name("ffn_gate_exps.weight"), {n, ff, e});
    expect_shape(file, name("ffn_up_exps.weight"), {n, ff, e});
    expect_shape(file, name("ffn_down_exps.weight"), {ff, n, e});
    expect_shape(file, name("ffn_gate_inp_shexp.weight"), {n});
    expect_shape(file, name("ffn_gate_shexp.weight"), {n, sff});
    expect_shape(file, name("ffn_up_shexp.weight"), {n, sff});
    expect_shape(file, name("ffn_down_shexp.weight"), {sff, n});
  }
  return c;
}

size_t Qwen35MoeConfig::deltanet_layer_count() const {
  return static_cast<size_t>(std::count(layers.begin(), layers.end(), Qwen35LayerKind::kDeltaNet));
}

size_t Qwen35MoeConfig::index_within_kind(size_t layer) const {
  TANDEM_CHECK(layer < layers.size());
  return static_cast<size_t>(
      std::count(layers.begin(), layers.begin() + static_cast<ptrdiff_t>(layer), layers[layer]));
}

}  // namespace tandem
