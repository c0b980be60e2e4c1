#pragma once
// Throughput of a model's forward pass measured as llama-bench measures it:
// - prefill (pp): one batch of `prompt_tokens` tokens of one sequence in an empty
//   cache, logits for the last row only;
// - decode (tg): `decode_tokens` steps of one token each, starting from an empty
//   cache, logits for every step.
// Token ids are drawn from the vocabulary with a fixed seed. Each figure is the mean
// and sample standard deviation of tokens per second over `repetitions` runs, after
// one warm-up run that is not counted (it faults in the mapped weights).
//
// The decode rate is bounded by the memory bandwidth, and a machine's bandwidth can change
// while it runs (other load on a shared host): with a `decode_limit_probe`, the limit is
// measured before the first measured decode run and after each one, and each run gets the
// mean of the probes either side of it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "model/model.h"

namespace tandem {

struct ModelBenchOptions {
  size_t prompt_tokens = 512;  // 0: no prefill test
  size_t decode_tokens = 64;   // 0: no decode test
  int repetitions = 5;
  uint64_t seed = 1234;
  KvType kv_type = KvType::kF32;
  // Bytes per second the machine reads now (empty: no probes).
  std::function<double()> decode_limit_probe;
};

struct RateStats {
  std::vector<double> tokens_per_s;  // one value per repetition
  double mean = 0;
  double stddev = 0;  // sample standard deviation (0 for one repetition)
};

// Mean and sample standard deviation of `samples`.
RateStats summarize_rates(std::vector<double> samples);

struct ModelBenchResult {
  RateStats prefill;
  RateStats decode;
  // Per measured decode run: the mean of the probes either side (with a probe).
  std::vector<double> decode_limits;
  std::vector<double> probes;  // every probe's rate, in order
  // The process's peak resident bytes after the warm-up runs, before the first probe (whose
  // buffer would count otherwise); the measured runs repeat the warm-ups' allocations.
  uint64_t peak_rss_bytes = 0;
};

ModelBenchResult bench_model(const Model& model, const ModelBenchOptions& options);

}  // namespace tandem
