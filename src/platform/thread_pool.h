#pragma once
// The one thread-pool contract of the project: a task receives a range of work items
// and the index of the worker running it. The calling thread is worker 0, so a pool
// of N threads starts N-1 helpers. Idle helpers spin briefly, then sleep.

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
  void worker_loop(size_t worker);
  void dispatch(const RangeTask& task, size_t count, size_t chunk);

  size_t thread_count_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> pending_{0};
  std::atomic<bool> stopping_{false};
  const RangeTask* task_ = nullptr;
  size_t count_ = 0;
  size_t chunk_ = 0;
  std::mutex run_mutex_;  // one parallel_for at a time
};

// Splits [0, total) into `parts` near-equal contiguous ranges; returns range `index`.
struct Range {
  size_t begin;
  size_t end;
};
Range split_range(size_t total, size_t parts, size_t index);

}  // namespace tandem
