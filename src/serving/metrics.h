#pragma once
// Server metrics in the Prometheus text format: counters, gauges and histograms.
// Thread-safe; cheap enough to update on every token.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace tandem {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Appends the _bucket, _sum and _count lines of metric `name`.
  void render(const std::string& name, const std::string& help, std::string& out) const;
  uint64_t count() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  uint64_t total_ = 0;
};

struct ServerMetrics {
  std::atomic<uint64_t> requests_total{0};
  std::atomic<uint64_t> requests_failed{0};
  std::atomic<uint64_t> requests_rejected{0};  // queue full
  std::atomic<uint64_t> requests_cancelled{0};
  std::atomic<uint64_t> prompt_tokens_total{0};
  std::atomic<uint64_t> generated_tokens_total{0};
  Histogram time_to_first_token{{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}};
  Histogram inter_token_latency{{0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5, 1}};
  Histogram request_latency{{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160}};

  // Gauges are read at render time from the engine.
  struct Gauges {
    uint64_t waiting = 0;
    uint64_t running = 0;
    uint64_t kv_blocks_used = 0;
    uint64_t kv_blocks_total = 0;
    uint64_t prefix_cache_hits = 0;
    uint64_t preemptions = 0;
    uint64_t recoveries = 0;  // runner rebuilt after a failure, requests resumed
  };
  std::string render(const Gauges& gauges) const;
};

}  // namespace tandem
