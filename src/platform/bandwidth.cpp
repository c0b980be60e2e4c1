#include "platform/bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tandem {

namespace {

// 32 bytes as four 64-bit lanes: one AVX2 load, or two SSE2 loads where the build targets
// the x86-64 baseline; the probe reads as wide as the weight kernels do.
using Lanes = uint64_t __attribute__((vector_size(32)));

// Sum of `words` 64-bit words at `p` (a multiple of 16 words), in four independent
// accumulators so that several loads stay in flight.
uint64_t sum_words(const uint64_t* p, size_t words) {
  Lanes acc[4] = {};
  for (size_t i = 0; i < words; i += 16) {
    for (size_t k = 0; k < 4; ++k) {
      Lanes v;
      std::memcpy(&v, p + i + 4 * k, sizeof(v));
      acc[k] += v;
    }
  }
  const Lanes total = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  return total[0] + total[1] + total[2] + total[3];
}

#if defined(__x86_64__)
// Software prefetch this far ahead of the loads, as the weight kernels read their stream.
constexpr size_t kPrefetchBytes = 1024;

// sum_words with 32-byte loads and the stream prefetched, on CPUs with AVX2: the read
// pattern of the decode kernels, so that the probe's rate is one they can reach.
__attribute__((target("avx2"))) uint64_t sum_words_avx2(const uint64_t* p, size_t words) {
  __m256i acc[4] = {};
  for (size_t i = 0; i < words; i += 16) {
    const char* line = reinterpret_cast<const char*>(p + i) + kPrefetchBytes;
    _mm_prefetch(line, _MM_HINT_T0);
    _mm_prefetch(line + 64, _MM_HINT_T0);
    for (size_t k = 0; k < 4; ++k) {
      acc[k] = _mm256_add_epi64(
          acc[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4 * k)));
    }
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(
      reinterpret_cast<__m256i*>(lanes),
      _mm256_add_epi64(_mm256_add_epi64(acc[0], acc[1]), _mm256_add_epi64(acc[2], acc[3])));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

uint64_t read_words(const uint64_t* p, size_t words) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) return sum_words_avx2(p, words);
#endif
  return sum_words(p, words);
}

}  // namespace

// Whole 16-word groups for every worker.
constexpr size_t kGroup = 16;

ReadBandwidthProbe::ReadBandwidthProbe(ThreadPool& pool, size_t buffer_bytes)
    : pool_(pool),
      words_(buffer_bytes / (kGroup * sizeof(uint64_t)) * kGroup),
      memory_(words_ * sizeof(uint64_t)) {
  auto* buffer = reinterpret_cast<uint64_t*>(memory_.bytes().data());
  // Touch every page so the reads measure memory, not page faults.
  pool_.parallel_for(words_, [&](size_t begin, size_t end, size_t) {
    for (size_t i = begin; i < end; ++i) buffer[i] = i;
  });
}

double ReadBandwidthProbe::measure(int repetitions) {
  const auto* buffer = reinterpret_cast<const uint64_t*>(memory_.bytes().data());
  const size_t groups = words_ / kGroup;
  std::atomic<uint64_t> sink{0};
  double best = 0;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    pool_.parallel_for(groups, [&](size_t begin, size_t end, size_t) {
      sink.fetch_add(read_words(buffer + begin * kGroup, (end - begin) * kGroup),
                     std::memory_order_relaxed);
    });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(buffer_bytes()) / seconds);
  }
  // The sum is checked so the compiler cannot drop the reads.
  const uint64_t expected_per_pass = words_ * (words_ - 1) / 2;
  if (sink.load() != expected_per_pass * static_cast<uint64_t>(repetitions)) return 0;
  return best;
}

BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes, int repetitions) {
  ReadBandwidthProbe probe(pool, buffer_bytes);
  return {probe.measure(repetitions), probe.buffer_bytes(), repetitions};
}

}  // namespace tandem
