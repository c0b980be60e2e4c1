#pragma once
// StageCompute: what one pipeline stage holds and does, without any networking. It
// owns the mapped model file, the model, a cache for its layers and, on the last
// stage, one sampler per request. Per step:
//
//   batch  = prepare(step)                 drops cleared slots / finished requests,
//                                          rewinds each entry's slot, builds the rows
//   hidden = embed(batch)   (first stage)  or the previous stage's activations
//   run(batch, hidden)                     layers [first, end)
//   sample(step, batch, hidden) (last)     tokens for entries with sample set
//   logits(batch, hidden)       (last)     [rows wanting logits][vocab] in logits mode

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "cluster/stage_wire.h"
#include "gguf/model_file.h"
#include "model/model.h"
#include "model/sampler.h"
#include "platform/thread_pool.h"

namespace tandem::cluster {

class StageCompute {
 public:
  // Loads the stage from `path` (the model or a shard holding the stage's tensors,
  // verified by shard_cache.h): checks the layer range, looks up and prefetches the
  // tensors of this stage only. Throws Error.
  StageCompute(const LoadStage& load, const std::string& path);
  StageCompute(const StageCompute&) = delete;
  StageCompute& operator=(const StageCompute&) = delete;

  const LoadStage& load() const { return load_; }
  const ModelConfig& config() const { return model_->config(); }
  uint64_t weight_bytes() const { return weight_bytes_; }

  // Applies the plan's cache bookkeeping and returns its rows in plan order.
  Batch prepare(const RunStep& step);
  FloatMatrix embed(const Batch& batch) const { return model_->embed(batch); }
  void run(const Batch& batch, FloatMatrix& hidden);
  SampledTokens sample(const RunStep& step, const Batch& batch, const FloatMatrix& hidden);
  StepLogits logits(uint64_t step_id, const Batch& batch, const FloatMatrix& hidden) const;

 private:
  struct RequestSampler {
    Sampler sampler;
    std::vector<int32_t> history;  // tokens seen at positions 0 .. size - 1
  };
  void prefetch_stage_tensors();
  void record_tokens(const StepEntry& entry);

  LoadStage load_;
  ModelFile file_;
  ThreadPool pool_;
  std::unique_ptr<Model> model_;
  std::optional<KvCache> cache_;  // made once the model's shape is known
  uint64_t weight_bytes_ = 0;
  std::unordered_map<uint64_t, RequestSampler> samplers_;
};

// Builds the batch of a step: each entry's tokens at first_position.. in its slot;
// logits for the last token of entries that sample, or for every row when all_logits.
Batch batch_of(const StepPlan& plan, bool all_logits);

}  // namespace tandem::cluster
