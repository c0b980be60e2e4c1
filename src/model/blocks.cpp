#include "model/blocks.h"

#include <atomic>
#include <cmath>
#include <initializer_list>

#include "model/moe_fast.h"
#include "ops/attention.h"
#include "ops/kernels.h"
#include "ops/router.h"
#include "platform/error.h"

namespace tandem {

FloatMatrix embed_tokens(const EmbeddingWeights& weights, const Batch& batch, size_t hidden) {
  FloatMatrix out(batch.size(), hidden);  // [tokens][hidden]
  for (size_t t = 0; t < batch.size(); ++t) {
    dequantize_weight_row(weights.token_embedding, static_cast<size_t>(batch.tokens[t]),
                          out.row(t));
  }
  return out;
}

FloatMatrix output_logits(const EmbeddingWeights& weights, const Batch& batch,
                          const FloatMatrix& hidden, float rms_eps, const ComputeContext& context) {
  TANDEM_CHECK(hidden.rows() == batch.size(), "hidden rows ", hidden.rows());
  FloatMatrix normed(batch.logit_count(), hidden.cols());  // rows that want logits
  size_t row = 0;
  for (size_t t = 0; t < batch.size(); ++t) {
    if (!batch.wants_logits[t]) continue;
    rms_norm(hidden.row(t), weights.output_norm, rms_eps, normed.row(row++));
  }
  FloatMatrix logits;  // [rows][vocab]
  matmul(context.mode, weights.output, normed, logits, context.pool);
  return logits;
}

void matmul_shared_input(const ComputeContext& context,
                         std::initializer_list<const WeightMatrix*> ws, const FloatMatrix& x,
                         std::initializer_list<FloatMatrix*> ys) {
  if (context.mode == ComputeMode::kFast) {
    matmul_fast_shared_input(std::span(ws.begin(), ws.size()), x, std::span(ys.begin(), ys.size()),
                             context.pool);
    return;
  }
  for (size_t i = 0; i < ws.size(); ++i) {
    matmul_reference(*ws.begin()[i], x, *ys.begin()[i], context.pool);
  }
}

void rms_norm_rows(const FloatMatrix& x, std::span<const float> weight, float eps,
                   FloatMatrix& out) {
  out.reset(x.rows(), x.cols());
  for (size_t t = 0; t < x.rows(); ++t) rms_norm(x.row(t), weight, eps, out.row(t));
}

void attention_block(const AttentionWeights& weights, const AttentionOptions& options,
                     const Batch& batch, FloatMatrix& hidden, KvCache& cache,
                     const ComputeContext& context) {
  const size_t tokens = batch.size();
  const size_t dim = options.head_dim;
  TANDEM_CHECK(hidden.rows() == tokens, "hidden rows ", hidden.rows(), " for ", tokens, " tokens");
  FloatMatrix normed;
  rms_norm_rows(hidden, weights.norm, options.rms_eps, normed);

  FloatMatrix q;  // [tokens][head_count * dim]
  FloatMatrix k;  // [tokens][kv_head_count * dim]
  FloatMatrix v;  // [tokens][kv_head_count * dim]
  matmul_shared_input(context, {&weights.q, &weights.k, &weights.v}, normed, {&q, &k, &v});

  // Per-head QK-norm, then RoPE at each token's position (one set of angles per token,
  // shared by its heads). Tokens are independent: they split over the pool (about ten
  // microseconds each, so pairs at least), then go into the cache in batch order.
  const size_t half = options.rope_dims / 2;
  context.pool.parallel_for(
      tokens,
      [&](size_t begin, size_t end, size_t) {
        std::vector<float> angles(2 * half);  // [cos | sin] of the current token
        const std::span<float> cos_theta = std::span(angles).first(half);
        const std::span<float> sin_theta = std::span(angles).last(half);
        for (size_t t = begin; t < end; ++t) {
          rope_angles(batch.positions[t], options.rope_dims, options.rope_theta, cos_theta,
                      sin_theta);
          for (size_t h = 0; h < options.head_count; ++h) {
            std::span<float> head = q.row(t).subspan(h * dim, dim);
            if (!weights.q_norm.empty()) rms_norm(head, weights.q_norm, options.rms_eps, head);
            rope_neox_rotate(head, cos_theta, sin_theta);
          }
          for (size_t h = 0; h < options.kv_head_count; ++h) {
            std::span<float> head = k.row(t).subspan(h * dim, dim);
            if (!weights.k_norm.empty()) rms_norm(head, weights.k_norm, options.rms_eps, head);
            rope_neox_rotate(head, cos_theta, sin_theta);
          }
        }
      },
      kMinRotateTokens);
  for (size_t t = 0; t < tokens; ++t) {
    cache.write(options.layer, batch.sequence_ids[t], batch.positions[t], k.row(t), v.row(t));
  }

  const AttentionShape shape{options.head_count, options.kv_head_count, dim,
                             1.0f / std::sqrt(static_cast<float>(dim))};
  FloatMatrix attended(tokens, options.head_count * dim);  // [tokens][head_count * dim]
  // Work items are (token, head) pairs, or (token, kv head) groups of the query heads
  // that share one kv head on the fast path, taken from a shared counter: causal windows
  // grow along the batch, so equal contiguous ranges would give the last worker most of
  // the work.
  const bool grouped = context.mode != ComputeMode::kReference;
  const size_t units = grouped ? options.kv_head_count : options.head_count;
  const size_t items = tokens * units;
  // Small batches (decode steps over short contexts) stay on the calling thread, where
  // waking a helper would cost more than the work.
  constexpr size_t kMinParallelKeys = 4096;
  size_t keys_read = 0;  // (token, key) pairs over all heads of the batch
  for (size_t t = 0; t < tokens; ++t) keys_read += static_cast<size_t>(batch.positions[t]) + 1;
  keys_read *= options.head_count;
  std::atomic<size_t> next_item{0};
  const auto attend_items = [&](size_t, size_t, size_t) {
    std::vector<float> scores;
    std::vector<float> widened;
    for (size_t item = next_item.fetch_add(1); item < items; item = next_item.fetch_add(1)) {
      const size_t t = item / units;
      const size_t unit = item % units;
      const int32_t sequence = batch.sequence_ids[t];
      // Causal window: the sequence's positions up to and including this token's.
      const size_t key_count = static_cast<size_t>(batch.positions[t]) + 1;
      attend_unit(shape, grouped, unit, q.row(t), cache.keys(options.layer, sequence),
                  cache.values(options.layer, sequence), key_count, scores, widened,
                  attended.row(t));
    }
  };
  if (keys_read < kMinParallelKeys) {
    attend_items(0, 1, 0);
  } else {
    context.pool.run_on_all(attend_items);
  }

  FloatMatrix projected;  // [tokens][hidden]
  matmul(context.mode, weights.output, attended, projected, context.pool);
  for (size_t t = 0; t < tokens; ++t) add_in_place(hidden.row(t), projected.row(t));
}

void swiglu_ffn(const WeightMatrix& gate, const WeightMatrix& up, const WeightMatrix& down,
                const FloatMatrix& x, FloatMatrix& out, const ComputeContext& context) {
  FloatMatrix gated;  // [tokens][ffn]
  FloatMatrix upped;  // [tokens][ffn]
  matmul_shared_input(context, {&gate, &up}, x, {&gated, &upped});
  for (size_t t = 0; t < x.rows(); ++t) swiglu(gated.row(t), upped.row(t), gated.row(t));
  matmul(context.mode, down, gated, out, context.pool);
}

void dense_ffn_block(const DenseFfnWeights& weights, const FfnOptions& options, FloatMatrix& hidden,
                     const ComputeContext& context) {
  FloatMatrix normed;
  rms_norm_rows(hidden, weights.norm, options.rms_eps, normed);
  FloatMatrix out;
  swiglu_ffn(weights.gate, weights.up, weights.down, normed, out, context);
  for (size_t t = 0; t < hidden.rows(); ++t) add_in_place(hidden.row(t), out.row(t));
}

Routing route_tokens(const WeightMatrix& router, const FloatMatrix& x, const MoeOptions& options,
                     const ComputeContext& context) {
  FloatMatrix logits;  // [tokens][experts]
  matmul(context.mode, router, x, logits, context.pool);
  const size_t k = options.experts_used;
  Routing routing{k, std::vector<int32_t>(x.rows() * k), std::vector<float>(x.rows() * k)};
  const RouterOptions router_options{k, options.renormalize};
  for (size_t t = 0; t < x.rows(); ++t) {
    route_top_k(logits.row(t), router_options,
                std::span<int32_t>(routing.experts).subspan(t * k, k),
                std::span<float>(routing.weights).subspan(t * k, k));
  }
  return routing;
}

void mixture_of_experts(const MoeFfnWeights& weights, const Routing& routing, const FloatMatrix& x,
                        FloatMatrix& out, const ComputeContext& context) {
  if (context.mode == ComputeMode::kFast && moe_fast_supported(weights)) {
    mixture_of_experts_fast(weights, routing, x, out, context.pool);
    return;
  }
  const size_t tokens = x.rows();
  const size_t k = routing.experts_used;
  const size_t width = weights.down.empty() ? 0 : weights.down.front().rows;
  // Weighted output of every (token, slot): [tokens * k][width].
  FloatMatrix slot_out(tokens * k, width);
  std::vector<size_t> members;  // (token * k + slot) routed to the current expert
  FloatMatrix gathered;
  FloatMatrix expert_out;
  for (size_t e = 0; e < weights.gate.size(); ++e) {
    members.clear();
    for (size_t i = 0; i < tokens * k; ++i) {
      if (routing.experts[i] == static_cast<int32_t>(e)) members.push_back(i);
    }
    if (members.empty()) continue;
    gathered.reset(members.size(), x.cols());
    for (size_t m = 0; m < members.size(); ++m) {
      const auto source = x.row(members[m] / k);
      std::copy(source.begin(), source.end(), gathered.row(m).begin());
    }
    swiglu_ffn(weights.gate[e], weights.up[e], weights.down[e], gathered, expert_out, context);
    for (size_t m = 0; m < members.size(); ++m) {
      const float weight = routing.weights[members[m]];
      std::span<float> target = slot_out.row(members[m]);
      const auto source = expert_out.row(m);
      for (size_t i = 0; i < width; ++i) target[i] = source[i] * weight;
    }
  }
  out.reset(tokens, width);
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t s = 0; s < k; ++s) add_in_place(out.row(t), slot_out.row(t * k + s));
  }
}

void moe_ffn_block(const MoeFfnWeights& weights, const MoeOptions& options, FloatMatrix& hidden,
                   const ComputeContext& context) {
  FloatMatrix normed;
  rms_norm_rows(hidden, weights.norm, options.rms_eps, normed);
  const Routing routing = route_tokens(weights.router, normed, options, context);
  FloatMatrix out;
  mixture_of_experts(weights, routing, normed, out, context);
  for (size_t t = 0; t < hidden.rows(); ++t) add_in_place(hidden.row(t), out.row(t));
}

}  // namespace tandem
