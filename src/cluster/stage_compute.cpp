#include "cluster/stage_compute.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>

#include "cluster/shard.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

// `path`, once the layer range is well-formed (checked before the file is opened).
const std::string& checked_range(const LoadStage& load, const std::string& path) {
  if (load.first_layer > load.end_layer) {
    throw Error(str_cat("bad layer range ", load.first_layer, "..", load.end_layer));
  }
  return path;
}

size_t thread_count(uint32_t requested) {
  if (requested > 0) return requested;
  return std::max<size_t>(1, std::thread::hardware_concurrency());
}

}  // namespace

Batch batch_of(const StepPlan& plan, bool all_logits) {
  Batch batch;
  for (const StepEntry& entry : plan.entries) {
    for (size_t i = 0; i < entry.tokens.size(); ++i) {
      const bool last = i + 1 == entry.tokens.size();
      batch.add(entry.tokens[i], entry.first_position + static_cast<int32_t>(i), entry.slot,
                all_logits || (last && entry.sample));
    }
  }
  return batch;
}

StageCompute::StageCompute(const LoadStage& load, const std::string& path)
    : load_(load), file_(checked_range(load, path)), pool_(thread_count(load.threads)) {
  ModelOptions options;
  options.mode =
      load.mode == StageComputeMode::kReference ? ComputeMode::kReference : ComputeMode::kFast;
  options.first_layer = load.first_layer;
  options.end_layer = load.end_layer;
  options.input = load.has_embedding;
  options.output = load.has_output;
  if (options.mode == ComputeMode::kFast) {
    // The stage's weights in memory of this process (huge pages), read on every step.
    std::vector<std::string> names;
    for (const TensorInfo* info : stage_tensor_infos(file_, load_)) names.push_back(info->name);
    file_.copy_tensors_to_memory(names, TensorLayouts::kPanels);
  }
  model_ = Model::load(file_, options, pool_);
  const ModelConfig& config = model_->config();
  if (load.end_layer > config.layer_count || load.first_layer >= load.end_layer) {
    throw Error(str_cat("layers ", load.first_layer, "..", load.end_layer, " do not fit the ",
                        config.layer_count, " layers of ", load.model_path));
  }
  if (load.has_embedding != (load.first_layer == 0) ||
      load.has_output != (load.end_layer == config.layer_count)) {
    throw Error("the embedding belongs to the stage of layer 0, the output to the last stage");
  }
  cache_ = model_->make_cache(load.context, load.kv_type);
  prefetch_stage_tensors();
}

void StageCompute::prefetch_stage_tensors() {
  // Model::load only takes views into the mapping; the pages of other stages' layers
  // are never read here, and this stage's are asked for ahead of the first step.
  for (const TensorInfo* info : stage_tensor_infos(file_, load_)) {
    const TensorInfo& tensor = *info;
    if (tensor.data.empty()) continue;
    weight_bytes_ += tensor.bytes;
    const MappedFile* mapping = file_.files()[tensor.file_index]->mapping();
    if (mapping == nullptr || !mapping->contains(tensor.data.data())) continue;  // copied
    const auto offset = static_cast<size_t>(tensor.data.data() - mapping->bytes().data());
    mapping->prefetch(offset, tensor.data.size());
  }
}

Batch StageCompute::prepare(const RunStep& step) {
  for (int32_t slot : step.plan.cleared_slots) cache_->remove(slot);
  for (uint64_t id : step.plan.finished_requests) samplers_.erase(id);
  for (const StepEntry& entry : step.plan.entries) {
    if (entry.first_position != entry.keep_positions) {
      throw Error(str_cat("request ", entry.request_id, " starts at position ",
                          entry.first_position, " but keeps ", entry.keep_positions));
    }
    cache_->truncate(entry.slot, static_cast<size_t>(entry.keep_positions));
    if (load_.has_output) record_tokens(entry);
  }
  return batch_of(step.plan, step.return_logits);
}

void StageCompute::record_tokens(const StepEntry& entry) {
  auto it = samplers_.find(entry.request_id);
  const auto first = static_cast<size_t>(entry.first_position);
  if (it == samplers_.end() || first < it->second.history.size()) {
    // New, or rewound (preempted and resumed): rebuild the penalty window from what
    // this stage saw of the request before `first`.
    std::vector<int32_t> history;
    if (it != samplers_.end())
      history.assign(it->second.history.begin(), it->second.history.begin() + first);
    RequestSampler fresh{Sampler(entry.sampling), std::move(history)};
    for (int32_t token : fresh.history) fresh.sampler.accept(token);
    it = samplers_.insert_or_assign(entry.request_id, std::move(fresh)).first;
  }
  for (int32_t token : entry.tokens) {
    it->second.history.push_back(token);
    it->second.sampler.accept(token);
  }
}

void StageCompute::run(const Batch& batch, FloatMatrix& hidden) {
  if (hidden.rows() != batch.size() || hidden.cols() != model_->config().hidden) {
    throw Error(str_cat("activations of ", hidden.rows(), " x ", hidden.cols(), " for a batch of ",
                        batch.size(), " rows of width ", model_->config().hidden));
  }
  model_->run_layers(load_.first_layer, load_.end_layer, batch, hidden, *cache_);
}

SampledTokens StageCompute::sample(const RunStep& step, const Batch& batch,
                                   const FloatMatrix& hidden) {
  TANDEM_CHECK(load_.has_output, "only the last stage samples");
  const FloatMatrix logits = model_->output(batch, hidden);  // [sampling entries][vocab]
  SampledTokens out;
  out.step_id = step.plan.step_id;
  size_t row = 0;
  for (const StepEntry& entry : step.plan.entries) {
    if (!entry.sample || entry.tokens.empty()) continue;
    Sampler& sampler = samplers_.at(entry.request_id).sampler;
    // Numbered by position, like LocalModelRunner: a rebuilt pipeline draws the same.
    const auto position = static_cast<uint64_t>(entry.first_position) + entry.tokens.size();
    out.tokens.push_back({entry.request_id, sampler.sample(logits.row(row++), position)});
  }
  return out;
}

StepLogits StageCompute::logits(uint64_t step_id, const Batch& batch,
                                const FloatMatrix& hidden) const {
  TANDEM_CHECK(load_.has_output, "only the last stage has the output head");
  const FloatMatrix logits = model_->output(batch, hidden);
  StepLogits out{step_id,
                 static_cast<uint32_t>(logits.rows()),
                 static_cast<uint32_t>(logits.cols()),
                 {logits.data().begin(), logits.data().end()}};
  return out;
}

}  // namespace tandem::cluster
