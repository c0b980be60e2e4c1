#include "serving/engine_core.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace tandem {

EngineCore::EngineCore(ModelRunner& runner, const SchedulerConfig& config, size_t max_queued)
    : runner_(runner), max_queued_(max_queued), scheduler_(config) {
  stats_.total_kv_blocks = config.kv_blocks;
  stats_.free_kv_blocks = config.kv_blocks;
  thread_ = std::thread([this] { loop(); });
}

EngineCore::~EngineCore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

uint64_t EngineCore::submit(RequestSpec spec, TokenSink sink) {
  scheduler_.check_fits(spec);
  std::lock_guard lock(mutex_);
  if (stopping_) throw QueueFullError("the server is shutting down");
  if (sinks_.size() >= max_queued_) {
    throw QueueFullError(
        str_cat(sinks_.size(), " requests are queued or running; try again later"));
  }
  spec.id = next_id_++;
  const uint64_t id = spec.id;
  sinks_.emplace(id, std::move(sink));
  inbox_.push_back(std::move(spec));
  wake_.notify_all();
  return id;
}

void EngineCore::cancel(uint64_t id) {
  std::lock_guard lock(mutex_);
  cancels_.push_back(id);
  wake_.notify_all();
}

EngineStats EngineCore::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

// Moves submissions and cancellations into the scheduler. Called with mutex_ held.
void EngineCore::drain_inbox() {
  while (!inbox_.empty()) {
    RequestSpec spec = std::move(inbox_.front());
    inbox_.pop_front();
    scheduler_.add(std::move(spec));
  }
  for (uint64_t id : cancels_) {
    auto sink = sinks_.find(id);
    if (sink == sinks_.end()) continue;
    scheduler_.abort(id);
    deliveries_.push_back(
        {std::move(sink->second), RequestUpdate{id, std::nullopt, FinishReason::kAborted, {}}});
    sinks_.erase(sink);
  }
  cancels_.clear();
}

// Sinks run without the lock held: a sink may cancel or submit.
void EngineCore::deliver() {
  std::vector<Delivery> deliveries;
  {
    std::lock_guard lock(mutex_);
    deliveries.swap(deliveries_);
  }
  for (Delivery& d : deliveries) d.sink(d.update);
}

void EngineCore::dispatch(const std::vector<RequestUpdate>& updates) {
  {
    std::lock_guard lock(mutex_);
    for (const RequestUpdate& update : updates) {
      auto sink = sinks_.find(update.id);
      if (sink == sinks_.end()) continue;  // cancelled meanwhile
      if (update.finish != FinishReason::kNone) {
        deliveries_.push_back({std::move(sink->second), update});
        sinks_.erase(sink);
      } else {
        deliveries_.push_back({sink->second, update});
      }
    }
  }
  deliver();
}

void EngineCore::recover_or_fail(const std::string& why) {
  in_flight_ = 0;  // the runner dropped them all
  std::fprintf(stderr, "tandem: step failed: %s\n", why.c_str());
  if (runner_.recover(why)) {
    std::lock_guard lock(mutex_);
    const size_t resumed = scheduler_.restart_all();
    ++stats_.recoveries;
    std::fprintf(stderr, "tandem: resuming %zu request(s) from their tokens\n", resumed);
    return;
  }
  const std::string reason = runner_.unavailable();
  fail_all(reason.empty() ? why : reason);
}

void EngineCore::fail_all(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    scheduler_.restart_all();  // forget the lost steps so that abort() frees everything
    for (auto& [id, sink] : sinks_) {
      scheduler_.abort(id);
      RequestUpdate update{id, std::nullopt, FinishReason::kError, why};
      deliveries_.push_back({std::move(sink), std::move(update)});
    }
    sinks_.clear();
  }
  deliver();
}

void EngineCore::loop() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      drain_inbox();
      if (stopping_ && in_flight_ == 0) {
        lock.unlock();
        deliver();
        return;
      }
    }
    deliver();
    bool failed = false;
    while (in_flight_ < runner_.max_steps_in_flight()) {
      StepPlan plan;
      {
        std::lock_guard lock(mutex_);
        // Split the active requests into one group per pipeline stage.
        const size_t depth = runner_.max_steps_in_flight();
        const size_t active = scheduler_.waiting() + scheduler_.running();
        plan = scheduler_.schedule(std::max<size_t>(1, (active + depth - 1) / depth));
      }
      if (plan.entries.empty()) break;
      try {
        runner_.launch(plan);
      } catch (const std::exception& e) {
        recover_or_fail(e.what());
        failed = true;
        break;
      }
      ++in_flight_;
      std::lock_guard lock(mutex_);
      ++stats_.steps;
      stats_.tokens_processed += static_cast<uint64_t>(plan.token_count());
    }
    if (failed) continue;
    if (in_flight_ == 0) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !inbox_.empty() || !cancels_.empty(); });
      continue;
    }
    StepResult result;
    try {
      result = runner_.collect();
    } catch (const std::exception& e) {
      recover_or_fail(e.what());
      continue;
    }
    --in_flight_;
    std::vector<RequestUpdate> updates;
    {
      std::lock_guard lock(mutex_);
      updates = scheduler_.update(result);
      stats_.waiting = scheduler_.waiting();
      stats_.running = scheduler_.running();
      stats_.free_kv_blocks = scheduler_.free_blocks();
      stats_.prefix_hits = scheduler_.cached_prefix_hits();
      stats_.preemptions = scheduler_.preemptions();
    }
    dispatch(updates);
  }
}

}  // namespace tandem
