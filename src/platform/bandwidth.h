#pragma once
// Measures how fast this machine streams memory: the bound on decode speed, where
// every weight is read once per token.

#include <cstddef>

#include "platform/anonymous_memory.h"
#include "platform/thread_pool.h"

namespace tandem {

struct BandwidthResult {
  double read_bytes_per_s = 0;  // best of the repetitions
  size_t buffer_bytes = 0;
  int repetitions = 0;
};

// A buffer far larger than the caches, allocated and touched once (huge pages where the
// kernel gives them, as the weights), then read by every worker of `pool` on each
// measure(): for a limit measured again and again beside the work it bounds, as the
// machine's memory speed changes under other load.
class ReadBandwidthProbe {
 public:
  explicit ReadBandwidthProbe(ThreadPool& pool, size_t buffer_bytes = 512ull << 20);

  // The best rate of `repetitions` passes over the buffer, in bytes per second (0 when
  // the reads' checksum is wrong).
  double measure(int repetitions);
  size_t buffer_bytes() const { return words_ * sizeof(uint64_t); }

 private:
  ThreadPool& pool_;
  size_t words_;
  AnonymousMemory memory_;
};

// Reads a buffer of `buffer_bytes` (far larger than the caches) `repetitions` times
// with every worker of `pool`, and reports the best rate.
BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes = 512ull << 20,
                                       int repetitions = 20);

}  // namespace tandem
