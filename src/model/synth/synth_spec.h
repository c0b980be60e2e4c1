#pragma once
// What a random-weight model looks like: the hyperparameters of one of the supported
// architectures (qwen3, qwen3moe, qwen35moe), the tensors llama.cpp's converter writes for
// them (names and ggml shapes), the metadata keys, and how each tensor is initialised.

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace tandem::synth {

struct SynthConfig {
  std::string architecture = "qwen3moe";  // qwen3 | qwen3moe | qwen35moe
  std::string name = "synth";
  uint32_t layers = 4;
  uint32_t hidden = 256;
  uint32_t heads = 4;
  uint32_t kv_heads = 2;
  uint32_t head_dim = 128;
  uint32_t ffn = 0;  // feed_forward_length; 0: 768 for qwen3, 4 x hidden for the MoE archs
  uint32_t experts = 8;
  uint32_t experts_used = 2;
  uint32_t expert_ffn = 256;
  uint32_t shared_expert_ffn = 256;  // qwen35moe
  // Gated DeltaNet (qwen35moe): key heads, value heads, head dim (keys and values),
  // causal conv kernel, and every full_attention_interval-th layer is full attention.
  uint32_t linear_k_heads = 2;
  uint32_t linear_v_heads = 8;
  uint32_t linear_head_dim = 64;
  uint32_t conv_kernel = 4;
  uint32_t full_attention_interval = 4;
  uint32_t rope_dim = 0;  // qwen35moe rope.dimension_count; 0: head_dim / 4
  double rope_theta = 0;  // 0: 1e6 for qwen3/qwen3moe, 1e7 for qwen35moe
  uint32_t context = 4096;
  bool tied = false;   // output shares token_embd (no output.weight)
  uint64_t vocab = 0;  // token count (taken from the vocabulary file)

  bool is_moe() const { return architecture != "qwen3"; }
  uint32_t feed_forward_length() const;
  double rope_freq_base() const;
  uint32_t rope_dimension_count() const;
  // qwen35moe: the layers whose index il has (il + 1) % interval == 0 use full attention.
  bool is_full_attention_layer(uint32_t layer) const;
};

// Throws Error naming the first hyperparameter that is out of range.
void validate(const SynthConfig& config);

enum class InitKind {
  kNormal,         // N(0, scale^2)
  kOnePlusNormal,  // 1 + N(0, scale^2): norm weights
  kUniform,        // U(low, high)
};

struct WeightInit {
  InitKind kind = InitKind::kNormal;
  double scale = 1.0;  // standard deviation for the normal kinds
  double low = 0.0;
  double high = 0.0;
};

struct SynthTensor {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] = row length (fan-in)
  WeightInit init;
  uint64_t element_count() const;
};

// Tensor lists in file order: output, output_norm, token_embd, then each layer's tensors
// sorted by name (the order of the reference files).
std::vector<SynthTensor> qwen3_tensors(const SynthConfig& config);      // qwen3 and qwen3moe
std::vector<SynthTensor> qwen35moe_tensors(const SynthConfig& config);  // qwen35moe
std::vector<SynthTensor> synth_tensors(const SynthConfig& config);      // by architecture

// "<arch>.*" hyperparameter keys, in the order and with the types the converter writes.
GgufMetadata qwen3_hparams(const SynthConfig& config);
GgufMetadata qwen35moe_hparams(const SynthConfig& config);
GgufMetadata synth_hparams(const SynthConfig& config);

// Initialisation of the reference set: projections N(0, (0.7 / sqrt(fan_in))^2),
// token_embd 0.5 (0.25 when tied), output 0.25, router 0.25, norms 1 + N(0, 0.05),
// ssm_a -U(1, 16), ssm_dt.bias U(-4, -2), ssm_conv1d N(0, 0.3).
WeightInit init_for(const std::string& name, const std::vector<int64_t>& shape, bool tied);

// Sorts one layer's tensors by name and appends them.
void append_sorted(std::vector<SynthTensor>& out, std::vector<SynthTensor> layer);
// output (unless tied), output_norm and token_embd.
std::vector<SynthTensor> global_tensors(const SynthConfig& config);
SynthTensor make_tensor(const SynthConfig& config, std::string name, std::vector<int64_t> shape);

}  // namespace tandem::synth
