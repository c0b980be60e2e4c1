#pragma once
// The gated delta rule of Gated DeltaNet (Yang et al., 2024) as used by Qwen3-Next /
// Qwen3.5 (llama.cpp's qwen35moe). Per value head and token t, with the state S a
// key_dim x value_dim matrix and scale = 1 / sqrt(key_dim):
//
//   S     = exp(g_t) S                    decay (g_t <= 0 is a log decay)
//   delta = beta_t (v_t - S^T k_t)        what the state mispredicts for k_t
//   S     = S + k_t delta^T               rank-1 write
//   o_t   = scale S^T q_t
//
// Two forms compute it: a sequential one (one token at a time, the reference and the
// decode path) and a chunked one for prefill (chunks of 64 tokens: the UT transform
// T = (I + A)^-1 gives the WY form of the chunk's writes; see docs/qwen35moe.md).
// Both read and update the same state, so a prefill can be continued by decode steps.
//
// State layout (as llama.cpp's recurrent memory): per value head the transpose of S,
// M[j][i] = S[i][j], i.e. value_dim rows of key_dim contiguous floats.

#include <cstddef>
#include <span>

#include "platform/thread_pool.h"

namespace tandem {

// Chunk length of the chunked form (llama.cpp and the reference kernels use 64).
inline constexpr size_t kDeltaNetChunk = 64;

// Which query/key head a value head reads when H_v > H_k.
enum class KeyHeadOrder {
  // Value head h reads key head h % H_k: qwen35 / qwen35moe GGUFs, whose converter
  // reorders the value heads to this tiled order.
  kTiled,
  // Value head h reads key head h / (H_v / H_k): Hugging Face's order, kept by
  // qwen3next GGUFs.
  kGrouped,
};

struct DeltaNetShape {
  size_t key_heads = 0;    // H_k: query/key heads (GGUF ssm.group_count)
  size_t value_heads = 0;  // H_v: value heads (ssm.time_step_rank), a multiple of H_k
  size_t key_dim = 0;      // d_k (ssm.state_size)
  size_t value_dim = 0;    // d_v (ssm.inner_size / H_v)
  KeyHeadOrder order = KeyHeadOrder::kTiled;

  size_t state_floats_per_head() const { return key_dim * value_dim; }
  size_t state_floats() const { return value_heads * key_dim * value_dim; }
  size_t key_head_of(size_t value_head) const {
    return order == KeyHeadOrder::kTiled ? value_head % key_heads
                                         : value_head / (value_heads / key_heads);
  }
};

// The per-token inputs of the rule, for `tokens` tokens.
struct DeltaNetInputs {
  std::span<const float> query;      // [tokens][key_heads][key_dim], L2-normalized, unscaled
  std::span<const float> key;        // [tokens][key_heads][key_dim], L2-normalized
  std::span<const float> value;      // [tokens][value_heads][value_dim]
  std::span<const float> log_decay;  // g: [tokens][value_heads], <= 0
  std::span<const float> beta;       // [tokens][value_heads], in (0, 1)
};

// Scalar reference of the sequential form, single-threaded; the SIMD kernels below are
// tested against it. state: [value_heads][value_dim][key_dim], read and updated.
// out: [tokens][value_heads][value_dim].
void gated_delta_rule_reference(const DeltaNetShape& shape, const DeltaNetInputs& in,
                                std::span<float> state, std::span<float> out);

// Sequential form (SIMD, chosen at run time), same contract. Parallel over value heads.
void gated_delta_rule_sequential(const DeltaNetShape& shape, const DeltaNetInputs& in,
                                 std::span<float> state, std::span<float> out, ThreadPool& pool);

// Chunked form, same contract; chunk_size tokens per chunk (the last may be shorter).
void gated_delta_rule_chunked(const DeltaNetShape& shape, const DeltaNetInputs& in,
                              std::span<float> state, std::span<float> out, ThreadPool& pool,
                              size_t chunk_size = kDeltaNetChunk);

// Which form a caller runs. On CPU the sequential SIMD form is the faster one at
// every length measured (d_k = d_v = 64 and 128, 512 tokens: about 2x), since the
// chunked form's extra O(chunk^2) work is not won back without blocked matmuls; the
// chunked form is kept, tested, for prefill where matmul-shaped work pays (GPUs,
// future blocked kernels).
enum class DeltaRuleForm { kSequential, kChunked, kReference };

// Runs `form` (kReference ignores the pool).
void gated_delta_rule(DeltaRuleForm form, const DeltaNetShape& shape, const DeltaNetInputs& in,
                      std::span<float> state, std::span<float> out, ThreadPool& pool);

// The gates from their projections, per token and value head h:
//   log_decay = ssm_a[h] * softplus(alpha + dt_bias[h])   (ssm_a = -exp(A_log) < 0)
//   beta      = sigmoid(beta_logit)
// alpha, beta_logit, log_decay, beta: [tokens][value_heads]; ssm_a, dt_bias: [value_heads].
void deltanet_gates(std::span<const float> alpha, std::span<const float> beta_logit,
                    std::span<const float> ssm_a, std::span<const float> dt_bias,
                    std::span<float> log_decay, std::span<float> beta);

}  // namespace tandem
