#pragma once
// LocalModelRunner: runs step plans on a Model on this machine. Every entry of a plan
// (prefill chunks and decode tokens of many requests) goes into one Batch and one
// forward pass; rows that end an entry with `sample` set produce logits, and each
// request's own Sampler picks its next token from its row.
//
// Slot s of the scheduler is sequence id s of the KvCache (and of any recurrent state
// the model keeps there).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>

#include "model/kv_cache.h"
#include "model/model.h"
#include "model/sampler.h"
#include "serving/model_runner.h"

namespace tandem {

class LocalModelRunner : public ModelRunner {
 public:
  // `model` must outlive the runner. Each sequence holds at most max_positions
  // positions (0: the model's context length), its keys and values stored as kv_type.
  explicit LocalModelRunner(const Model& model, size_t max_positions = 0,
                            KvType kv_type = KvType::kF32);

  // Runs the plan at once; collect() hands back its result. Throws Error when the
  // model rejects the batch (e.g. a position past the cache).
  void launch(const StepPlan& plan) override;
  StepResult collect() override;

  // Requests that hold sampler state (for tests: finished requests must be dropped).
  size_t tracked_requests() const { return samplers_.size(); }

 private:
  struct RequestState {
    explicit RequestState(const SamplingParams& params) : sampler(params) {}
    Sampler sampler;
    // Positions 0 .. accepted - 1 were handed to the sampler's penalties already; a
    // preempted request runs them again and they must not count twice.
    int32_t accepted = 0;
  };

  const Model& model_;
  KvCache cache_;
  std::unordered_map<uint64_t, RequestState> samplers_;  // request id -> state
  std::deque<StepResult> results_;                       // launched, not collected
};

}  // namespace tandem
