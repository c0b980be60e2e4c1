#include "cluster/placement.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "platform/error.h"

namespace tandem {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

struct Cost {
  double bottleneck = kInfinity;
  double total = kInfinity;
  bool better_than(const Cost& other) const {
    return bottleneck < other.bottleneck || (bottleneck == other.bottleneck && total < other.total);
  }
};

std::string gib(uint64_t bytes) {
  char out[32];
  std::snprintf(out, sizeof(out), "%.2f GiB", static_cast<double>(bytes) / double(1ull << 30));
  return out;
}

class Planner {
 public:
  Planner(const ModelFootprint& model, const std::vector<NodeCapacity>& nodes,
          const PlacementOptions& options)
      : model_(model), nodes_(nodes), options_(options), layers_(model.layers.size()) {}

  StagePlan stage(size_t n, size_t first, size_t end, bool is_first, bool is_last) const {
    return plan_stage(model_, nodes_, n, first, end, is_first, is_last, options_);
  }

  bool fits(const StagePlan& s) const { return s.total_bytes <= nodes_[s.node].free_memory_bytes; }

  Placement solve() const {
    const size_t node_count = nodes_.size();
    // best[n][i]: the best plan of layers [0, i) over nodes [0, n), each node owning a
    // (possibly empty) contiguous range; choice[n][i] = where node n-1's range starts.
    std::vector<std::vector<Cost>> best(node_count + 1, std::vector<Cost>(layers_ + 1));
    std::vector<std::vector<size_t>> choice(node_count + 1, std::vector<size_t>(layers_ + 1, 0));
    std::vector<std::vector<bool>> started(node_count + 1, std::vector<bool>(layers_ + 1, false));
    best[0][0] = {0, 0};
    for (size_t n = 1; n <= node_count; ++n) {
      for (size_t end = 0; end <= layers_; ++end) {
        // Node n-1 takes nothing.
        best[n][end] = best[n - 1][end];
        choice[n][end] = end;
        started[n][end] = started[n - 1][end];
        for (size_t first = 0; first < end; ++first) {
          const Cost& before = best[n - 1][first];
          if (before.bottleneck == kInfinity) continue;
          const bool is_first = !started[n - 1][first];
          const StagePlan s = stage(n - 1, first, end, is_first, end == layers_);
          if (!fits(s)) continue;
          const double time = s.compute_seconds + s.hop_seconds;
          const Cost candidate{std::max(before.bottleneck, time), before.total + time};
          if (candidate.better_than(best[n][end])) {
            best[n][end] = candidate;
            choice[n][end] = first;
            started[n][end] = true;
          }
        }
      }
    }
    if (best[node_count][layers_].bottleneck == kInfinity) throw Error(no_fit_message());
    Placement placement;
    size_t end = layers_;
    for (size_t n = node_count; n >= 1; --n) {
      const size_t first = choice[n][end];
      if (first != end) {
        placement.stages.push_back(stage(n - 1, first, end, false, end == layers_));
        end = first;
      }
    }
    std::reverse(placement.stages.begin(), placement.stages.end());
    // Recompute with the real first-stage flag (the embedding lives on the first stage).
    for (size_t i = 0; i < placement.stages.size(); ++i) {
      StagePlan& s = placement.stages[i];
      s = stage(s.node, s.first_layer, s.end_layer, i == 0, i + 1 == placement.stages.size());
      if (i + 1 == placement.stages.size()) s.hop_seconds = 0;
      placement.token_seconds += s.compute_seconds + s.hop_seconds;
      placement.bottleneck_seconds =
          std::max(placement.bottleneck_seconds, s.compute_seconds + s.hop_seconds);
    }
    return placement;
  }

  std::string no_fit_message() const {
    uint64_t available = 0;
    for (const auto& node : nodes_) available += node.free_memory_bytes;
    const uint64_t needed = model_.total_weight_bytes() +
                            model_.cache_bytes(0, layers_, options_.context_length,
                                               options_.sequences, options_.kv_type) +
                            options_.overhead_bytes * nodes_.size();
    std::string message = str_cat("the model does not fit: it needs ", gib(needed), " (weights ",
                                  gib(model_.total_weight_bytes()), ", KV cache and state ",
                                  gib(model_.cache_bytes(0, layers_, options_.context_length,
                                                         options_.sequences, options_.kv_type)),
                                  " for ", options_.sequences, " x ", options_.context_length,
                                  " tokens) but the nodes have ", gib(available), " free:");
    for (const auto& node : nodes_)
      message += str_cat(" ", node.name, " ", gib(node.free_memory_bytes), ";");
    uint64_t largest_layer = 0;
    for (const auto& l : model_.layers) largest_layer = std::max(largest_layer, l.weight_bytes);
    message += str_cat(" largest layer ", gib(largest_layer));
    return message;
  }

 private:
  const ModelFootprint& model_;
  const std::vector<NodeCapacity>& nodes_;
  const PlacementOptions& options_;
  size_t layers_;
};

}  // namespace

StagePlan plan_stage(const ModelFootprint& model, const std::vector<NodeCapacity>& nodes, size_t n,
                     size_t first, size_t end, bool is_first, bool is_last,
                     const PlacementOptions& options) {
  const NodeCapacity& node = nodes[n];
  StagePlan s;
  s.node = n;
  s.first_layer = first;
  s.end_layer = end;
  s.has_embedding = is_first;
  s.has_output = is_last;
  s.weight_bytes = model.weight_bytes(first, end) + (is_first ? model.embedding_bytes : 0) +
                   (is_last ? model.output_bytes : 0);
  if (is_first && is_last && model.tied_embeddings) s.weight_bytes -= model.embedding_bytes;
  s.cache_bytes =
      model.cache_bytes(first, end, options.context_length, options.sequences, options.kv_type);
  s.total_bytes = s.weight_bytes + s.cache_bytes + options.overhead_bytes;
  const double bytes_read = static_cast<double>(model.active_bytes(first, end) +
                                                (is_last ? model.output_active_bytes : 0));
  s.compute_seconds =
      node.weight_read_bytes_per_s > 0 ? bytes_read / node.weight_read_bytes_per_s : kInfinity;
  if (!is_last) {
    const double activation =
        static_cast<double>(model.hidden_size * options.activation_bytes_per_value);
    s.hop_seconds = node.link_latency_s +
                    (node.link_bytes_per_s > 0 ? activation / node.link_bytes_per_s : kInfinity);
  }
  return s;
}

Placement plan_placement(const ModelFootprint& model, const std::vector<NodeCapacity>& nodes,
                         const PlacementOptions& options) {
  if (nodes.empty()) throw Error("no nodes to place the model on");
  if (model.layers.empty()) throw Error("the model has no layers");
  return Planner(model, nodes, options).solve();
}

std::string describe(const Placement& placement, const std::vector<NodeCapacity>& nodes) {
  std::string out;
  char line[384];
  for (size_t i = 0; i < placement.stages.size(); ++i) {
    const StagePlan& s = placement.stages[i];
    const NodeCapacity& node = nodes[s.node];
    // The inputs of the prediction: the node's read speed and free memory, and for all but
    // the last stage the link to the next stage's node.
    std::string hop;
    if (i + 1 < placement.stages.size()) {
      char text[160];
      std::snprintf(text, sizeof(text), " + hop %.3f ms (link %.3f ms, %.1f MB/s)",
                    s.hop_seconds * 1e3, node.link_latency_s * 1e3, node.link_bytes_per_s / 1e6);
      hop = text;
    }
    std::snprintf(line, sizeof(line),
                  "%-16s layers %3zu-%-3zu %s%s weights %s + cache %s, %.2f ms/token%s; "
                  "node reads %.2f GB/s, %s free\n",
                  node.name.c_str(), s.first_layer, s.end_layer == 0 ? 0 : s.end_layer - 1,
                  s.has_embedding ? "[embed] " : "", s.has_output ? "[output] " : "",
                  gib(s.weight_bytes).c_str(), gib(s.cache_bytes).c_str(), s.compute_seconds * 1e3,
                  hop.c_str(), node.weight_read_bytes_per_s / 1e9,
                  gib(node.free_memory_bytes).c_str());
    out += line;
  }
  std::snprintf(line, sizeof(line),
                "predicted: %.2f ms per token at c=1, bottleneck stage %.2f ms\n",
                placement.token_seconds * 1e3, placement.bottleneck_seconds * 1e3);
  out += line;
  return out;
}

}  // namespace tandem
