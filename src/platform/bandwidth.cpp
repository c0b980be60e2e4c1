#include "platform/bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

namespace tandem {

BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes, int repetitions) {
  const size_t words = buffer_bytes / sizeof(uint64_t);
  std::vector<uint64_t> buffer(words);
  // Touch every page so the reads below measure memory, not page faults.
  pool.parallel_for(words, [&](size_t begin, size_t end, size_t) {
    for (size_t i = begin; i < end; ++i) buffer[i] = i;
  });
  std::atomic<uint64_t> sink{0};
  double best = 0;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(words, [&](size_t begin, size_t end, size_t) {
      // Eight independent accumulators keep several loads in flight.
      uint64_t acc[8] = {};
      size_t i = begin;
      for (; i + 8 <= end; i += 8) {
        for (size_t k = 0; k < 8; ++k) acc[k] += buffer[i + k];
      }
      for (; i < end; ++i) acc[0] += buffer[i];
      uint64_t total = 0;
      for (uint64_t a : acc) total += a;
      sink.fetch_add(total, std::memory_order_relaxed);
    });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(words * sizeof(uint64_t)) / seconds);
  }
  // The sum is checked so the compiler cannot drop the reads.
  const uint64_t expected_per_pass = words * (words - 1) / 2;
  if (sink.load() != expected_per_pass * static_cast<uint64_t>(repetitions)) best = 0;
  return {best, words * sizeof(uint64_t), repetitions};
}

}  // namespace tandem
