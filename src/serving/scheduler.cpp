#include "serving/scheduler.h"

#include <algorithm>

#include "platform/error.h"

namespace tandem {

Scheduler::Scheduler(const SchedulerConfig& config)
    : config_(config), slots_(static_cast<size_t>(config.slots)) {
  TANDEM_CHECK(config.slots > 0 && config.kv_block_tokens > 0 && config.max_step_tokens > 0);
}

int32_t Scheduler::blocks_for(int32_t positions) const {
  return (positions + config_.kv_block_tokens - 1) / config_.kv_block_tokens;
}

void Scheduler::add(RequestSpec spec) {
  check_fits(spec);
  if (requests_.count(spec.id) != 0) throw Error(str_cat("request id ", spec.id, " is in use"));
  Request request;
  request.tokens = spec.prompt;
  request.spec = std::move(spec);
  const uint64_t id = request.spec.id;
  requests_.emplace(id, std::move(request));
  waiting_.push_back(id);
}

void Scheduler::check_fits(const RequestSpec& spec) const {
  if (spec.prompt.empty()) throw Error("the prompt is empty");
  if (spec.max_new_tokens < 1) throw Error("max_new_tokens must be at least 1");
  const int64_t total = static_cast<int64_t>(spec.prompt.size()) + spec.max_new_tokens;
  if (total > config_.context_length) {
    throw Error(str_cat("prompt of ", spec.prompt.size(), " tokens plus ", spec.max_new_tokens,
                        " new tokens exceeds the context of ", config_.context_length));
  }
  if (blocks_for(static_cast<int32_t>(total)) > config_.kv_blocks) {
    throw Error(str_cat("request needs ", blocks_for(static_cast<int32_t>(total)),
                        " KV blocks but the whole cache has ", config_.kv_blocks));
  }
}

void Scheduler::abort(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Request& request = it->second;
  if (request.in_flight) {
    request.aborted = true;  // released when its step comes back
    return;
  }
  release(request);
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), id), waiting_.end());
  requests_.erase(it);
  finished_.push_back(id);
}

void Scheduler::release(Request& request) {
  if (request.slot >= 0) {
    Slot& slot = slots_[static_cast<size_t>(request.slot)];
    slot.owner.reset();
    slot.cached.assign(request.tokens.begin(), request.tokens.begin() + request.computed);
    slot.last_used = ++clock_;
    request.slot = -1;
  }
  running_.erase(std::remove(running_.begin(), running_.end(), request.spec.id), running_.end());
}

std::optional<int32_t> Scheduler::pick_slot(const Request& request, int32_t& reuse) const {
  std::optional<int32_t> best;
  int32_t best_reuse = -1;
  uint64_t best_age = 0;
  // At least one token must run so that the step yields logits to sample from.
  const size_t limit = request.tokens.size() - 1;
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    if (slot.owner) continue;
    size_t common = 0;
    while (common < slot.cached.size() && common < limit &&
           slot.cached[common] == request.tokens[common]) {
      ++common;
    }
    if (config_.recurrent_state && common != slot.cached.size()) common = 0;
    const auto candidate = static_cast<int32_t>(common);
    if (candidate > best_reuse || (candidate == best_reuse && slot.last_used < best_age)) {
      best = static_cast<int32_t>(s);
      best_reuse = candidate;
      best_age = slot.last_used;
    }
  }
  reuse = std::max(0, best_reuse);
  return best;
}

bool Scheduler::evict_one_cache(StepPlan& plan) {
  Slot* victim = nullptr;
  for (Slot& slot : slots_) {
    if (!slot.owner && slot.blocks > 0 &&
        (victim == nullptr || slot.last_used < victim->last_used)) {
      victim = &slot;
    }
  }
  if (victim == nullptr) return false;
  used_blocks_ -= victim->blocks;
  victim->blocks = 0;
  victim->cached.clear();
  plan.cleared_slots.push_back(static_cast<int32_t>(victim - slots_.data()));
  return true;
}

bool Scheduler::preempt_one_newer_than(uint64_t id) {
  // The newest running request that is not waiting for a result, admitted after `id`.
  auto self = std::find(running_.begin(), running_.end(), id);
  for (auto it = running_.end(); it != self && it != running_.begin();) {
    --it;
    if (it == self) break;
    Request& victim = requests_.at(*it);
    if (victim.in_flight) continue;
    const uint64_t victim_id = victim.spec.id;
    release(victim);
    waiting_.push_front(victim_id);
    ++preemptions_;
    return true;
  }
  return false;
}

bool Scheduler::reserve(Request& request, int32_t positions, StepPlan& plan) {
  Slot& slot = slots_[static_cast<size_t>(request.slot)];
  const int32_t needed = blocks_for(positions) - slot.blocks;
  if (needed <= 0) return true;
  while (free_blocks() < needed) {
    if (evict_one_cache(plan)) continue;
    if (preempt_one_newer_than(request.spec.id)) continue;
    return false;
  }
  slot.blocks += needed;
  used_blocks_ += needed;
  return true;
}

bool Scheduler::admit(Request& request) {
  int32_t reuse = 0;
  const auto chosen = pick_slot(request, reuse);
  if (!chosen) return false;
  Slot& slot = slots_[static_cast<size_t>(*chosen)];
  // Keep only the reused prefix of the slot's cache.
  const int32_t kept_blocks = blocks_for(reuse);
  used_blocks_ -= slot.blocks - kept_blocks;
  slot.blocks = kept_blocks;
  slot.cached.resize(static_cast<size_t>(reuse));
  slot.owner = request.spec.id;
  slot.last_used = ++clock_;
  request.slot = *chosen;
  request.computed = reuse;
  if (reuse > 0) ++prefix_hits_;
  running_.push_back(request.spec.id);
  return true;
}

void Scheduler::schedule_tokens(Request& request, int32_t count, StepPlan& plan) {
  StepEntry entry;
  entry.request_id = request.spec.id;
  entry.slot = request.slot;
  entry.keep_positions = request.computed;
  entry.first_position = request.computed;
  entry.tokens.assign(request.tokens.begin() + request.computed,
                      request.tokens.begin() + request.computed + count);
  request.computed += count;
  entry.sample = request.computed == static_cast<int32_t>(request.tokens.size());
  entry.sampling = request.spec.sampling;
  request.in_flight = true;
  plan.entries.push_back(std::move(entry));
}

size_t Scheduler::restart_all() {
  steps_in_flight_.clear();
  std::vector<uint64_t> requeue;
  for (uint64_t id : running_) {
    auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    if (it->second.aborted) {
      requests_.erase(it);  // its step will never come back to release it
      continue;
    }
    requeue.push_back(id);
  }
  running_.clear();
  for (auto& [id, request] : requests_) {
    request.in_flight = false;
    request.slot = -1;
    request.computed = 0;
  }
  for (Slot& slot : slots_) slot = Slot{};
  used_blocks_ = 0;
  finished_.clear();  // the new runner holds no state for them
  waiting_.insert(waiting_.begin(), requeue.begin(), requeue.end());
  return requeue.size();
}

StepPlan Scheduler::schedule(size_t max_entries) {
  StepPlan plan;
  int32_t budget = config_.max_step_tokens;
  // Running requests first, oldest first: decode tokens and unfinished prefills.
  const std::vector<uint64_t> running = running_;
  for (uint64_t id : running) {
    if (budget == 0 || plan.entries.size() >= max_entries) break;
    auto it = requests_.find(id);
    if (it == requests_.end() || it->second.in_flight || it->second.slot < 0) continue;
    Request& request = it->second;
    const int32_t pending = static_cast<int32_t>(request.tokens.size()) - request.computed;
    const int32_t count = std::min(pending, budget);
    if (count <= 0) continue;
    if (!reserve(request, request.computed + count, plan)) continue;
    schedule_tokens(request, count, plan);
    budget -= count;
  }
  // Then new requests, first come first served, while slots, blocks and budget last.
  while (budget > 0 && !waiting_.empty() && plan.entries.size() < max_entries) {
    Request& request = requests_.at(waiting_.front());
    if (!admit(request)) break;
    waiting_.pop_front();
    const int32_t pending = static_cast<int32_t>(request.tokens.size()) - request.computed;
    const int32_t count = std::min(pending, budget);
    if (!reserve(request, request.computed + count, plan)) {
      release(request);
      request.computed = 0;
      waiting_.push_front(request.spec.id);
      break;
    }
    schedule_tokens(request, count, plan);
    budget -= count;
  }
  plan.finished_requests = std::move(finished_);
  finished_.clear();
  if (!plan.entries.empty()) {
    plan.step_id = next_step_++;
    std::vector<uint64_t>& ids = steps_in_flight_[plan.step_id];
    for (const StepEntry& e : plan.entries) ids.push_back(e.request_id);
  }
  return plan;
}

RequestUpdate Scheduler::finish_check(const Request& request, int32_t token) const {
  RequestUpdate update{request.spec.id, token, FinishReason::kNone, {}};
  const auto& stops = request.spec.stop_tokens;
  if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
    update.finish = FinishReason::kStop;
  } else if (request.generated >= request.spec.max_new_tokens) {
    update.finish = FinishReason::kLength;
  }
  return update;
}

std::vector<RequestUpdate> Scheduler::update(const StepResult& result) {
  std::vector<RequestUpdate> updates;
  auto step = steps_in_flight_.find(result.step_id);
  TANDEM_CHECK(step != steps_in_flight_.end(), "result for unknown step ", result.step_id);
  const std::vector<uint64_t> ids = std::move(step->second);
  steps_in_flight_.erase(step);
  for (uint64_t id : ids) {
    auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    Request& request = it->second;
    request.in_flight = false;
    if (request.aborted) {
      release(request);
      requests_.erase(it);
      finished_.push_back(id);
      continue;
    }
    const auto sampled = std::find_if(result.sampled.begin(), result.sampled.end(),
                                      [id](const SampledToken& s) { return s.request_id == id; });
    if (sampled == result.sampled.end()) continue;  // a prefill chunk that was not the last
    request.tokens.push_back(sampled->token);
    ++request.generated;
    const RequestUpdate update = finish_check(request, sampled->token);
    updates.push_back(update);
    if (update.finish != FinishReason::kNone) {
      release(request);
      requests_.erase(it);
      finished_.push_back(id);
    }
  }
  return updates;
}

}  // namespace tandem
