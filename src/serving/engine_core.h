#pragma once
// The serving loop: one thread that repeats schedule -> launch -> collect -> update,
// keeping as many steps in flight as the runner allows, and hands each request's
// tokens to its sink. Front ends submit and cancel from any thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "platform/error.h"
#include "serving/model_runner.h"
#include "serving/scheduler.h"

namespace tandem {

// The queue is full; retry later (HTTP 503 with Retry-After).
class QueueFullError : public Error {
 public:
  using Error::Error;
};

struct EngineStats {
  size_t waiting = 0;
  size_t running = 0;
  int32_t free_kv_blocks = 0;
  int32_t total_kv_blocks = 0;
  int32_t prefix_hits = 0;
  int32_t preemptions = 0;
  int32_t recoveries = 0;  // times the runner was rebuilt and its requests resumed
  uint64_t steps = 0;
  uint64_t tokens_processed = 0;
};

class EngineCore {
 public:
  // Called on the engine thread, without engine locks held, for every new token and at
  // the end of the request (finish != kNone). It must not block for long; it may call
  // cancel() or submit().
  using TokenSink = std::function<void(const RequestUpdate& update)>;

  EngineCore(ModelRunner& runner, const SchedulerConfig& config, size_t max_queued);
  ~EngineCore();
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  // Queues a request and returns its id. Throws Error when it can never fit, and
  // QueueFullError when too many requests wait already.
  uint64_t submit(RequestSpec spec, TokenSink sink);
  // Ends a request; its sink gets a final kAborted update unless it already finished.
  void cancel(uint64_t id);
  EngineStats stats() const;

 private:
  void loop();
  void drain_inbox();
  void dispatch(const std::vector<RequestUpdate>& updates);
  void deliver();
  // The runner threw `why`: every step in flight is lost. Rebuilds the runner and
  // resumes every request from its tokens, or fails them all when it cannot.
  void recover_or_fail(const std::string& why);
  void fail_all(const std::string& why);

  ModelRunner& runner_;
  size_t in_flight_ = 0;  // steps launched and not collected; engine thread only
  const size_t max_queued_;
  Scheduler scheduler_;  // touched only by the engine thread (check_fits is const)
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t next_id_ = 1;
  std::deque<RequestSpec> inbox_;
  std::vector<uint64_t> cancels_;
  std::unordered_map<uint64_t, TokenSink> sinks_;
  struct Delivery {
    TokenSink sink;
    RequestUpdate update;
  };
  std::vector<Delivery> deliveries_;  // updates to hand to sinks once the lock is released
  EngineStats stats_;
};

}  // namespace tandem
