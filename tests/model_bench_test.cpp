// bench_model's statistics and a run on a reference model.

#include "model/model_bench.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "gguf/model_file.h"
#include "run_tandem.h"
#include "test_paths.h"

namespace tandem {
namespace {

TEST(ModelBenchTest, SummarizesMeanAndSampleStddev) {
  const RateStats stats = summarize_rates({2.0, 4.0, 6.0});
  EXPECT_DOUBLE_EQ(stats.mean, 4.0);
  EXPECT_DOUBLE_EQ(stats.stddev, 2.0);  // sqrt((4 + 0 + 4) / 2)
  EXPECT_DOUBLE_EQ(summarize_rates({5.0}).stddev, 0.0);
}

ModelBenchOptions runs(size_t prompt_tokens, size_t decode_tokens, int repetitions) {
  ModelBenchOptions options;
  options.prompt_tokens = prompt_tokens;
  options.decode_tokens = decode_tokens;
  options.repetitions = repetitions;
  return options;
}

// bench_model of the tiny reference MoE model on 2 threads.
ModelBenchResult bench_tiny_model(const ModelBenchOptions& options) {
  const ModelFile file(testing::reference_path("qwen3moe-tiny-Q4_K_M.gguf"));
  ThreadPool pool(2);
  const auto model = Model::load(file, ModelOptions{ComputeMode::kFast}, pool);
  return bench_model(*model, options);
}

TEST(ModelBenchTest, MeasuresPrefillAndDecodeOfAReferenceModel) {
  TANDEM_REQUIRE_SHARED();
  const ModelBenchResult result = bench_tiny_model(runs(16, 4, 2));
  ASSERT_EQ(result.prefill.tokens_per_s.size(), 2u);
  ASSERT_EQ(result.decode.tokens_per_s.size(), 2u);
  EXPECT_GT(result.prefill.mean, 0.0);
  EXPECT_GT(result.decode.mean, 0.0);
  EXPECT_GT(result.peak_rss_bytes, 1u << 20);
  EXPECT_TRUE(result.probes.empty());
  EXPECT_TRUE(result.decode_limits.empty());
}

TEST(ModelBenchTest, ProbesTheLimitAroundEveryDecodeRun) {
  TANDEM_REQUIRE_SHARED();
  ModelBenchOptions options = runs(0, 2, 3);
  double next = 0;
  options.decode_limit_probe = [&] { return next += 10; };
  const ModelBenchResult result = bench_tiny_model(options);
  EXPECT_EQ(result.probes, (std::vector<double>{10, 20, 30, 40}));
  // Run r lies between probes r and r + 1.
  EXPECT_EQ(result.decode_limits, (std::vector<double>{15, 25, 35}));
  EXPECT_EQ(result.decode.tokens_per_s.size(), 3u);
  EXPECT_TRUE(result.prefill.tokens_per_s.empty());
}

TEST(ModelBenchTest, CommandReportsEveryProbeAndEachRunsShare) {
  TANDEM_REQUIRE_SHARED();
  const testing::RunResult run =
      testing::run_tandem({"bench-model", testing::reference_path("qwen3moe-tiny-Q4_K_M.gguf"),
                           "-p", "8", "-n", "4", "-r", "2", "-t", "2", "--json"},
                          "/tmp/tandem-bench-model-" + std::to_string(getpid()));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto report = nlohmann::json::parse(run.out);
  const auto probes = report.at("read_bandwidth_samples").get<std::vector<double>>();
  const auto shares = report.at("bandwidth_limit_share_samples").get<std::vector<double>>();
  const auto rates = report.at("decode_tok_s_samples").get<std::vector<double>>();
  ASSERT_EQ(probes.size(), 3u);  // before the first run and after each
  ASSERT_EQ(shares.size(), 2u);
  const double active = report.at("active_bytes_per_token").get<double>();
  double mean_share = 0;
  for (size_t r = 0; r < 2; ++r) {
    EXPECT_NEAR(shares[r], rates[r] * active / ((probes[r] + probes[r + 1]) / 2), 1e-9 * shares[r]);
    mean_share += shares[r] / 2;
  }
  EXPECT_NEAR(report.at("bandwidth_limit_share").get<double>(), mean_share, 1e-12);
  EXPECT_NEAR(report.at("read_bandwidth_bytes_s").get<double>(),
              (probes[0] + probes[1] + probes[2]) / 3, 1e-6 * probes[0]);
  EXPECT_GT(report.at("peak_rss_bytes").get<double>(), 1 << 20);
}

}  // namespace
}  // namespace tandem
