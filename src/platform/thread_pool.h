#pragma once
// The one thread-pool contract of the project: a task receives a range of work items
// and the index of the worker slot running it. The calling thread works too, so a pool
// of N threads starts N-1 helpers. Idle helpers spin briefly, then sleep.
//
// A dispatch splits its items into one range per slot; slots are claimed by whichever
// thread comes first (the caller takes slot 0, then any slot no helper has started), so
// a helper that the OS has not scheduled yet never holds the caller back: the caller
// runs that slot itself. Each slot runs exactly once, on one thread, with its own
// index as `worker` (so per-worker scratch indexed by it is never shared), and the split
// depends only on the item count and the pool size, not on which thread runs what.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tandem {

class ThreadPool {
 public:
  // task(begin, end, worker): process items [begin, end) on worker `worker`.
  using RangeTask = std::function<void(size_t begin, size_t end, size_t worker)>;

  explicit ThreadPool(size_t thread_count);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return thread_count_; }

  // Splits [0, count) into one contiguous range per worker (none smaller than
  // `min_chunk` unless count is) and runs them all; returns when every range is done.
  void parallel_for(size_t count, const RangeTask& task, size_t min_chunk = 1);

  // Runs task(0, 1, w) on every worker w: for work that splits itself by worker index.
  void run_on_all(const RangeTask& task);

 private:
  void worker_loop();
  void dispatch(const RangeTask& task, size_t count, size_t parts);
  // Claims and runs slots of dispatch `generation` until none is left.
  void run_slots(uint64_t generation);

  size_t thread_count_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  // The current dispatch: generation << 32 | slot count << 16 | next unclaimed slot, in
  // one word so that a claim can never take a slot of another dispatch.
  std::atomic<uint64_t> state_{0};
  std::atomic<size_t> done_{0};      // slots of the current dispatch finished
  std::atomic<size_t> sleepers_{0};  // helpers waiting on wake_
  std::atomic<bool> stopping_{false};
  const RangeTask* task_ = nullptr;  // valid while a dispatch has unfinished slots
  size_t count_ = 0;
  uint64_t generation_ = 0;  // of the last dispatch, written by the dispatching thread
  std::mutex run_mutex_;     // one parallel_for at a time
};

// Splits [0, total) into `parts` near-equal contiguous ranges; returns range `index`.
struct Range {
  size_t begin;
  size_t end;
};
Range split_range(size_t total, size_t parts, size_t index);

}  // namespace tandem
