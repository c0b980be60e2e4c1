// LocalModelRunner under the real serving loop (Scheduler + EngineCore) on a tiny
// reference model, compared with greedy decoding straight on the Model.

#include "serving/local_runner.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "collected_tokens.h"
#include "gguf/model_file.h"
#include "model/model.h"
#include "ops/kernels.h"
#include "serving/engine_core.h"
#include "test_paths.h"

namespace tandem {
namespace {

// Ids of the "plain" reference prompt's first tokens and of a second, unrelated prompt.
const std::vector<int32_t> kPromptA = {785, 2310, 326, 885, 1079, 21, 271, 398, 1020, 374};
const std::vector<int32_t> kPromptB = {750, 2840, 1445, 77, 262, 1003, 2, 58};
constexpr int32_t kNewTokens = 12;

class LocalRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_SHARED();
    load("qwen3moe-tiny-Q8_0.gguf");
  }
  void load(const std::string& name) {
    model_.reset();
    file_ = std::make_unique<ModelFile>(testing::reference_path(name));
    pool_ = std::make_unique<ThreadPool>(2);
    model_ = Model::load(*file_, ModelOptions{}, *pool_);
  }

  // Prompt as one batch, then one token per forward pass, argmax each time.
  std::vector<int32_t> direct_greedy(const std::vector<int32_t>& prompt, int32_t count) const {
    KvCache cache = model_->make_cache(256);
    std::vector<int32_t> out;
    FloatMatrix logits = model_->forward(Batch::sequence(prompt, 0, 0, false), cache);
    auto position = static_cast<int32_t>(prompt.size());
    while (true) {
      out.push_back(static_cast<int32_t>(argmax(logits.row(0))));
      if (static_cast<int32_t>(out.size()) == count) return out;
      const std::vector<int32_t> next = {out.back()};
      logits = model_->forward(Batch::sequence(next, position++, 0, false), cache);
    }
  }

  std::unique_ptr<ModelFile> file_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Model> model_;
};

using Collected = testing::CollectedTokens;

RequestSpec greedy_spec(const std::vector<int32_t>& prompt) {
  RequestSpec spec;
  spec.prompt = prompt;
  spec.max_new_tokens = kNewTokens;
  spec.sampling.temperature = 0;
  return spec;
}

TEST_F(LocalRunnerTest, GreedyThroughTheEngineEqualsDirectDecode) {
  const std::vector<int32_t> expected = direct_greedy(kPromptA, kNewTokens);
  LocalModelRunner runner(*model_, 256);
  EngineCore engine(runner, SchedulerConfig{}, 8);
  Collected got;
  engine.submit(greedy_spec(kPromptA), got.sink());
  ASSERT_TRUE(got.wait());
  EXPECT_EQ(got.finish, FinishReason::kLength);
  EXPECT_EQ(got.tokens, expected);
}

TEST_F(LocalRunnerTest, ConcurrentRequestsGiveTheTokensOfEachAlone) {
  const std::vector<int32_t> expected_a = direct_greedy(kPromptA, kNewTokens);
  const std::vector<int32_t> expected_b = direct_greedy(kPromptB, kNewTokens);
  ASSERT_NE(expected_a, expected_b);
  LocalModelRunner runner(*model_, 256);
  SchedulerConfig config;
  config.max_step_tokens = 6;  // prefill in chunks, mixed with the other's decode steps
  EngineCore engine(runner, config, 8);
  Collected a, b;
  engine.submit(greedy_spec(kPromptA), a.sink());
  engine.submit(greedy_spec(kPromptB), b.sink());
  ASSERT_TRUE(a.wait());
  ASSERT_TRUE(b.wait());
  EXPECT_EQ(a.tokens, expected_a);
  EXPECT_EQ(b.tokens, expected_b);
}

TEST_F(LocalRunnerTest, RecurrentModelConcurrentRequestsGiveTheTokensOfEachAlone) {
  load("qwen35moe-tiny-Q8_0.gguf");  // DeltaNet state per slot, beside the KV
  const std::vector<int32_t> expected_a = direct_greedy(kPromptA, kNewTokens);
  const std::vector<int32_t> expected_b = direct_greedy(kPromptB, kNewTokens);
  LocalModelRunner runner(*model_, 256);
  SchedulerConfig config;
  config.max_step_tokens = 6;
  config.recurrent_state = true;
  EngineCore engine(runner, config, 8);
  Collected a, b, again;
  engine.submit(greedy_spec(kPromptA), a.sink());
  engine.submit(greedy_spec(kPromptB), b.sink());
  ASSERT_TRUE(a.wait());
  ASSERT_TRUE(b.wait());
  EXPECT_EQ(a.tokens, expected_a);
  EXPECT_EQ(b.tokens, expected_b);
  // A slot whose state cannot be rewound is started afresh for a different prompt.
  engine.submit(greedy_spec(kPromptA), again.sink());
  ASSERT_TRUE(again.wait());
  EXPECT_EQ(again.tokens, expected_a);
}

TEST_F(LocalRunnerTest, ReusedPrefixAndSeededSamplingRepeat) {
  // The second run of the same prompt reuses the cached prefix of the first; a seeded
  // sampler must then draw the same tokens again.
  LocalModelRunner runner(*model_, 256);
  EngineCore engine(runner, SchedulerConfig{}, 8);
  RequestSpec spec = greedy_spec(kPromptA);
  spec.sampling.temperature = 1.0f;
  spec.sampling.top_k = 0;
  spec.sampling.min_p = 0;
  spec.sampling.seed = 1234;
  Collected first, second;
  engine.submit(spec, first.sink());
  ASSERT_TRUE(first.wait());
  engine.submit(spec, second.sink());
  ASSERT_TRUE(second.wait());
  EXPECT_EQ(first.tokens, second.tokens);
  EXPECT_EQ(engine.stats().prefix_hits, 1);
}

TEST_F(LocalRunnerTest, DropsSamplersOfFinishedRequests) {
  LocalModelRunner runner(*model_, 256);
  StepPlan plan;
  plan.step_id = 1;
  StepEntry entry;
  entry.request_id = 7;
  entry.slot = 0;
  entry.tokens = kPromptA;
  entry.sample = true;
  entry.sampling.temperature = 0;
  plan.entries.push_back(entry);
  runner.launch(plan);
  const StepResult result = runner.collect();
  ASSERT_EQ(result.sampled.size(), 1u);
  EXPECT_EQ(result.sampled[0].request_id, 7u);
  EXPECT_EQ(result.sampled[0].token, direct_greedy(kPromptA, 1)[0]);
  EXPECT_EQ(runner.tracked_requests(), 1u);

  StepPlan next;
  next.step_id = 2;
  next.finished_requests = {7};
  next.cleared_slots = {0};
  runner.launch(next);
  EXPECT_TRUE(runner.collect().sampled.empty());
  EXPECT_EQ(runner.tracked_requests(), 0u);
  EXPECT_THROW(runner.collect(), Error);
}

}  // namespace
}  // namespace tandem
