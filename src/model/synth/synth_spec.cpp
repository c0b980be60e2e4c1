#include "model/synth/synth_spec.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "platform/error.h"

namespace tandem::synth {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void require_positive(uint32_t value, const char* what) {
  if (value == 0) throw Error(str_cat("synth: ", what, " must be positive"));
}

}  // namespace

uint32_t SynthConfig::feed_forward_length() const {
  if (ffn != 0) return ffn;
  return architecture == "qwen3" ? 768 : 4 * hidden;
}

double SynthConfig::rope_freq_base() const {
  if (rope_theta != 0) return rope_theta;
  return architecture == "qwen35moe" ? 1e7 : 1e6;
}

uint32_t SynthConfig::rope_dimension_count() const {
  return rope_dim != 0 ? rope_dim : head_dim / 4;
}

bool SynthConfig::is_full_attention_layer(uint32_t layer) const {
  return (layer + 1) % full_attention_interval == 0;
}

uint64_t SynthTensor::element_count() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

void validate(const SynthConfig& c) {
  if (c.architecture != "qwen3" && c.architecture != "qwen3moe" && c.architecture != "qwen35moe") {
    throw Error(str_cat("synth: unknown architecture ", c.architecture,
                        " (expected qwen3, qwen3moe or qwen35moe)"));
  }
  require_positive(c.layers, "--layers");
  require_positive(c.hidden, "--hidden");
  require_positive(c.heads, "--heads");
  require_positive(c.kv_heads, "--kv-heads");
  require_positive(c.head_dim, "--head-dim");
  require_positive(c.context, "--ctx");
  if (c.heads % c.kv_heads != 0) throw Error("synth: --heads must be a multiple of --kv-heads");
  if (c.vocab == 0) throw Error("synth: the vocabulary is empty");
  if (c.is_moe()) {
    require_positive(c.experts, "--experts");
    require_positive(c.experts_used, "--experts-used");
    require_positive(c.expert_ffn, "--expert-ffn");
    if (c.experts_used > c.experts) throw Error("synth: --experts-used exceeds --experts");
  }
  if (c.architecture == "qwen35moe") {
    require_positive(c.shared_expert_ffn, "--shared-expert-ffn");
    require_positive(c.linear_k_heads, "--linear-k-heads");
    require_positive(c.linear_v_heads, "--linear-v-heads");
    require_positive(c.linear_head_dim, "--linear-head-dim");
    require_positive(c.conv_kernel, "--conv-kernel");
    require_positive(c.full_attention_interval, "--full-attention-interval");
    if (c.linear_v_heads % c.linear_k_heads != 0) {
      throw Error("synth: --linear-v-heads must be a multiple of --linear-k-heads");
    }
    const uint32_t rope = c.rope_dimension_count();
    if (rope == 0 || rope % 2 != 0 || rope > c.head_dim) {
      throw Error(str_cat("synth: rope dimension ", rope, " must be even and at most --head-dim"));
    }
  }
}

WeightInit init_for(const std::string& name, const std::vector<int64_t>& shape, bool tied) {
  constexpr double kGain = 0.7;
  if (name == "token_embd.weight") return {InitKind::kNormal, tied ? 0.25 : 0.5};
  if (name == "output.weight") return {InitKind::kNormal, 0.25};
  if (ends_with(name, "ffn_gate_inp.weight")) return {InitKind::kNormal, 0.25};
  if (ends_with(name, "_norm.weight")) return {InitKind::kOnePlusNormal, 0.05};
  if (ends_with(name, "ssm_a")) return {InitKind::kUniform, 1.0, -16.0, -1.0};
  if (ends_with(name, "ssm_dt.bias")) return {InitKind::kUniform, 1.0, -4.0, -2.0};
  if (ends_with(name, "ssm_conv1d.weight")) return {InitKind::kNormal, 0.3};
  // A projection: every output sums shape[0] inputs.
  return {InitKind::kNormal, kGain / std::sqrt(static_cast<double>(shape[0]))};
}

SynthTensor make_tensor(const SynthConfig& config, std::string name, std::vector<int64_t> shape) {
  WeightInit init = init_for(name, shape, config.tied);
  return {std::move(name), std::move(shape), init};
}

void append_sorted(std::vector<SynthTensor>& out, std::vector<SynthTensor> layer) {
  std::sort(layer.begin(), layer.end(),
            [](const SynthTensor& a, const SynthTensor& b) { return a.name < b.name; });
  for (auto& t : layer) out.push_back(std::move(t));
}

std::vector<SynthTensor> global_tensors(const SynthConfig& c) {
  const int64_t hidden = c.hidden;
  const int64_t vocab = static_cast<int64_t>(c.vocab);
  std::vector<SynthTensor> out;
  if (!c.tied) out.push_back(make_tensor(c, "output.weight", {hidden, vocab}));
  out.push_back(make_tensor(c, "output_norm.weight", {hidden}));
  out.push_back(make_tensor(c, "token_embd.weight", {hidden, vocab}));
  return out;
}

std::vector<SynthTensor> synth_tensors(const SynthConfig& config) {
  validate(config);
  return config.architecture == "qwen35moe" ? qwen35moe_tensors(config) : qwen3_tensors(config);
}

GgufMetadata synth_hparams(const SynthConfig& config) {
  validate(config);
  return config.architecture == "qwen35moe" ? qwen35moe_hparams(config) : qwen3_hparams(config);
}

}  // namespace tandem::synth
