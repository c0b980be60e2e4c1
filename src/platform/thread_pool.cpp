#include "platform/thread_pool.h"

#include <algorithm>

#include "platform/error.h"

namespace tandem {
namespace {
// Spin iterations before a helper sleeps: long enough to bridge the gap between
// the kernels of one forward pass, short enough not to burn a core when idle.
constexpr int kSpinIterations = 20000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

Range split_range(size_t total, size_t parts, size_t index) {
  const size_t base = total / parts;
  const size_t extra = total % parts;
  const size_t begin = index * base + std::min(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

ThreadPool::ThreadPool(size_t thread_count) : thread_count_(std::max<size_t>(1, thread_count)) {
  for (size_t worker = 1; worker < thread_count_; ++worker) {
    threads_.emplace_back([this, worker] { worker_loop(worker); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void ThreadPool::parallel_for(size_t count, const RangeTask& task, size_t min_chunk) {
  if (count == 0) return;
  size_t workers = std::min(thread_count_, (count + min_chunk - 1) / std::max<size_t>(1, min_chunk));
  workers = std::max<size_t>(1, workers);
  if (workers == 1 || thread_count_ == 1) {
    task(0, count, 0);
    return;
  }
  dispatch(task, count, workers);
}

void ThreadPool::run_on_all(const RangeTask& task) {
  if (thread_count_ == 1) {
    task(0, 1, 0);
    return;
  }
  dispatch(task, thread_count_, thread_count_);
}

// Runs `task` over [0, count) split into `parts` ranges, worker w taking range w.
void ThreadPool::dispatch(const RangeTask& task, size_t count, size_t parts) {
  std::lock_guard run_lock(run_mutex_);
  task_ = &task;
  count_ = count;
  chunk_ = parts;
  pending_.store(thread_count_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  Range mine = split_range(count, parts, 0);
  if (mine.begin < mine.end) task(mine.begin, mine.end, 0);
  while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
  task_ = nullptr;
}

void ThreadPool::worker_loop(size_t worker) {
  uint64_t seen = 0;
  while (true) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && spins < kSpinIterations) {
      cpu_relax();
      ++spins;
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load()) return;
    if (worker < chunk_) {
      Range mine = split_range(count_, chunk_, worker);
      if (mine.begin < mine.end) (*task_)(mine.begin, mine.end, worker);
    }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace tandem
