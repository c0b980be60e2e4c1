#pragma once
// The shared blocks the architectures are built from. Each takes the residual stream
// hidden [tokens][hidden] of one batch, its weights and an options struct, and adds
// its contribution to hidden in place (pre-norm residual blocks).

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "ops/float_matrix.h"
#include "ops/matmul.h"
#include "platform/thread_pool.h"

namespace tandem {

// How kernels run: on which pool, with which arithmetic (ops/matmul.h).
struct ComputeContext {
  ThreadPool& pool;
  ComputeMode mode = ComputeMode::kReference;
};

struct AttentionOptions {
  size_t layer = 0;  // which KvCache layer this block uses
  size_t head_count = 0;
  size_t kv_head_count = 0;
  size_t head_dim = 0;
  size_t rope_dims = 0;  // NEOX RoPE over the first rope_dims of each head
  float rope_theta = 10000.0f;
  float rms_eps = 1e-6f;
};

struct FfnOptions {
  float rms_eps = 1e-6f;
};

struct MoeOptions {
  size_t experts_used = 0;
  bool renormalize = true;  // Qwen3-MoE: top-k weights divided by their sum
  float rms_eps = 1e-6f;
};

// Token embeddings of the batch: [batch.size()][hidden] (the embedding table's rows).
FloatMatrix embed_tokens(const EmbeddingWeights& weights, const Batch& batch, size_t hidden);

// Final RMSNorm and output projection of the rows that want logits, in batch order:
// [batch.logit_count()][vocab].
FloatMatrix output_logits(const EmbeddingWeights& weights, const Batch& batch,
                          const FloatMatrix& hidden, float rms_eps, const ComputeContext& context);

// out[t] = norm(x[t]) * weight for every row.
void rms_norm_rows(const FloatMatrix& x, std::span<const float> weight, float eps,
                   FloatMatrix& out);

// Tokens per pool worker at least for the per-token QK-norm / RoPE of an attention block
// (about ten microseconds a token: fewer stay on the calling thread).
inline constexpr size_t kMinRotateTokens = 2;

// ys[i] = ws[i] x, in one pool dispatch (and one quantization of x) on the fast path.
void matmul_shared_input(const ComputeContext& context,
                         std::initializer_list<const WeightMatrix*> ws, const FloatMatrix& x,
                         std::initializer_list<FloatMatrix*> ys);

// hidden += o(attention(rope(qk_norm(q, k)), v)) over each token's sequence in the
// cache, after appending this batch's keys and values at their positions.
void attention_block(const AttentionWeights& weights, const AttentionOptions& options,
                     const Batch& batch, FloatMatrix& hidden, KvCache& cache,
                     const ComputeContext& context);

// down(silu(gate x) * up x) for every row of x: [tokens][cols] -> [tokens][down.rows].
void swiglu_ffn(const WeightMatrix& gate, const WeightMatrix& up, const WeightMatrix& down,
                const FloatMatrix& x, FloatMatrix& out, const ComputeContext& context);

// hidden += swiglu_ffn(rms_norm(hidden)).
void dense_ffn_block(const DenseFfnWeights& weights, const FfnOptions& options, FloatMatrix& hidden,
                     const ComputeContext& context);

// Router choices of a batch: [tokens][experts_used] expert ids and weights.
struct Routing {
  size_t experts_used = 0;
  std::vector<int32_t> experts;
  std::vector<float> weights;
};
Routing route_tokens(const WeightMatrix& router, const FloatMatrix& x, const MoeOptions& options,
                     const ComputeContext& context);

// out[t] = sum over slots s of weight[t][s] * expert[t][s](x[t]), summed in slot order.
// Tokens are grouped by expert so each expert's matrices run once over its tokens.
void mixture_of_experts(const MoeFfnWeights& weights, const Routing& routing, const FloatMatrix& x,
                        FloatMatrix& out, const ComputeContext& context);

// hidden += mixture_of_experts(rms_norm(hidden)).
void moe_ffn_block(const MoeFfnWeights& weights, const MoeOptions& options, FloatMatrix& hidden,
                   const ComputeContext& context);

}  // namespace tandem
