#include "model/model_bench.h"

#include <chrono>
#include <cmath>
#include <random>

#include "platform/error.h"
#include "platform/memory_usage.h"

namespace tandem {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<int32_t> random_tokens(size_t count, size_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(vocab) - 1);
  std::vector<int32_t> tokens(count);
  for (int32_t& token : tokens) token = pick(rng);
  return tokens;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One prompt batch in a fresh cache; returns tokens per second.
double run_prefill(const Model& model, std::span<const int32_t> tokens, KvType kv_type) {
  KvCache cache = model.make_cache(tokens.size(), kv_type);
  const Batch batch = Batch::sequence(tokens, 0, 0, /*all_logits=*/false);
  const auto start = Clock::now();
  const FloatMatrix logits = model.forward(batch, cache);
  const double seconds = seconds_since(start);
  TANDEM_CHECK(logits.rows() == 1, "prefill returned ", logits.rows(), " logit rows");
  return static_cast<double>(tokens.size()) / seconds;
}

// One token per step from an empty cache; returns tokens per second.
double run_decode(const Model& model, std::span<const int32_t> tokens, KvType kv_type) {
  KvCache cache = model.make_cache(tokens.size(), kv_type);
  const auto start = Clock::now();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const FloatMatrix logits = model.forward(
        Batch::sequence(tokens.subspan(i, 1), static_cast<int32_t>(i), 0, true), cache);
    TANDEM_CHECK(logits.rows() == 1, "decode step returned ", logits.rows(), " logit rows");
  }
  return static_cast<double>(tokens.size()) / seconds_since(start);
}

}  // namespace

RateStats summarize_rates(std::vector<double> samples) {
  RateStats stats;
  stats.tokens_per_s = std::move(samples);
  const size_t n = stats.tokens_per_s.size();
  if (n == 0) return stats;
  double sum = 0;
  for (double v : stats.tokens_per_s) sum += v;
  stats.mean = sum / static_cast<double>(n);
  if (n > 1) {
    double squares = 0;
    for (double v : stats.tokens_per_s) squares += (v - stats.mean) * (v - stats.mean);
    stats.stddev = std::sqrt(squares / static_cast<double>(n - 1));
  }
  return stats;
}

ModelBenchResult bench_model(const Model& model, const ModelBenchOptions& options) {
  if (options.repetitions < 1) throw Error("bench: repetitions must be at least 1");
  const size_t vocab = model.config().vocab_size;
  ModelBenchResult result;
  if (options.prompt_tokens > 0) {
    const std::vector<int32_t> prompt = random_tokens(options.prompt_tokens, vocab, options.seed);
    run_prefill(model, prompt, options.kv_type);  // warm-up
    std::vector<double> rates(static_cast<size_t>(options.repetitions));
    for (double& rate : rates) rate = run_prefill(model, prompt, options.kv_type);
    result.prefill = summarize_rates(std::move(rates));
  }
  if (options.decode_tokens > 0) {
    const std::vector<int32_t> tokens =
        random_tokens(options.decode_tokens, vocab, options.seed + 1);
    run_decode(model, tokens, options.kv_type);  // warm-up
    result.peak_rss_bytes = peak_resident_bytes();
    const auto& probe = options.decode_limit_probe;
    if (probe) result.probes.push_back(probe());
    std::vector<double> rates;
    for (int r = 0; r < options.repetitions; ++r) {
      rates.push_back(run_decode(model, tokens, options.kv_type));
      if (!probe) continue;
      result.probes.push_back(probe());
      result.decode_limits.push_back((result.probes[r] + result.probes[r + 1]) / 2);
    }
    result.decode = summarize_rates(std::move(rates));
  }
  if (result.peak_rss_bytes == 0) result.peak_rss_bytes = peak_resident_bytes();
  return result;
}

}  // namespace tandem
