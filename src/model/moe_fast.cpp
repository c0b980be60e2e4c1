#include "model/moe_fast.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "ops/kernels.h"
#include "platform/error.h"

namespace tandem {
namespace {

// Rows [row_begin, row_end) of one expert's matrices, with all the tokens routed to it.
struct WorkItem {
  size_t expert;
  size_t row_begin;
  size_t row_end;
};

// Item rows are multiples of this (the tile of matmul_fast).
constexpr size_t kRowGranule = 16;
// Items per worker: enough for the shared counter to even out unequal items and a
// worker slowed by other load, few enough that each item amortizes its counter step.
constexpr size_t kItemsPerWorker = 8;
// As matmul_fast: products of fewer multiply-adds stay on the calling thread.
constexpr size_t kMinParallelWork = size_t{1} << 19;
// Batches of at most this many (token, expert) pairs (decode steps) run each expert as one
// item: gate / up, SwiGLU, the quantization of its rows and down with no barrier between
// them (two dispatches fewer a layer). Larger batches (prefill) split experts by rows, so
// that an expert with many tokens does not end up on one worker.
constexpr size_t kWholeExpertMaxPairs = 64;

// Items over `rows` rows of every expert that has tokens; expert e's tokens are
// [offsets[e], offsets[e + 1]). Items are sized by tokens x rows, about
// total / (workers * kItemsPerWorker), so an expert with many tokens is split into many
// row ranges and one busy expert does not end up on one worker.
std::vector<WorkItem> plan_items(std::span<const size_t> offsets, size_t rows, size_t workers) {
  const size_t experts = offsets.size() - 1;
  const size_t target = std::max<size_t>(1, offsets.back() * rows / (workers * kItemsPerWorker));
  std::vector<WorkItem> items;
  for (size_t e = 0; e < experts; ++e) {
    const size_t count = offsets[e + 1] - offsets[e];
    if (count == 0) continue;
    size_t step = (target + count - 1) / count;
    step = (step + kRowGranule - 1) / kRowGranule * kRowGranule;
    step = std::min(rows, step);
    for (size_t r = 0; r < rows; r += step) items.push_back({e, r, std::min(rows, r + step)});
  }
  // Costliest first (tokens x rows), so that the items left when the counter runs out are
  // the smallest and the workers finish close together; equal costs keep expert order.
  const auto cost = [&](const WorkItem& item) {
    return (offsets[item.expert + 1] - offsets[item.expert]) * (item.row_end - item.row_begin);
  };
  std::stable_sort(items.begin(), items.end(),
                   [&](const WorkItem& a, const WorkItem& b) { return cost(a) > cost(b); });
  return items;
}

// Runs fn(item, worker) for items [0, count), taken from a shared counter by all the
// pool's workers, or on the calling thread when `work` (multiply-adds) is small.
template <class Fn>
void run_items(size_t count, size_t work, ThreadPool& pool, const Fn& fn) {
  std::atomic<size_t> next{0};
  const auto run = [&](size_t, size_t, size_t worker) {
    for (size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) fn(i, worker);
  };
  if (count <= 1 || work < kMinParallelWork) {
    run(0, 1, 0);
  } else {
    pool.run_on_all(run);
  }
}

// Gate / up of expert e's rows [row_begin, row_end) with its count gathered input rows,
// then SwiGLU into activated[count][row_end - row_begin] (row stride activated_stride).
void gate_up_swiglu(const MoeFfnWeights& weights, size_t e, size_t row_begin, size_t row_end,
                    const uint8_t* rows_in, size_t stride, size_t count, std::vector<float>& buffer,
                    float* activated, size_t activated_stride) {
  const size_t rows = row_end - row_begin;
  buffer.resize(2 * count * rows);  // gate then up: [count][rows] each
  float* gate = buffer.data();
  float* up = gate + count * rows;
  dot_weight_rows(weights.gate[e], row_begin, row_end, rows_in, stride, count, gate, rows);
  dot_weight_rows(weights.up[e], row_begin, row_end, rows_in, stride, count, up, rows);
  for (size_t t = 0; t < count; ++t) {
    swiglu(std::span<const float>(gate + t * rows, rows),
           std::span<const float>(up + t * rows, rows),
           std::span<float>(activated + t * activated_stride, rows));
  }
}

// The routed pairs of one MoE block, gathered per expert, and the block's shapes.
struct ExpertBatch {
  const MoeFfnWeights& weights;
  std::span<const size_t> offsets;  // expert e's pairs: [offsets[e], offsets[e + 1])
  const uint8_t* gathered;          // the pairs' quantized input rows, in expert order
  size_t stride;                    // bytes from one gathered row to the next
  size_t pairs;
  size_t ffn;    // gate / up rows
  size_t width;  // down rows
  size_t cols;   // gate / up columns
};

// Scatter(first, count, row_begin, rows, buffer) places down's output rows.
template <class Scatter>
void run_split_experts(const ExpertBatch& batch, ThreadPool& pool,
                       std::vector<std::vector<float>>& scratch, const Scatter& scatter) {
  // Gate and up of the same rows, then SwiGLU: [pairs in expert order][ffn].
  FloatMatrix activated;  // every row range is written by one item
  activated.resize_for_overwrite(batch.pairs, batch.ffn);
  const std::vector<WorkItem> gate_items = plan_items(batch.offsets, batch.ffn, pool.size());
  run_items(gate_items.size(), 2 * batch.pairs * batch.ffn * batch.cols, pool,
            [&](size_t i, size_t worker) {
              const WorkItem& item = gate_items[i];
              const size_t first = batch.offsets[item.expert];
              gate_up_swiglu(batch.weights, item.expert, item.row_begin, item.row_end,
                             batch.gathered + first * batch.stride, batch.stride,
                             batch.offsets[item.expert + 1] - first, scratch[worker],
                             activated.row(first).data() + item.row_begin, batch.ffn);
            });

  // Down, scaled by the routing weight of each pair.
  PreparedRows down_input;
  prepare_rows(batch.weights.down.front().type, activated, down_input, pool);
  const std::vector<WorkItem> down_items = plan_items(batch.offsets, batch.width, pool.size());
  run_items(down_items.size(), batch.pairs * batch.width * batch.ffn, pool,
            [&](size_t i, size_t worker) {
              const WorkItem& item = down_items[i];
              const size_t first = batch.offsets[item.expert];
              const size_t count = batch.offsets[item.expert + 1] - first;
              const size_t rows = item.row_end - item.row_begin;
              std::vector<float>& buffer = scratch[worker];
              buffer.resize(count * rows);  // [count][rows]
              dot_weight_rows(batch.weights.down[item.expert], item.row_begin, item.row_end,
                              down_input.row(first), down_input.stride, count, buffer.data(), rows);
              scatter(first, count, item.row_begin, rows, buffer.data());
            });
}

// As run_split_experts with one item per expert (kWholeExpertMaxPairs): the same products,
// quantizations and order of sums, so the same results.
template <class Scatter>
void run_whole_experts(const ExpertBatch& batch, ThreadPool& pool,
                       std::vector<std::vector<float>>& scratch, const Scatter& scatter) {
  const TensorType down_type = batch.weights.down.front().type;
  const size_t down_stride = prepared_row_bytes(down_type, batch.ffn);
  std::vector<uint8_t> down_input(batch.pairs * down_stride);
  // Experts with tokens, the most tokens first (stable: expert order among equals).
  std::vector<size_t> order;
  for (size_t e = 0; e + 1 < batch.offsets.size(); ++e) {
    if (batch.offsets[e + 1] > batch.offsets[e]) order.push_back(e);
  }
  const auto count_of = [&](size_t e) { return batch.offsets[e + 1] - batch.offsets[e]; };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return count_of(a) > count_of(b); });
  std::vector<std::vector<float>> activated(pool.size());  // per worker: [count][ffn]
  run_items(order.size(), batch.pairs * (2 * batch.ffn * batch.cols + batch.width * batch.ffn),
            pool, [&](size_t i, size_t worker) {
              const size_t e = order[i];
              const size_t first = batch.offsets[e];
              const size_t count = count_of(e);
              std::vector<float>& rows_out = activated[worker];
              rows_out.resize(count * batch.ffn);
              std::vector<float>& buffer = scratch[worker];
              gate_up_swiglu(batch.weights, e, 0, batch.ffn, batch.gathered + first * batch.stride,
                             batch.stride, count, buffer, rows_out.data(), batch.ffn);
              uint8_t* quantized = down_input.data() + first * down_stride;
              for (size_t t = 0; t < count; ++t) {
                prepare_row(down_type,
                            std::span<const float>(rows_out.data() + t * batch.ffn, batch.ffn),
                            quantized + t * down_stride);
              }
              buffer.resize(count * batch.width);  // [count][width]
              dot_weight_rows(batch.weights.down[e], 0, batch.width, quantized, down_stride, count,
                              buffer.data(), batch.width);
              scatter(first, count, 0, batch.width, buffer.data());
            });
}

bool uniform(const std::vector<WeightMatrix>& matrices) {
  const WeightMatrix& first = matrices.front();
  for (const WeightMatrix& m : matrices) {
    if (m.type != first.type || m.rows != first.rows || m.cols != first.cols) return false;
  }
  return fast_path_quantizes(first.type);
}

}  // namespace

bool moe_fast_supported(const MoeFfnWeights& weights) {
  if (weights.gate.empty() || weights.up.size() != weights.gate.size() ||
      weights.down.size() != weights.gate.size()) {
    return false;
  }
  if (!uniform(weights.gate) || !uniform(weights.up) || !uniform(weights.down)) return false;
  const WeightMatrix& gate = weights.gate.front();
  const WeightMatrix& up = weights.up.front();
  return fast_activation_type(gate.type) == fast_activation_type(up.type) && gate.rows == up.rows &&
         gate.cols == up.cols && weights.down.front().cols == gate.rows;
}

void mixture_of_experts_fast(const MoeFfnWeights& weights, const Routing& routing,
                             const FloatMatrix& x, FloatMatrix& out, ThreadPool& pool) {
  TANDEM_CHECK(moe_fast_supported(weights), "MoE weights without a fast path");
  const size_t tokens = x.rows();
  const size_t k = routing.experts_used;
  const size_t experts = weights.gate.size();
  const size_t width = weights.down.front().rows;
  const size_t pairs = tokens * k;
  TANDEM_CHECK(routing.experts.size() == pairs, "routing of ", routing.experts.size(), " for ",
               pairs, " pairs");

  // Pairs (token * k + slot) grouped by expert, in pair order within an expert (the order
  // of the per-expert path): expert e's pairs are members[offsets[e] .. offsets[e + 1]).
  std::vector<size_t> offsets(experts + 1, 0);
  for (size_t i = 0; i < pairs; ++i) {
    const int32_t e = routing.experts[i];
    TANDEM_CHECK(e >= 0 && static_cast<size_t>(e) < experts, "expert ", e, " of ", experts);
    ++offsets[static_cast<size_t>(e) + 1];
  }
  for (size_t e = 0; e < experts; ++e) offsets[e + 1] += offsets[e];
  std::vector<size_t> members(pairs);
  std::vector<size_t> fill(offsets.begin(), offsets.end() - 1);
  for (size_t i = 0; i < pairs; ++i) members[fill[static_cast<size_t>(routing.experts[i])]++] = i;

  // The input quantized once, then gathered: [pairs in expert order][input.stride].
  PreparedRows input;
  prepare_rows(weights.gate.front().type, x, input, pool);
  const size_t stride = input.stride;
  std::vector<uint8_t> gathered(pairs * stride);
  for (size_t m = 0; m < pairs; ++m) {
    std::memcpy(gathered.data() + m * stride, input.row(members[m] / k), stride);
  }

  std::vector<std::vector<float>> scratch(pool.size());  // per worker
  FloatMatrix slot_out;  // [tokens * k][width], every row range written by one item
  slot_out.resize_for_overwrite(pairs, width);
  // Down's output rows [row_begin, row_begin + rows) of the count pairs from `first`
  // (buffer: [count][rows]) into slot_out, scaled by each pair's routing weight.
  const auto scatter = [&](size_t first, size_t count, size_t row_begin, size_t rows,
                           const float* buffer) {
    for (size_t t = 0; t < count; ++t) {
      const size_t pair = members[first + t];
      const float weight = routing.weights[pair];
      float* target = slot_out.row(pair).data() + row_begin;
      const float* source = buffer + t * rows;
      for (size_t r = 0; r < rows; ++r) target[r] = source[r] * weight;
    }
  };
  const ExpertBatch batch{
      weights, offsets, gathered.data(), stride, pairs, weights.gate.front().rows, width, x.cols()};
  if (pairs <= kWholeExpertMaxPairs) {
    run_whole_experts(batch, pool, scratch, scatter);
  } else {
    run_split_experts(batch, pool, scratch, scatter);
  }

  out.reset(tokens, width);
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t s = 0; s < k; ++s) add_in_place(out.row(t), slot_out.row(t * k + s));
  }
}

}  // namespace tandem
