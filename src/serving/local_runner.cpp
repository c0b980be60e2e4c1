#include "serving/local_runner.h"

#include <utility>
#include <vector>

#include "platform/error.h"

namespace tandem {

LocalModelRunner::LocalModelRunner(const Model& model, size_t max_positions, KvType kv_type)
    : model_(model), cache_(model.make_cache(max_positions, kv_type)) {}

void LocalModelRunner::launch(const StepPlan& plan) {
  for (uint64_t id : plan.finished_requests) samplers_.erase(id);
  for (int32_t slot : plan.cleared_slots) cache_.remove(slot);

  StepResult result;
  result.step_id = plan.step_id;
  if (plan.entries.empty()) {
    results_.push_back(std::move(result));
    return;
  }

  // One batch for the whole step; remember which entry owns each logits row.
  Batch batch;
  batch.tokens.reserve(static_cast<size_t>(plan.token_count()));
  std::vector<size_t> sampled_entries;  // entry index of each logits row, in row order
  for (size_t e = 0; e < plan.entries.size(); ++e) {
    const StepEntry& entry = plan.entries[e];
    TANDEM_CHECK(!entry.tokens.empty());
    TANDEM_CHECK(entry.first_position == entry.keep_positions);
    // Drop what the slot holds past the kept prefix (a new prompt, or a rewind).
    if (entry.keep_positions == 0) {
      cache_.remove(entry.slot);
    } else {
      cache_.truncate(entry.slot, static_cast<size_t>(entry.keep_positions));
    }
    RequestState& state = samplers_.try_emplace(entry.request_id, entry.sampling).first->second;
    for (size_t i = 0; i < entry.tokens.size(); ++i) {
      const int32_t position = entry.first_position + static_cast<int32_t>(i);
      const bool last = i + 1 == entry.tokens.size();
      batch.add(entry.tokens[i], position, entry.slot, last && entry.sample);
      // Every token that runs is context for the penalties, counted once.
      if (position >= state.accepted) {
        state.sampler.accept(entry.tokens[i]);
        state.accepted = position + 1;
      }
    }
    if (entry.sample) sampled_entries.push_back(e);
  }

  const FloatMatrix logits = model_.forward(batch, cache_);
  TANDEM_CHECK(logits.rows() == sampled_entries.size());
  result.sampled.reserve(sampled_entries.size());
  for (size_t row = 0; row < sampled_entries.size(); ++row) {
    const StepEntry& entry = plan.entries[sampled_entries[row]];
    Sampler& sampler = samplers_.at(entry.request_id).sampler;
    // The draw is numbered by the position the token takes: the same after a rebuild.
    const auto position = static_cast<uint64_t>(entry.first_position) + entry.tokens.size();
    result.sampled.push_back({entry.request_id, sampler.sample(logits.row(row), position)});
  }
  results_.push_back(std::move(result));
}

StepResult LocalModelRunner::collect() {
  if (results_.empty()) throw Error("collect() without a launched step");
  StepResult result = std::move(results_.front());
  results_.pop_front();
  return result;
}

}  // namespace tandem
