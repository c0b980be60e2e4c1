// Tests of the Gated DeltaNet kernels: causal conv1d with state, the gated delta rule
// (sequential against an independent double-precision reference, chunked against
// sequential), gates, norms, the recurrent state and the whole token mixer.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "hwy/targets.h"
#include "ops/conv1d.h"
#include "ops/deltanet.h"
#include "ops/deltanet_block.h"
#include "ops/gated_norm.h"
#include "ops/recurrent_state.h"
#include "ops/rope_imrope.h"
#include "platform/thread_pool.h"

namespace tandem {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937& rng, float low = -1.0f,
                                 float high = 1.0f) {
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void normalize_rows(std::vector<float>& v, size_t dim) { l2_normalize_rows(v, dim, 1e-6f); }

float max_abs(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// ---------------------------------------------------------------- conv1d

TEST(DeltaNetConv1d, HandComputed) {
  ThreadPool pool(1);
  // One channel, taps [1, 10] (oldest first), inputs 1, 2, 3 after a zero history.
  const std::vector<float> input = {1, 2, 3};
  const std::vector<float> weight = {1, 10};
  std::vector<float> state = {0};
  std::vector<float> out(3);
  causal_conv1d({1, 2}, input, weight, state, out, Conv1dActivation::kNone, pool);
  EXPECT_EQ(out, (std::vector<float>{10, 21, 32}));
  EXPECT_EQ(state, (std::vector<float>{3}));
  // SiLU of 10: 10 / (1 + e^-10).
  std::vector<float> one(1);
  causal_conv1d({1, 2}, std::vector<float>{1}, weight, state, one, Conv1dActivation::kSilu, pool);
  EXPECT_NEAR(one[0], 13.0 / (1.0 + std::exp(-13.0)), 1e-5);
}

// Direct definition: zero history, then the whole input.
std::vector<float> conv_reference(const std::vector<float>& input, const std::vector<float>& w,
                                  size_t channels, size_t kernel) {
  const size_t tokens = input.size() / channels;
  std::vector<float> out(input.size());
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t c = 0; c < channels; ++c) {
      double sum = 0.0;
      for (size_t j = 0; j < kernel; ++j) {
        const ptrdiff_t source = static_cast<ptrdiff_t>(t + j) - static_cast<ptrdiff_t>(kernel - 1);
        if (source >= 0) sum += double(input[size_t(source) * channels + c]) * w[c * kernel + j];
      }
      out[t * channels + c] = static_cast<float>(sum);
    }
  }
  return out;
}

TEST(DeltaNetConv1d, PrefillEqualsSingleStepsAndReference) {
  ThreadPool pool(3);
  std::mt19937 rng(7);
  const size_t channels = 37;
  const size_t kernel = 4;
  const size_t tokens = 13;
  const Conv1dShape shape{channels, kernel};
  const auto input = random_vector(tokens * channels, rng);
  const auto weight = random_vector(channels * kernel, rng);

  std::vector<float> state_batch(shape.state_floats(), 0.0f);
  std::vector<float> out_batch(input.size());
  causal_conv1d(shape, input, weight, state_batch, out_batch, Conv1dActivation::kNone, pool);
  const auto reference = conv_reference(input, weight, channels, kernel);
  EXPECT_LT(max_abs_diff(out_batch, reference), 1e-5f);

  // Token by token, then 5 + 8: the same outputs and state, bit for bit.
  std::vector<float> state_steps(shape.state_floats(), 0.0f);
  std::vector<float> out_steps(input.size());
  for (size_t t = 0; t < tokens; ++t) {
    causal_conv1d(shape, std::span(input).subspan(t * channels, channels), weight, state_steps,
                  std::span(out_steps).subspan(t * channels, channels), Conv1dActivation::kNone,
                  pool);
  }
  EXPECT_EQ(out_steps, out_batch);
  EXPECT_EQ(state_steps, state_batch);

  std::vector<float> state_split(shape.state_floats(), 0.0f);
  std::vector<float> out_split(input.size());
  const size_t first = 5 * channels;
  causal_conv1d(shape, std::span(input).first(first), weight, state_split,
                std::span(out_split).first(first), Conv1dActivation::kNone, pool);
  causal_conv1d(shape, std::span(input).subspan(first), weight, state_split,
                std::span(out_split).subspan(first), Conv1dActivation::kNone, pool);
  EXPECT_EQ(out_split, out_batch);
  // The state is the last kernel - 1 inputs of each channel.
  for (size_t c = 0; c < channels; ++c) {
    for (size_t j = 0; j < kernel - 1; ++j) {
      EXPECT_EQ(state_batch[c * (kernel - 1) + j],
                input[(tokens - (kernel - 1) + j) * channels + c]);
    }
  }
}

// ---------------------------------------------------------------- gates and norms

TEST(DeltaNetGates, HandComputed) {
  const std::vector<float> alpha = {0.0f, 30.0f};
  const std::vector<float> beta_logit = {0.0f, 2.0f};
  const std::vector<float> ssm_a = {-2.0f, -0.5f};
  const std::vector<float> dt_bias = {0.0f, -5.0f};
  std::vector<float> g(2), beta(2);
  deltanet_gates(alpha, beta_logit, ssm_a, dt_bias, g, beta);
  EXPECT_NEAR(g[0], -2.0 * std::log(2.0), 1e-6);
  EXPECT_NEAR(g[1], -0.5 * std::log1p(std::exp(25.0)), 1e-5);  // softplus(25) ~ 25
  EXPECT_NEAR(beta[0], 0.5, 1e-7);
  EXPECT_NEAR(beta[1], 1.0 / (1.0 + std::exp(-2.0)), 1e-7);
}

TEST(DeltaNetNorms, L2AndGatedRms) {
  std::vector<float> rows = {3, 4, 0, 0};
  l2_normalize_rows(rows, 2, 1e-6f);
  EXPECT_NEAR(rows[0], 0.6f, 1e-7);
  EXPECT_NEAR(rows[1], 0.8f, 1e-7);
  EXPECT_EQ(rows[2], 0.0f);  // eps floors the norm: no division by zero
  EXPECT_EQ(rows[3], 0.0f);

  const std::vector<float> x = {2, -2, 1, 3};
  const std::vector<float> gate = {1, -1, 0, 4};
  const std::vector<float> weight = {1, 0.5};
  const float eps = 1e-6f;
  std::vector<float> out(4);
  gated_rms_norm(x, gate, weight, eps, out);
  auto silu = [](double v) { return v / (1.0 + std::exp(-v)); };
  const double s0 = 1.0 / std::sqrt(4.0 + eps);  // mean of squares of {2, -2} is 4
  const double s1 = 1.0 / std::sqrt(5.0 + eps);  // of {1, 3} is 5
  EXPECT_NEAR(out[0], 2 * s0 * 1.0 * silu(1), 1e-6);
  EXPECT_NEAR(out[1], -2 * s0 * 0.5 * silu(-1), 1e-6);
  EXPECT_EQ(out[2], 0.0f);  // silu(0) = 0
  EXPECT_NEAR(out[3], 3 * s1 * 0.5 * silu(4), 1e-6);
}

// ---------------------------------------------------------------- the delta rule

TEST(GatedDeltaRule, OneStepByHand) {
  ThreadPool pool(1);
  // d_k = d_v = 1 (scale 1): S = 0.5, decay 0.5 -> 0.25; delta = 0.5 (2 - 0.25) = 0.875;
  // S = 0.25 + 0.875 = 1.125; o = 1.125 * q.
  const DeltaNetShape shape{1, 1, 1, 1};
  const std::vector<float> q = {1}, k = {1}, v = {2}, g = {std::log(0.5f)}, beta = {0.5f};
  for (bool chunked : {false, true}) {
    std::vector<float> state = {0.5f};
    std::vector<float> out(1);
    const DeltaNetInputs in{q, k, v, g, beta};
    if (chunked) {
      gated_delta_rule_chunked(shape, in, state, out, pool);
    } else {
      gated_delta_rule_sequential(shape, in, state, out, pool);
    }
    EXPECT_NEAR(state[0], 1.125f, 1e-6);
    EXPECT_NEAR(out[0], 1.125f, 1e-6);
  }
}

// Random inputs for the rule: unit q and k, decays in [-2, 0) with some near 0 (long
// memory), beta in (0, 1). With `correlated_keys` the keys of a head are close to
// each other, which makes (I + A) far from the identity.
struct RuleCase {
  DeltaNetShape shape;
  size_t tokens;
  std::vector<float> q, k, v, g, beta, state;

  RuleCase(DeltaNetShape s, size_t t, uint32_t seed, bool correlated_keys = false)
      : shape(s), tokens(t) {
    std::mt19937 rng(seed);
    q = random_vector(t * s.key_heads * s.key_dim, rng);
    k = random_vector(t * s.key_heads * s.key_dim, rng);
    if (correlated_keys) {
      const auto base = random_vector(s.key_dim, rng);
      for (size_t i = 0; i < k.size(); ++i) k[i] = base[i % s.key_dim] + 0.1f * k[i];
    }
    normalize_rows(q, s.key_dim);
    normalize_rows(k, s.key_dim);
    v = random_vector(t * s.value_heads * s.value_dim, rng, -2.0f, 2.0f);
    g = random_vector(t * s.value_heads, rng, -2.0f, 0.0f);
    for (size_t i = 0; i < g.size(); i += 3) g[i] *= 0.01f;
    beta = random_vector(t * s.value_heads, rng, correlated_keys ? 0.8f : 0.0f, 1.0f);
    state = random_vector(s.state_floats(), rng, -0.5f, 0.5f);
  }
  DeltaNetInputs inputs() const { return {q, k, v, g, beta}; }
  // Inputs of tokens [begin, end).
  DeltaNetInputs slice(size_t begin, size_t end) const {
    const size_t kw = shape.key_heads * shape.key_dim;
    const size_t vw = shape.value_heads * shape.value_dim;
    const size_t h = shape.value_heads;
    return {std::span(q).subspan(begin * kw, (end - begin) * kw),
            std::span(k).subspan(begin * kw, (end - begin) * kw),
            std::span(v).subspan(begin * vw, (end - begin) * vw),
            std::span(g).subspan(begin * h, (end - begin) * h),
            std::span(beta).subspan(begin * h, (end - begin) * h)};
  }
};

// Independent reference in double, with S in the mathematical [d_k][d_v] layout and
// HF's loop order; value head h reads key head h % H_k (tiled) or h / (H_v / H_k).
void reference_rule(const RuleCase& c, std::vector<float>& state, std::vector<float>& out) {
  const auto& s = c.shape;
  out.assign(c.tokens * s.value_heads * s.value_dim, 0.0f);
  const double scale = 1.0 / std::sqrt(double(s.key_dim));
  for (size_t h = 0; h < s.value_heads; ++h) {
    const size_t kh =
        s.order == KeyHeadOrder::kTiled ? h % s.key_heads : h / (s.value_heads / s.key_heads);
    std::vector<double> S(s.key_dim * s.value_dim);              // S[i][j]
    float* stored = state.data() + h * s.key_dim * s.value_dim;  // M[j][i]
    for (size_t i = 0; i < s.key_dim; ++i)
      for (size_t j = 0; j < s.value_dim; ++j) S[i * s.value_dim + j] = stored[j * s.key_dim + i];
    for (size_t t = 0; t < c.tokens; ++t) {
      const float* q = c.q.data() + (t * s.key_heads + kh) * s.key_dim;
      const float* k = c.k.data() + (t * s.key_heads + kh) * s.key_dim;
      const float* v = c.v.data() + (t * s.value_heads + h) * s.value_dim;
      const double decay = std::exp(double(c.g[t * s.value_heads + h]));
      const double beta = c.beta[t * s.value_heads + h];
      for (double& x : S) x *= decay;
      for (size_t j = 0; j < s.value_dim; ++j) {
        double kv = 0.0;
        for (size_t i = 0; i < s.key_dim; ++i) kv += S[i * s.value_dim + j] * k[i];
        const double delta = beta * (v[j] - kv);
        for (size_t i = 0; i < s.key_dim; ++i) S[i * s.value_dim + j] += k[i] * delta;
      }
      for (size_t j = 0; j < s.value_dim; ++j) {
        double o = 0.0;
        for (size_t i = 0; i < s.key_dim; ++i) o += S[i * s.value_dim + j] * q[i];
        out[(t * s.value_heads + h) * s.value_dim + j] = static_cast<float>(o * scale);
      }
    }
    for (size_t i = 0; i < s.key_dim; ++i)
      for (size_t j = 0; j < s.value_dim; ++j)
        stored[j * s.key_dim + i] = static_cast<float>(S[i * s.value_dim + j]);
  }
}

// Float error bound: each output is a sum over about tokens-in-memory x d_k products of
// values of size max|v| (the state stays of the order of |v| because |k| = 1 and
// beta, decay <= 1); rounding grows like eps * sqrt(terms) per step and the rule is
// contractive, so 1e-5 relative to the value scale leaves a wide margin over
// 6e-8 * sqrt(64 * 64) = 4e-6.
float rule_tolerance(const std::vector<float>& reference) {
  return 1e-5f * std::max(1.0f, max_abs(reference)) * 10.0f;
}

TEST(GatedDeltaRule, SequentialMatchesDoubleReference) {
  ThreadPool pool(2);
  const RuleCase c({2, 8, 32, 48}, 40, 11);
  std::vector<float> ref_state = c.state, ref_out;
  reference_rule(c, ref_state, ref_out);
  for (bool simd : {false, true}) {
    std::vector<float> state = c.state, out(ref_out.size());
    if (simd) {
      gated_delta_rule_sequential(c.shape, c.inputs(), state, out, pool);
    } else {
      gated_delta_rule_reference(c.shape, c.inputs(), state, out);
    }
    EXPECT_LT(max_abs_diff(out, ref_out), rule_tolerance(ref_out)) << "simd " << simd;
    EXPECT_LT(max_abs_diff(state, ref_state), rule_tolerance(ref_state)) << "simd " << simd;
  }
}

// Runs `body` once per SIMD target compiled in and supported here, dispatch forced to it.
template <typename Body>
void for_each_simd_target(const Body& body) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  for (const int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    body();
  }
  hwy::SetSupportedTargetsForTest(0);  // back to what the CPU supports
}

TEST(GatedDeltaRule, SimdMatchesScalarReferenceWithTails) {
  // Sizes that are not multiples of any vector width exercise the scalar tails.
  ThreadPool pool(2);
  for_each_simd_target([&] {
    for (const DeltaNetShape shape :
         {DeltaNetShape{1, 3, 13, 7}, DeltaNetShape{2, 2, 5, 33}, DeltaNetShape{2, 4, 128, 128}}) {
      const RuleCase c(shape, 70, 17);
      std::vector<float> ref_state = c.state, ref_out(70 * shape.value_heads * shape.value_dim);
      gated_delta_rule_reference(shape, c.inputs(), ref_state, ref_out);
      for (bool chunked : {false, true}) {
        std::vector<float> state = c.state, out(ref_out.size());
        if (chunked) {
          gated_delta_rule_chunked(shape, c.inputs(), state, out, pool);
        } else {
          gated_delta_rule_sequential(shape, c.inputs(), state, out, pool);
        }
        EXPECT_LT(max_abs_diff(out, ref_out), rule_tolerance(ref_out))
            << "d_k " << shape.key_dim << " chunked " << chunked;
        EXPECT_LT(max_abs_diff(state, ref_state), rule_tolerance(ref_state));
      }
    }
  });
}

TEST(GatedDeltaRule, KeyHeadOrders) {
  // qwen35moe GGUFs (tiled): with two key heads, value head 1 reads key head 1.
  const DeltaNetShape tiled{2, 8, 4, 4};
  EXPECT_EQ(tiled.key_head_of(1), 1u);
  EXPECT_EQ(tiled.key_head_of(2), 0u);
  EXPECT_EQ(tiled.key_head_of(7), 1u);
  // qwen3next GGUFs (grouped, Hugging Face's order): heads 0-3 read key head 0.
  const DeltaNetShape grouped{2, 8, 4, 4, KeyHeadOrder::kGrouped};
  EXPECT_EQ(grouped.key_head_of(3), 0u);
  EXPECT_EQ(grouped.key_head_of(4), 1u);
}

TEST(GatedDeltaRule, GroupedOrderMatchesReference) {
  ThreadPool pool(2);
  const RuleCase c({2, 6, 16, 16, KeyHeadOrder::kGrouped}, 20, 13);
  std::vector<float> ref_state = c.state, ref_out;
  reference_rule(c, ref_state, ref_out);
  for (bool chunked : {false, true}) {
    std::vector<float> state = c.state, out(ref_out.size());
    if (chunked) {
      gated_delta_rule_chunked(c.shape, c.inputs(), state, out, pool, 8);
    } else {
      gated_delta_rule_sequential(c.shape, c.inputs(), state, out, pool);
    }
    EXPECT_LT(max_abs_diff(out, ref_out), rule_tolerance(ref_out));
    EXPECT_LT(max_abs_diff(state, ref_state), rule_tolerance(ref_state));
  }
}

class ChunkedVsSequential : public ::testing::TestWithParam<size_t> {};

TEST_P(ChunkedVsSequential, SameOutputsAndState) {
  ThreadPool pool(2);
  const size_t tokens = GetParam();
  for (const DeltaNetShape shape : {DeltaNetShape{2, 8, 64, 64}, DeltaNetShape{3, 6, 16, 24}}) {
    for (bool correlated : {false, true}) {
      const RuleCase c(shape, tokens, 100 + static_cast<uint32_t>(tokens), correlated);
      std::vector<float> seq_state = c.state, seq_out(tokens * shape.value_heads * shape.value_dim);
      gated_delta_rule_reference(shape, c.inputs(), seq_state, seq_out);
      std::vector<float> chunk_state = c.state, chunk_out(seq_out.size());
      gated_delta_rule_chunked(shape, c.inputs(), chunk_state, chunk_out, pool);
      EXPECT_LT(max_abs_diff(chunk_out, seq_out), rule_tolerance(seq_out))
          << "tokens " << tokens << " correlated " << correlated;
      EXPECT_LT(max_abs_diff(chunk_state, seq_state), rule_tolerance(seq_state));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tokens, ChunkedVsSequential, ::testing::Values(1, 7, 64, 300));

TEST(GatedDeltaRule, ChunkedPrefillThenSequentialDecode) {
  ThreadPool pool(3);
  const DeltaNetShape shape{2, 8, 64, 64};
  const size_t tokens = 150;
  const size_t prefill = 100;
  const RuleCase c(shape, tokens, 5);
  std::vector<float> all_state = c.state, all_out(tokens * shape.value_heads * shape.value_dim);
  gated_delta_rule_sequential(shape, c.inputs(), all_state, all_out, pool);

  std::vector<float> state = c.state, out(all_out.size());
  const size_t row = shape.value_heads * shape.value_dim;
  gated_delta_rule_chunked(shape, c.slice(0, prefill), state, std::span(out).first(prefill * row),
                           pool);
  for (size_t t = prefill; t < tokens; ++t) {
    gated_delta_rule(DeltaRuleForm::kSequential, shape, c.slice(t, t + 1), state,
                     std::span(out).subspan(t * row, row), pool);
  }
  EXPECT_LT(max_abs_diff(out, all_out), rule_tolerance(all_out));
  EXPECT_LT(max_abs_diff(state, all_state), rule_tolerance(all_state));
}

TEST(GatedDeltaRule, ThreadCountDoesNotChangeResults) {
  const RuleCase c({2, 8, 32, 32}, 70, 3);
  std::vector<float> reference_out;
  std::vector<float> reference_state;
  for (size_t threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    std::vector<float> state = c.state, out(70 * 8 * 32);
    gated_delta_rule_chunked(c.shape, c.inputs(), state, out, pool);
    if (reference_out.empty()) {
      reference_out = out;
      reference_state = state;
    } else {
      EXPECT_EQ(out, reference_out);  // heads are independent: bit-identical
      EXPECT_EQ(state, reference_state);
    }
  }
}

// ---------------------------------------------------------------- IMROPE

TEST(Imrope, SectionsPickThePosition) {
  // qwen35moe-tiny: n_rot 32, sections [6, 6, 4, 0]: only pair 14 falls to the 4th
  // component, which is 0 for text.
  const ImropeOptions tiny{128, 32, {6, 6, 4, 0}, 1e7f};
  for (size_t pair = 0; pair < 16; ++pair) {
    EXPECT_EQ(imrope_pair_uses_position(tiny, pair), pair != 14) << pair;
  }
  // Qwen3.5 release sections [11, 11, 10, 0] with n_rot 64: every pair rotates.
  const ImropeOptions release{256, 64, {11, 11, 10, 0}, 1e7f};
  for (size_t pair = 0; pair < 32; ++pair) EXPECT_TRUE(imrope_pair_uses_position(release, pair));
}

TEST(Imrope, RotatesNeoxPairsByHand) {
  // head_dim 6, n_rot 4 (pairs (0, 2) and (1, 3)), theta 100: frequencies 1 and 1/10.
  const ImropeOptions options{6, 4, {2, 0, 0, 0}, 100.0f};
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::vector<int32_t> position = {3};
  apply_imrope_text(options, position, x);
  // Sections [2, 0, 0, 0]: pair 0 (sector 0) rotates, pair 1 (sector 1) falls to e.
  EXPECT_NEAR(x[0], 1 * std::cos(3.0) - 3 * std::sin(3.0), 1e-5);
  EXPECT_NEAR(x[2], 1 * std::sin(3.0) + 3 * std::cos(3.0), 1e-5);
  EXPECT_FLOAT_EQ(x[1], 2);
  EXPECT_FLOAT_EQ(x[3], 4);
  EXPECT_FLOAT_EQ(x[4], 5);  // beyond n_rot: untouched
  EXPECT_FLOAT_EQ(x[5], 6);
  const ImropeOptions all{6, 4, {1, 1, 0, 0}, 100.0f};  // pair 1 now takes h
  x = {1, 2, 3, 4, 5, 6};
  apply_imrope_text(all, position, x);
  EXPECT_NEAR(x[1], 2 * std::cos(0.3) - 4 * std::sin(0.3), 1e-5);
  EXPECT_NEAR(x[3], 2 * std::sin(0.3) + 4 * std::cos(0.3), 1e-5);
}

// ---------------------------------------------------------------- state and mixer

TEST(RecurrentState, SizeFromConfig) {
  // qwen35moe-tiny: 2 key heads, 8 value heads, dims 64, conv kernel 4, 3 DeltaNet layers.
  const DeltaNetDims dims{2, 8, 64, 64, 4};
  EXPECT_EQ(dims.conv_channels(), 768u);
  EXPECT_EQ(dims.conv_state_floats(), 3u * 768u);
  EXPECT_EQ(dims.delta_state_floats(), 8u * 64u * 64u);
  EXPECT_EQ(RecurrentState::bytes_for(dims, 3), 3u * (2304u + 32768u) * 4u);
  RecurrentState state(dims, 3);
  EXPECT_EQ(state.bytes(), RecurrentState::bytes_for(dims, 3));
  // The per-layer parts tile the storage without overlap.
  for (size_t layer = 0; layer < 3; ++layer) {
    EXPECT_EQ(state.conv_state(layer).size(), dims.conv_state_floats());
    EXPECT_EQ(state.delta_state(layer).size(), dims.delta_state_floats());
    EXPECT_EQ(state.conv_state(layer).data() + dims.conv_state_floats(),
              state.delta_state(layer).data());
    if (layer > 0) {
      EXPECT_EQ(state.delta_state(layer - 1).data() + dims.delta_state_floats(),
                state.conv_state(layer).data());
    }
  }
  state.delta_state(2)[5] = 1.0f;
  state.reset();
  EXPECT_EQ(state.delta_state(2)[5], 0.0f);
}

TEST(DeltaNetMix, PrefillEqualsIncrementalDecode) {
  ThreadPool pool(2);
  std::mt19937 rng(21);
  const DeltaNetDims dims{2, 4, 16, 16, 4};
  const size_t tokens = 90;
  const auto conv = random_vector(dims.conv_channels() * dims.conv_kernel, rng, -0.6f, 0.6f);
  const auto ssm_a = random_vector(dims.value_heads, rng, -8.0f, -1.0f);
  const auto dt_bias = random_vector(dims.value_heads, rng, -4.0f, -2.0f);
  const auto norm = random_vector(dims.value_dim, rng, 0.9f, 1.1f);
  const DeltaNetLayerWeights weights{conv, ssm_a, dt_bias, norm};
  const auto qkv = random_vector(tokens * dims.conv_channels(), rng, -2.0f, 2.0f);
  const auto gate = random_vector(tokens * dims.value_width(), rng, -2.0f, 2.0f);
  const auto alpha = random_vector(tokens * dims.value_heads, rng, -2.0f, 2.0f);
  const auto beta = random_vector(tokens * dims.value_heads, rng, -2.0f, 2.0f);

  RecurrentState batch_state(dims, 1);
  std::vector<float> batch(tokens * dims.value_width());
  // Prefill in chunked form, decode in sequential form, as an engine would.
  const DeltaNetMixOptions prefill{1e-6f, DeltaRuleForm::kChunked};
  deltanet_mix(dims, weights, {qkv, gate, alpha, beta}, prefill, batch_state.conv_state(0),
               batch_state.delta_state(0), batch, pool);

  RecurrentState step_state(dims, 1);
  std::vector<float> steps(batch.size());
  const size_t c = dims.conv_channels(), w = dims.value_width(), h = dims.value_heads;
  for (size_t t = 0; t < tokens; ++t) {
    const DeltaNetProjections one{
        std::span(qkv).subspan(t * c, c), std::span(gate).subspan(t * w, w),
        std::span(alpha).subspan(t * h, h), std::span(beta).subspan(t * h, h)};
    deltanet_mix(dims, weights, one, {}, step_state.conv_state(0), step_state.delta_state(0),
                 std::span(steps).subspan(t * w, w), pool);
  }
  EXPECT_LT(max_abs_diff(batch, steps), 1e-4f * std::max(1.0f, max_abs(steps)));
  EXPECT_EQ(std::vector<float>(batch_state.conv_state(0).begin(), batch_state.conv_state(0).end()),
            std::vector<float>(step_state.conv_state(0).begin(), step_state.conv_state(0).end()));
  float state_diff = 0.0f;
  for (size_t i = 0; i < dims.delta_state_floats(); ++i) {
    state_diff = std::max(state_diff,
                          std::abs(batch_state.delta_state(0)[i] - step_state.delta_state(0)[i]));
  }
  EXPECT_LT(state_diff, 1e-4f);
}

}  // namespace
}  // namespace tandem
