#include "ops/deltanet.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/deltanet_kernels.h"
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

deltanet_detail::HeadData head_data(const HeadView& view, std::span<float> out) {
  const DeltaNetShape& s = view.shape;
  return {view.query(0),
          view.key(0),
          s.key_heads * s.key_dim,
          view.value(0),
          s.value_heads * s.value_dim,
          view.in.log_decay.data() + view.head,
          view.in.beta.data() + view.head,
          s.value_heads,
          out.data() + view.out_offset(0),
          s.value_heads * s.value_dim,
          s.key_dim,
          s.value_dim};
}

}  // namespace

void gated_delta_rule_reference(const DeltaNetShape& shape, const DeltaNetInputs& in,
                                std::span<float> state, std::span<float> out) {
  const size_t tokens = check_inputs(shape, in, state, out);
  const size_t dk = shape.key_dim;
  const size_t dv = shape.value_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
  for (size_t head = 0; head < shape.value_heads; ++head) {
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
}

void gated_delta_rule_sequential(const DeltaNetShape& shape, const DeltaNetInputs& in,
                                 std::span<float> state, std::span<float> out, ThreadPool& pool) {
  const size_t tokens = check_inputs(shape, in, state, out);
  if (tokens == 0) return;
  pool.parallel_for(shape.value_heads, [&](size_t begin, size_t end, size_t) {
    for (size_t head = begin; head < end; ++head) {
      const HeadView view{shape, in, head, shape.key_head_of(head)};
      deltanet_detail::sequential_head(head_data(view, out), tokens,
                                       state.data() + head * shape.state_floats_per_head());
    }
  });
}

void gated_delta_rule_chunked(const DeltaNetShape& shape, const DeltaNetInputs& in,
                              std::span<float> state, std::span<float> out, ThreadPool& pool,
                              size_t chunk_size) {
  const size_t tokens = check_inputs(shape, in, state, out);
  TANDEM_CHECK(chunk_size > 0);
  if (tokens == 0) return;
  pool.parallel_for(shape.value_heads, [&](size_t begin, size_t end, size_t) {
    for (size_t head = begin; head < end; ++head) {
      const HeadView view{shape, in, head, shape.key_head_of(head)};
      deltanet_detail::chunked_head(head_data(view, out), tokens, chunk_size,
                                    state.data() + head * shape.state_floats_per_head());
    }
  });
}

void gated_delta_rule(DeltaRuleForm form, const DeltaNetShape& shape, const DeltaNetInputs& in,
                      std::span<float> state, std::span<float> out, ThreadPool& pool) {
  switch (form) {
    case DeltaRuleForm::kSequential:
      gated_delta_rule_sequential(shape, in, state, out, pool);
      return;
    case DeltaRuleForm::kChunked:
      gated_delta_rule_chunked(shape, in, state, out, pool);
      return;
    case DeltaRuleForm::kReference:
      gated_delta_rule_reference(shape, in, state, out);
      return;
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
