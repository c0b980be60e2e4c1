// SIMD bodies of the gated delta rule. The maths is documented in ops/deltanet.h and
// docs/qwen35moe.md; the scalar reference is gated_delta_rule_reference().

#include "ops/deltanet_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/deltanet_kernels.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace tandem::deltanet_detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float Dot(const float* a, const float* b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto sum0 = hn::Zero(d);
  auto sum1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    sum0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), sum0);
    sum1 = hn::MulAdd(hn::LoadU(d, a + i + lanes), hn::LoadU(d, b + i + lanes), sum1);
  }
  for (; i + lanes <= n; i += lanes)
    sum0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), sum0);
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(sum0, sum1)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// y = y * keep + alpha * x
void ScaleAxpy(float keep, float alpha, const float* x, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto keep_v = hn::Set(d, keep);
  const auto alpha_v = hn::Set(d, alpha);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto y_v = hn::Mul(hn::LoadU(d, y + i), keep_v);
    hn::StoreU(hn::MulAdd(alpha_v, hn::LoadU(d, x + i), y_v), d, y + i);
  }
  for (; i < n; ++i) y[i] = y[i] * keep + alpha * x[i];
}

void Axpy(float alpha, const float* x, float* y, size_t n) { ScaleAxpy(1.0f, alpha, x, y, n); }

void SequentialHead(const HeadData& h, size_t tokens, float* m) {
  const size_t dk = h.key_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
  for (size_t t = 0; t < tokens; ++t) {
    const float decay = std::exp(h.log_decay[t * h.gate_stride]);
    const float beta = h.beta[t * h.gate_stride];
    const float* q = h.query + t * h.key_stride;
    const float* k = h.key + t * h.key_stride;
    const float* v = h.value + t * h.value_stride;
    float* o = h.out + t * h.out_stride;
    // Row j of M is column j of S: every step of the rule works row by row.
    for (size_t j = 0; j < h.value_dim; ++j) {
      float* row = m + j * dk;
      const float delta = beta * (v[j] - decay * Dot(row, k, dk));
      ScaleAxpy(decay, delta, k, row, dk);
      o[j] = scale * Dot(row, q, dk);
    }
  }
}

// One chunk [t0, t0 + n); see docs/qwen35moe.md for the derivation.
void Chunk(const HeadData& h, size_t t0, size_t n, float* m, std::vector<float>& scratch) {
  const size_t dk = h.key_dim;
  const size_t dv = h.value_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
  scratch.assign(n + 3 * n * n + n * dk + n * dv, 0.0f);
  float* cumulative = scratch.data();  // G[t]: [n], log decay summed from the chunk start
  float* a = cumulative + n;           // A, strictly lower: [n][n]
  float* inverse = a + n * n;          // T = (I + A)^-1, unit lower: [n][n]
  float* qk = inverse + n * n;         // e^{G_t - G_s} q_t.k_s, s <= t: [n][n]
  float* w = qk + n * n;               // W = T diag(beta e^G) K: [n][dk]
  float* u = w + n * dk;               // U, the chunk's writes: [n][dv]
  auto key = [&](size_t t) { return h.key + (t0 + t) * h.key_stride; };
  auto query = [&](size_t t) { return h.query + (t0 + t) * h.key_stride; };
  auto value = [&](size_t t) { return h.value + (t0 + t) * h.value_stride; };
  auto beta = [&](size_t t) { return h.beta[(t0 + t) * h.gate_stride]; };

  float running = 0.0f;
  for (size_t t = 0; t < n; ++t) {
    running += h.log_decay[(t0 + t) * h.gate_stride];
    cumulative[t] = running;
  }
  for (size_t t = 0; t < n; ++t) {
    for (size_t s = 0; s <= t; ++s) {
      const float decay = std::exp(cumulative[t] - cumulative[s]);
      if (s < t) a[t * n + s] = beta(t) * decay * Dot(key(t), key(s), dk);
      qk[t * n + s] = decay * Dot(query(t), key(s), dk);
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
  for (size_t t = 0; t < n; ++t) {
    for (size_t s = 0; s <= t; ++s) {
      const float coefficient = inverse[t * n + s] * beta(s);
      Axpy(coefficient * std::exp(cumulative[s]), key(s), w + t * dk, dk);
      Axpy(coefficient, value(s), u + t * dv, dv);
    }
    for (size_t j = 0; j < dv; ++j) u[t * dv + j] -= Dot(w + t * dk, m + j * dk, dk);
  }
  // o_t = scale (e^{G_t} S0^T q_t + sum_{s <= t} e^{G_t - G_s} (q_t.k_s) u_s).
  for (size_t t = 0; t < n; ++t) {
    float* o = h.out + (t0 + t) * h.out_stride;
    const float carried = std::exp(cumulative[t]);
    for (size_t j = 0; j < dv; ++j) o[j] = carried * Dot(m + j * dk, query(t), dk);
    for (size_t s = 0; s <= t; ++s) Axpy(qk[t * n + s], u + s * dv, o, dv);
    for (size_t j = 0; j < dv; ++j) o[j] *= scale;
  }
  // S_n = e^{G_n} S0 + sum_s e^{G_n - G_s} k_s u_s^T, in the transposed layout.
  const float last = cumulative[n - 1];
  const float carried = std::exp(last);
  for (size_t j = 0; j < dv; ++j) {
    float* row = m + j * dk;
    for (size_t i = 0; i < dk; ++i) row[i] *= carried;
    for (size_t s = 0; s < n; ++s) {
      Axpy(std::exp(last - cumulative[s]) * u[s * dv + j], key(s), row, dk);
    }
  }
}

void ChunkedHead(const HeadData& h, size_t tokens, size_t chunk, float* m) {
  std::vector<float> scratch;
  for (size_t t0 = 0; t0 < tokens; t0 += chunk)
    Chunk(h, t0, std::min(chunk, tokens - t0), m, scratch);
}

}  // namespace HWY_NAMESPACE
}  // namespace tandem::deltanet_detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tandem::deltanet_detail {

HWY_EXPORT(SequentialHead);
HWY_EXPORT(ChunkedHead);

void sequential_head(const HeadData& head, size_t tokens, float* state) {
  HWY_DYNAMIC_DISPATCH(SequentialHead)(head, tokens, state);
}

void chunked_head(const HeadData& head, size_t tokens, size_t chunk, float* state) {
  HWY_DYNAMIC_DISPATCH(ChunkedHead)(head, tokens, chunk, state);
}

}  // namespace tandem::deltanet_detail
#endif  // HWY_ONCE
