#include "ops/deltanet.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "platform/error.h"

namespace tandem {
namespace {

float dot(const float* a, const float* b, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// y += alpha * x
void axpy(float alpha, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

size_t check_inputs(const DeltaNetShape& shape, const DeltaNetInputs& in,
                    std::span<const float> state, std::span<const float> out) {
  TANDEM_CHECK(shape.key_heads > 0 && shape.value_heads % shape.key_heads == 0,
               "value heads must be a multiple of key heads");
  TANDEM_CHECK(shape.key_dim > 0 && shape.value_dim > 0);
  const size_t tokens = in.beta.size() / shape.value_heads;
  TANDEM_CHECK(in.beta.size() == tokens * shape.value_heads);
  TANDEM_CHECK(in.log_decay.size() == tokens * shape.value_heads);
  TANDEM_CHECK(in.query.size() == tokens * shape.key_heads * shape.key_dim);
  TANDEM_CHECK(in.key.size() == tokens * shape.key_heads * shape.key_dim);
  TANDEM_CHECK(in.value.size() == tokens * shape.value_heads * shape.value_dim);
  TANDEM_CHECK(state.size() == shape.state_floats(), "state is not [H_v][d_v][d_k]");
  TANDEM_CHECK(out.size() == tokens * shape.value_heads * shape.value_dim);
  return tokens;
}

// Strided views of one value head's inputs, token by token.
struct HeadView {
  const DeltaNetShape& shape;
  const DeltaNetInputs& in;
  size_t head;
  size_t key_head;

  const float* query(size_t t) const {
    return in.query.data() + (t * shape.key_heads + key_head) * shape.key_dim;
  }
  const float* key(size_t t) const {
    return in.key.data() + (t * shape.key_heads + key_head) * shape.key_dim;
  }
  const float* value(size_t t) const {
    return in.value.data() + (t * shape.value_heads + head) * shape.value_dim;
  }
  float log_decay(size_t t) const { return in.log_decay[t * shape.value_heads + head]; }
  float beta(size_t t) const { return in.beta[t * shape.value_heads + head]; }
  size_t out_offset(size_t t) const { return (t * shape.value_heads + head) * shape.value_dim; }
};

// Scratch of one worker for one chunk of up to `chunk` tokens.
struct ChunkScratch {
  explicit ChunkScratch(size_t chunk, size_t key_dim, size_t value_dim)
      : cumulative(chunk),
        inverse(chunk * chunk),
        strictly_lower(chunk * chunk),
        query_key(chunk * chunk),
        w(chunk * key_dim),
        u(chunk * value_dim) {}
  std::vector<float> cumulative;      // G[t]: [chunk], log decay summed from the chunk start
  std::vector<float> inverse;         // T = (I + A)^-1: [chunk][chunk], unit lower triangular
  std::vector<float> strictly_lower;  // A: [chunk][chunk]
  std::vector<float> query_key;       // e^{G_t - G_s} q_t.k_s for s <= t: [chunk][chunk]
  std::vector<float> w;               // W = T B E K: [chunk][key_dim]
  std::vector<float> u;               // U, the chunk's writes: [chunk][value_dim]
};

// One chunk [t0, t0 + n) of one value head; `m` is that head's state (d_v rows of d_k).
void run_chunk(const HeadView& view, size_t t0, size_t n, float* m, std::span<float> out,
               ChunkScratch& scratch) {
  const size_t dk = view.shape.key_dim;
  const size_t dv = view.shape.value_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
  float* cumulative = scratch.cumulative.data();
  float* a = scratch.strictly_lower.data();
  float* inverse = scratch.inverse.data();
  float* qk = scratch.query_key.data();
  float* w = scratch.w.data();
  float* u = scratch.u.data();

  float running = 0.0f;
  for (size_t t = 0; t < n; ++t) {
    running += view.log_decay(t0 + t);
    cumulative[t] = running;
  }
  // A[t][s] = beta_t e^{G_t - G_s} k_t.k_s for s < t; and the decayed q_t.k_s for s <= t.
  for (size_t t = 0; t < n; ++t) {
    const float beta = view.beta(t0 + t);
    for (size_t s = 0; s <= t; ++s) {
      const float decay = std::exp(cumulative[t] - cumulative[s]);
      if (s < t) a[t * n + s] = beta * decay * dot(view.key(t0 + t), view.key(t0 + s), dk);
      qk[t * n + s] = decay * dot(view.query(t0 + t), view.key(t0 + s), dk);
    }
  }
  // UT transform by forward substitution: (I + A) T = I.
  for (size_t t = 0; t < n; ++t) {
    inverse[t * n + t] = 1.0f;
    for (size_t s = 0; s < t; ++s) {
      float sum = a[t * n + s];
      for (size_t r = s + 1; r < t; ++r) sum += a[t * n + r] * inverse[r * n + s];
      inverse[t * n + s] = -sum;
    }
  }
  // W = T diag(beta e^G) K and U = T diag(beta) V - W S0.
  std::fill(w, w + n * dk, 0.0f);
  std::fill(u, u + n * dv, 0.0f);
  for (size_t t = 0; t < n; ++t) {
    for (size_t s = 0; s <= t; ++s) {
      const float coefficient = inverse[t * n + s] * view.beta(t0 + s);
      axpy(coefficient * std::exp(cumulative[s]), view.key(t0 + s), w + t * dk, dk);
      axpy(coefficient, view.value(t0 + s), u + t * dv, dv);
    }
    for (size_t j = 0; j < dv; ++j) u[t * dv + j] -= dot(w + t * dk, m + j * dk, dk);
  }
  // o_t = scale (e^{G_t} S0^T q_t + sum_{s <= t} e^{G_t - G_s} (q_t.k_s) u_s).
  for (size_t t = 0; t < n; ++t) {
    float* o = out.data() + view.out_offset(t0 + t);
    const float* q = view.query(t0 + t);
    const float carried = std::exp(cumulative[t]);
    for (size_t j = 0; j < dv; ++j) o[j] = carried * dot(m + j * dk, q, dk);
    for (size_t s = 0; s <= t; ++s) axpy(qk[t * n + s], u + s * dv, o, dv);
    for (size_t j = 0; j < dv; ++j) o[j] *= scale;
  }
  // S_n = e^{G_n} S0 + sum_s e^{G_n - G_s} k_s u_s^T, in the transposed layout.
  const float last = cumulative[n - 1];
  const float carried = std::exp(last);
  for (size_t j = 0; j < dv; ++j) {
    float* row = m + j * dk;
    for (size_t i = 0; i < dk; ++i) row[i] *= carried;
    for (size_t s = 0; s < n; ++s) {
      axpy(std::exp(last - cumulative[s]) * u[s * dv + j], view.key(t0 + s), row, dk);
    }
  }
}

}  // namespace

void gated_delta_rule_sequential(const DeltaNetShape& shape, const DeltaNetInputs& in,
                                 std::span<float> state, std::span<float> out, ThreadPool& pool) {
  const size_t tokens = check_inputs(shape, in, state, out);
  const size_t dk = shape.key_dim;
  const size_t dv = shape.value_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
  pool.parallel_for(shape.value_heads, [&](size_t begin, size_t end, size_t) {
    for (size_t head = begin; head < end; ++head) {
      const HeadView view{shape, in, head, shape.key_head_of(head)};
      float* m = state.data() + head * shape.state_floats_per_head();
      for (size_t t = 0; t < tokens; ++t) {
        const float decay = std::exp(view.log_decay(t));
        const float beta = view.beta(t);
        const float* q = view.query(t);
        const float* k = view.key(t);
        const float* v = view.value(t);
        float* o = out.data() + view.out_offset(t);
        // Row j of M is column j of S: every step of the rule works row by row.
        for (size_t j = 0; j < dv; ++j) {
          float* row = m + j * dk;
          for (size_t i = 0; i < dk; ++i) row[i] *= decay;
          const float delta = beta * (v[j] - dot(row, k, dk));
          axpy(delta, k, row, dk);
          o[j] = scale * dot(row, q, dk);
        }
      }
    }
  });
}

void gated_delta_rule_chunked(const DeltaNetShape& shape, const DeltaNetInputs& in,
                              std::span<float> state, std::span<float> out, ThreadPool& pool,
                              size_t chunk_size) {
  const size_t tokens = check_inputs(shape, in, state, out);
  TANDEM_CHECK(chunk_size > 0);
  if (tokens == 0) return;
  const size_t chunk = std::min(chunk_size, tokens);
  pool.parallel_for(shape.value_heads, [&](size_t begin, size_t end, size_t) {
    ChunkScratch scratch(chunk, shape.key_dim, shape.value_dim);
    for (size_t head = begin; head < end; ++head) {
      const HeadView view{shape, in, head, shape.key_head_of(head)};
      float* m = state.data() + head * shape.state_floats_per_head();
      for (size_t t0 = 0; t0 < tokens; t0 += chunk) {
        run_chunk(view, t0, std::min(chunk, tokens - t0), m, out, scratch);
      }
    }
  });
}

void gated_delta_rule(const DeltaNetShape& shape, const DeltaNetInputs& in, std::span<float> state,
                      std::span<float> out, ThreadPool& pool) {
  // Below a few tokens the chunk set-up costs more than it saves.
  constexpr size_t kMinChunkedTokens = 8;
  if (in.beta.size() < kMinChunkedTokens * shape.value_heads) {
    gated_delta_rule_sequential(shape, in, state, out, pool);
  } else {
    gated_delta_rule_chunked(shape, in, state, out, pool);
  }
}

void deltanet_gates(std::span<const float> alpha, std::span<const float> beta_logit,
                    std::span<const float> ssm_a, std::span<const float> dt_bias,
                    std::span<float> log_decay, std::span<float> beta) {
  const size_t heads = ssm_a.size();
  TANDEM_CHECK(heads > 0 && dt_bias.size() == heads);
  TANDEM_CHECK(alpha.size() % heads == 0 && beta_logit.size() == alpha.size());
  TANDEM_CHECK(log_decay.size() == alpha.size() && beta.size() == alpha.size());
  for (size_t index = 0; index < alpha.size(); ++index) {
    const size_t head = index % heads;
    const float x = alpha[index] + dt_bias[head];
    // softplus as ggml computes it: exact above 20, where log(1 + e^x) == x in float.
    const float softplus = x > 20.0f ? x : std::log1p(std::exp(x));
    log_decay[index] = ssm_a[head] * softplus;
    beta[index] = 1.0f / (1.0f + std::exp(-beta_logit[index]));
  }
}

}  // namespace tandem
