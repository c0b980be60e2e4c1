#pragma once
// The token mixer of a Gated DeltaNet layer between its input projections and its
// output projection (steps 2-9 of docs/qwen35moe.md): gates, causal conv + SiLU,
// split into q/k/v, L2 norm of q and k, the gated delta rule, and the gated RMSNorm.
// A model computes the four projections of the normed input with its matmul kernels,
// calls deltanet_mix, and projects the result with ssm_out.

#include <span>

#include "ops/deltanet.h"
#include "ops/recurrent_state.h"
#include "platform/thread_pool.h"

namespace tandem {

// The layer's small F32 tensors.
struct DeltaNetLayerWeights {
  std::span<const float> conv;     // ssm_conv1d: [conv_channels][conv_kernel]
  std::span<const float> ssm_a;    // ssm_a = -exp(A_log): [value_heads]
  std::span<const float> dt_bias;  // ssm_dt.bias: [value_heads]
  std::span<const float> norm;     // ssm_norm: [value_dim]
};

// The projections of the normed input x for `tokens` tokens of one sequence.
struct DeltaNetProjections {
  std::span<const float> qkv;    // attn_qkv x: [tokens][conv_channels] (q | k | v)
  std::span<const float> gate;   // attn_gate x, z: [tokens][value_heads * value_dim]
  std::span<const float> alpha;  // ssm_alpha x: [tokens][value_heads]
  std::span<const float> beta;   // ssm_beta x: [tokens][value_heads]
};

struct DeltaNetMixOptions {
  float eps = 1e-6f;  // L2 norm floor and RMSNorm eps (attention.layer_norm_rms_epsilon)
  DeltaRuleForm form = DeltaRuleForm::kSequential;  // kReference for a --reference mode
};

// conv_state and delta_state: that layer's parts of the sequence's RecurrentState,
// read and updated. out: [tokens][value_heads * value_dim], the input of ssm_out.
void deltanet_mix(const DeltaNetDims& dims, const DeltaNetLayerWeights& weights,
                  const DeltaNetProjections& projections, const DeltaNetMixOptions& options,
                  std::span<float> conv_state, std::span<float> delta_state, std::span<float> out,
                  ThreadPool& pool);

}  // namespace tandem
