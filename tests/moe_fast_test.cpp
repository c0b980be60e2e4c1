// The fast MoE block and the shared-input matmul against the per-matrix products they
// replace, and the thread pool's slot contract they rely on.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "model/blocks.h"
#include "model/moe_fast.h"
#include "ops/matmul.h"
#include "ops/quant/quantize.h"
#include "platform/thread_pool.h"

namespace tandem {
namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> out(n);
  for (float& v : out) v = dist(rng);
  return out;
}

FloatMatrix random_rows(size_t rows, size_t cols, uint32_t seed) {
  FloatMatrix x(rows, cols);
  const auto values = random_vector(rows * cols, seed, 1.0f);
  std::copy(values.begin(), values.end(), x.data().begin());
  return x;
}

// sqrt(sum (a - b)^2 / sum b^2) over all elements.
double relative_rms_error(const FloatMatrix& a, const FloatMatrix& b) {
  double error = 0, norm = 0;
  for (size_t i = 0; i < b.data().size(); ++i) {
    error += std::pow(double(a.data()[i]) - b.data()[i], 2);
    norm += std::pow(double(b.data()[i]), 2);
  }
  return std::sqrt(error / norm);
}

// A [rows][cols] weight matrix stored as `type`, with its owned bytes.
struct StoredMatrix {
  std::vector<uint8_t> bytes;
  WeightMatrix view;
};

StoredMatrix store(TensorType type, size_t rows, size_t cols, uint32_t seed) {
  StoredMatrix m;
  const size_t stride = row_bytes(type, cols);
  m.bytes.resize(rows * stride);
  for (size_t r = 0; r < rows; ++r) {
    quantize_row(type, random_vector(cols, seed + uint32_t(r), 0.1f), m.bytes.data() + r * stride);
  }
  m.view = {type, rows, cols, stride, m.bytes};
  return m;
}

TEST(ThreadPoolSlots, EverySlotRunsOnceOverItsOwnRange) {
  for (size_t threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (size_t round = 0; round < 2000; ++round) {
      const size_t count = 1 + round % 37;
      std::vector<std::atomic<int>> hits(count);
      std::vector<std::atomic<int>> slots(threads);
      pool.parallel_for(count, [&](size_t begin, size_t end, size_t worker) {
        ASSERT_LT(worker, threads);
        slots[worker].fetch_add(1);
        const size_t parts = std::min(threads, count);
        const Range expected = split_range(count, parts, worker);
        EXPECT_EQ(begin, expected.begin);
        EXPECT_EQ(end, expected.end);
        for (size_t i = begin; i < end; ++i) hits[i].fetch_add(1);
      });
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << count;
      for (size_t w = 0; w < threads; ++w) ASSERT_LE(slots[w].load(), 1);
    }
    std::vector<std::atomic<int>> ran(threads);
    pool.run_on_all([&](size_t, size_t, size_t worker) { ran[worker].fetch_add(1); });
    for (size_t w = 0; w < threads; ++w) EXPECT_EQ(ran[w].load(), 1);
  }
}

TEST(OpsMatmul, SharedInputEqualsSeparateProducts) {
  ThreadPool pool(2);
  const StoredMatrix a = store(TensorType::kQ4_K, 40, 512, 1);
  const StoredMatrix b = store(TensorType::kQ6_K, 24, 512, 2);
  const StoredMatrix c = store(TensorType::kQ8_0, 72, 512, 3);
  const StoredMatrix d = store(TensorType::kF32, 8, 512, 4);
  for (size_t tokens : {1, 5, 70}) {
    const FloatMatrix x = random_rows(tokens, 512, 5);
    FloatMatrix ya, yb, yc, yd;
    const WeightMatrix* ws[] = {&a.view, &b.view, &c.view, &d.view};
    FloatMatrix* ys[] = {&ya, &yb, &yc, &yd};
    matmul_fast_shared_input(ws, x, ys, pool);
    for (size_t i = 0; i < 4; ++i) {
      FloatMatrix alone, exact;
      matmul_fast(*ws[i], x, alone, pool);
      matmul_reference(*ws[i], x, exact, pool);
      ASSERT_EQ(ys[i]->rows(), tokens);
      ASSERT_EQ(ys[i]->cols(), ws[i]->rows);
      for (size_t t = 0; t < tokens; ++t) {
        for (size_t r = 0; r < ws[i]->rows; ++r) {
          ASSERT_EQ(ys[i]->row(t)[r], alone.row(t)[r]) << i << " " << t << " " << r;
        }
      }
      // And within the 8-bit rounding of the activations of the exact product.
      EXPECT_LT(relative_rms_error(*ys[i], exact), 0.02) << i;
    }
  }
}

// Experts of [ffn][hidden] gate / up and [hidden][ffn] down, stored as the given types.
struct StoredExperts {
  std::vector<StoredMatrix> matrices;
  MoeFfnWeights weights;
};

StoredExperts store_experts(size_t experts, size_t hidden, size_t ffn, TensorType gate_type,
                            TensorType down_type) {
  StoredExperts s;
  s.matrices.reserve(3 * experts);
  for (size_t e = 0; e < experts; ++e) {
    const uint32_t seed = 1000 * uint32_t(e);
    s.weights.gate.push_back(s.matrices.emplace_back(store(gate_type, ffn, hidden, seed)).view);
    s.weights.up.push_back(s.matrices.emplace_back(store(gate_type, ffn, hidden, seed + 1)).view);
    s.weights.down.push_back(s.matrices.emplace_back(store(down_type, hidden, ffn, seed + 2)).view);
  }
  return s;
}

// Distinct experts per token with random weights; expert 0 is in every token's choice,
// so one expert is much busier than the others.
Routing random_routing(size_t tokens, size_t experts, size_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  Routing routing{k, std::vector<int32_t>(tokens * k), std::vector<float>(tokens * k)};
  std::vector<int32_t> ids(experts - 1);
  std::iota(ids.begin(), ids.end(), 1);
  std::uniform_real_distribution<float> weight(0.05f, 1.0f);
  for (size_t t = 0; t < tokens; ++t) {
    std::shuffle(ids.begin(), ids.end(), rng);
    const size_t busy_slot = t % k;
    for (size_t s = 0; s < k; ++s) {
      routing.experts[t * k + s] = s == busy_slot ? 0 : ids[s];
      routing.weights[t * k + s] = weight(rng);
    }
  }
  return routing;
}

// The per-expert path: each expert's tokens gathered and run through swiglu_ffn, the
// weighted outputs summed per token in slot order.
FloatMatrix per_expert(const MoeFfnWeights& w, const Routing& routing, const FloatMatrix& x,
                       const ComputeContext& context) {
  const size_t k = routing.experts_used;
  const size_t width = w.down.front().rows;
  FloatMatrix slot_out(x.rows() * k, width);
  for (size_t e = 0; e < w.gate.size(); ++e) {
    std::vector<size_t> members;
    for (size_t i = 0; i < routing.experts.size(); ++i) {
      if (routing.experts[i] == int32_t(e)) members.push_back(i);
    }
    if (members.empty()) continue;
    FloatMatrix gathered(members.size(), x.cols());
    for (size_t m = 0; m < members.size(); ++m) {
      std::copy_n(x.row(members[m] / k).begin(), x.cols(), gathered.row(m).begin());
    }
    FloatMatrix out;
    swiglu_ffn(w.gate[e], w.up[e], w.down[e], gathered, out, context);
    for (size_t m = 0; m < members.size(); ++m) {
      for (size_t i = 0; i < width; ++i) {
        slot_out.row(members[m])[i] = out.row(m)[i] * routing.weights[members[m]];
      }
    }
  }
  FloatMatrix out(x.rows(), width);
  for (size_t t = 0; t < x.rows(); ++t) {
    for (size_t s = 0; s < k; ++s) {
      for (size_t i = 0; i < width; ++i) out.row(t)[i] += slot_out.row(t * k + s)[i];
    }
  }
  return out;
}

void expect_fast_moe_equals_per_expert(TensorType gate_type, TensorType down_type) {
  const size_t experts = 6, hidden = 256, ffn = 512, k = 3;
  const StoredExperts stored = store_experts(experts, hidden, ffn, gate_type, down_type);
  ASSERT_TRUE(moe_fast_supported(stored.weights));
  // Up to 64 (token, expert) pairs run one item per expert (1, 2, 21 tokens: 3, 6, 63
  // pairs), more split each expert by rows (41 tokens: 123 pairs).
  for (size_t tokens : {1, 2, 21, 41}) {
    const FloatMatrix x = random_rows(tokens, hidden, 7 + uint32_t(tokens));
    const Routing routing = random_routing(tokens, experts, k, 11 + uint32_t(tokens));
    ThreadPool one(1);
    const FloatMatrix expected = per_expert(stored.weights, routing, x, {one, ComputeMode::kFast});
    const FloatMatrix exact =
        per_expert(stored.weights, routing, x, {one, ComputeMode::kReference});
    for (size_t threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      FloatMatrix out;
      mixture_of_experts_fast(stored.weights, routing, x, out, pool);
      ASSERT_EQ(out.rows(), tokens);
      ASSERT_EQ(out.cols(), hidden);
      for (size_t t = 0; t < tokens; ++t) {
        for (size_t i = 0; i < hidden; ++i) {
          ASSERT_EQ(out.row(t)[i], expected.row(t)[i])
              << type_name(gate_type) << " " << threads << " threads, token " << t << " " << i;
        }
      }
      // And close to the product of the dequantized weights with F32 activations (a wrong
      // expert, row or weight would be off by the size of the values themselves).
      EXPECT_LT(relative_rms_error(out, exact), 0.05) << type_name(gate_type);
    }
  }
}

TEST(MoeFast, EqualsPerExpertPathQ4KWithQ6KDown) {
  expect_fast_moe_equals_per_expert(TensorType::kQ4_K, TensorType::kQ6_K);
}

TEST(MoeFast, EqualsPerExpertPathQ8_0) {
  expect_fast_moe_equals_per_expert(TensorType::kQ8_0, TensorType::kQ8_0);
}

TEST(MoeFast, UnsupportedWeightsFallBack) {
  StoredExperts stored = store_experts(2, 256, 256, TensorType::kF32, TensorType::kF32);
  EXPECT_FALSE(moe_fast_supported(stored.weights));
  stored = store_experts(2, 256, 256, TensorType::kQ4_K, TensorType::kQ4_K);
  EXPECT_TRUE(moe_fast_supported(stored.weights));
  stored.weights.down.pop_back();
  EXPECT_FALSE(moe_fast_supported(stored.weights));
}

}  // namespace
}  // namespace tandem
