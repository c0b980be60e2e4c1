// bench_model's statistics and a run on a reference model.

#include "model/model_bench.h"

#include <gtest/gtest.h>

#include "gguf/model_file.h"
#include "platform/memory_usage.h"
#include "test_paths.h"

namespace tandem {
namespace {

TEST(ModelBenchTest, SummarizesMeanAndSampleStddev) {
  const RateStats stats = summarize_rates({2.0, 4.0, 6.0});
  EXPECT_DOUBLE_EQ(stats.mean, 4.0);
  EXPECT_DOUBLE_EQ(stats.stddev, 2.0);  // sqrt((4 + 0 + 4) / 2)
  EXPECT_DOUBLE_EQ(summarize_rates({5.0}).stddev, 0.0);
}

TEST(ModelBenchTest, MeasuresPrefillAndDecodeOfAReferenceModel) {
  TANDEM_REQUIRE_SHARED();
  const ModelFile file(testing::reference_path("qwen3moe-tiny-Q4_K_M.gguf"));
  ThreadPool pool(2);
  const auto model = Model::load(file, ModelOptions{ComputeMode::kFast}, pool);
  const ModelBenchResult result = bench_model(*model, {16, 4, 2, 7});
  ASSERT_EQ(result.prefill.tokens_per_s.size(), 2u);
  ASSERT_EQ(result.decode.tokens_per_s.size(), 2u);
  EXPECT_GT(result.prefill.mean, 0.0);
  EXPECT_GT(result.decode.mean, 0.0);
  EXPECT_GT(peak_resident_bytes(), 1u << 20);
}

}  // namespace
}  // namespace tandem
