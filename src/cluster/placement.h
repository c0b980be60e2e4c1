#pragma once
// Placement: which contiguous range of layers each node runs. Sized by each node's
// free memory (weights + KV cache + recurrent state for the configured context and
// concurrency) and measured speed, so that the slowest pipeline stage is as fast as
// it can be. The embedding goes with the first stage, the output head with the last.

#include <cstdint>
#include <string>
#include <vector>

#include "model/footprint.h"

namespace tandem {

struct NodeCapacity {
  std::string name;
  uint64_t free_memory_bytes = 0;
  double weight_read_bytes_per_s = 0;  // measured streaming speed of weights (decode bound)
  // Link from this node to the next stage's node (unused for the last).
  double link_latency_s = 0;
  double link_bytes_per_s = 0;
};

struct PlacementOptions {
  uint64_t context_length = 4096;
  uint64_t sequences = 1;                   // concurrent sequences to keep caches for
  KvType kv_type = KvType::kF32;            // element type of the KV caches
  uint64_t overhead_bytes = 256ull << 20;   // per node: runtime, buffers, scratch
  uint64_t activation_bytes_per_value = 4;  // F32 activations across stage boundaries
};

struct StagePlan {
  size_t node = 0;  // index into the nodes given
  size_t first_layer = 0;
  size_t end_layer = 0;  // exclusive
  bool has_embedding = false;
  bool has_output = false;
  uint64_t weight_bytes = 0;
  uint64_t cache_bytes = 0;
  uint64_t total_bytes = 0;    // weights + cache + overhead
  double compute_seconds = 0;  // per decoded token
  double hop_seconds = 0;      // sending the activations to the next stage
};

struct Placement {
  std::vector<StagePlan> stages;  // in pipeline order; nodes without layers are left out
  double token_seconds = 0;       // one token through every stage (latency at c=1)
  double bottleneck_seconds = 0;  // the slowest stage (throughput limit when pipelined)
};

// Plans the stages over `nodes` in the given order (a node may be left without layers).
// Throws tandem::Error with the numbers when the model does not fit.
Placement plan_placement(const ModelFootprint& model, const std::vector<NodeCapacity>& nodes,
                         const PlacementOptions& options);

// The stage node `n` would be for layers [first, end): bytes and predicted times, with
// total_bytes to compare against the node's free memory.
StagePlan plan_stage(const ModelFootprint& model, const std::vector<NodeCapacity>& nodes, size_t n,
                     size_t first, size_t end, bool is_first, bool is_last,
                     const PlacementOptions& options);

std::string describe(const Placement& placement, const std::vector<NodeCapacity>& nodes);

}  // namespace tandem
