#pragma once
// Measures how fast this machine streams memory: the bound on decode speed, where
// every weight is read once per token.

#include <cstddef>

#include "platform/thread_pool.h"

namespace tandem {

struct BandwidthResult {
  double read_bytes_per_s = 0;  // best of the repetitions
  size_t buffer_bytes = 0;
  int repetitions = 0;
};

// Reads a buffer of `buffer_bytes` (far larger than the caches) `repetitions` times
// with every worker of `pool`, and reports the best rate.
BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes = 512ull << 20,
                                       int repetitions = 20);

}  // namespace tandem
