#pragma once
// What the scheduler hands to a model runner for one step, and what comes back.
// Plain, copyable data: the same plan runs on one machine or across a cluster.

#include <cstdint>
#include <vector>

#include "model/sampler.h"

namespace tandem {

struct StepEntry {
  uint64_t request_id = 0;
  int32_t slot = 0;             // sequence slot (KV cache / recurrent state) the request owns
  int32_t keep_positions = 0;   // positions of the slot's cache to keep; later ones are dropped
  int32_t first_position = 0;   // position of tokens[0]; equals keep_positions
  std::vector<int32_t> tokens;  // (n) tokens to run this step: a prefill chunk or one decode token
  bool sample = false;          // sample a token after the last of `tokens`
  SamplingParams sampling;      // how to sample for this request
};

struct StepPlan {
  uint64_t step_id = 0;
  std::vector<StepEntry> entries;
  // Slots whose cached KV / state the runner may drop before this step (evicted caches).
  std::vector<int32_t> cleared_slots;
  // Requests that ended since the last plan: the runner drops their sampler state.
  std::vector<uint64_t> finished_requests;
  int32_t token_count() const {
    int32_t total = 0;
    for (const auto& e : entries) total += static_cast<int32_t>(e.tokens.size());
    return total;
  }
};

struct SampledToken {
  uint64_t request_id = 0;
  int32_t token = 0;
};

struct StepResult {
  uint64_t step_id = 0;
  std::vector<SampledToken> sampled;
};

}  // namespace tandem
