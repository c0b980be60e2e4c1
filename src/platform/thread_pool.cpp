#include "platform/thread_pool.h"

#include <algorithm>
#include <thread>

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

namespace {
constexpr uint64_t generation_of(uint64_t state) { return state >> 32; }
constexpr uint64_t parts_of(uint64_t state) { return (state >> 16) & 0xFFFF; }
constexpr uint64_t next_of(uint64_t state) { return state & 0xFFFF; }
constexpr uint64_t make_state(uint64_t generation, uint64_t parts, uint64_t next) {
  return generation << 32 | parts << 16 | next;
}
}  // namespace

ThreadPool::ThreadPool(size_t thread_count)
    : thread_count_(std::clamp<size_t>(thread_count, 1, 0xFFFF)) {
  for (size_t worker = 1; worker < thread_count_; ++worker) {
    threads_.emplace_back([this] { worker_loop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
    state_.store(make_state(++generation_, 0, 0));
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void ThreadPool::parallel_for(size_t count, const RangeTask& task, size_t min_chunk) {
  if (count == 0) return;
  size_t workers =
      std::min(thread_count_, (count + min_chunk - 1) / std::max<size_t>(1, min_chunk));
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

void ThreadPool::run_slots(uint64_t generation) {
  uint64_t state = state_.load(std::memory_order_acquire);
  while (generation_of(state) == generation && next_of(state) < parts_of(state)) {
    if (!state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) continue;
    // The slot is ours; the dispatch cannot end before it is done, so task_ and count_
    // are this generation's.
    const size_t slot = next_of(state);
    const Range range = split_range(count_, parts_of(state), slot);
    if (range.begin < range.end) (*task_)(range.begin, range.end, slot);
    done_.fetch_add(1, std::memory_order_acq_rel);
    state = state_.load(std::memory_order_acquire);
  }
}

// Runs `task` over [0, count) split into `parts` ranges, slot w taking range w.
void ThreadPool::dispatch(const RangeTask& task, size_t count, size_t parts) {
  std::lock_guard run_lock(run_mutex_);
  task_ = &task;
  count_ = count;
  done_.store(0, std::memory_order_relaxed);
  const uint64_t generation = ++generation_ & 0xFFFFFFFF;
  // Publishes the dispatch (seq_cst, paired with the sleepers_ count: either a helper
  // going to sleep sees the new state, or this thread sees it sleeping and wakes it).
  state_.store(make_state(generation, parts, 0));
  if (sleepers_.load() != 0) {
    { std::lock_guard lock(mutex_); }
    wake_.notify_all();
  }
  run_slots(generation);
  // Every slot is claimed; wait for the ones other threads are running.
  for (int spins = 0; done_.load(std::memory_order_acquire) != parts; ++spins) {
    if (spins < kSpinIterations) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  task_ = nullptr;
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  while (true) {
    int spins = 0;
    while (generation_of(state_.load(std::memory_order_acquire)) == seen &&
           spins < kSpinIterations) {
      cpu_relax();
      ++spins;
    }
    if (generation_of(state_.load(std::memory_order_acquire)) == seen) {
      std::unique_lock lock(mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_of(state_.load()) != seen; });
      sleepers_.fetch_sub(1);
    }
    if (stopping_.load()) return;
    seen = generation_of(state_.load(std::memory_order_acquire));
    run_slots(seen);
  }
}

}  // namespace tandem
