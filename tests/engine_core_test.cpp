#include "serving/engine_core.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <string>

#include "collected_tokens.h"

namespace tandem {
namespace {

// Samples token (last input token + 1) for every entry that asks; keeps up to
// `depth` plans in flight like a pipeline, and counts the most it ever held.
class CountingRunner : public ModelRunner {
 public:
  explicit CountingRunner(size_t depth) : depth_(depth) {}
  size_t max_steps_in_flight() const override { return depth_; }
  void launch(const StepPlan& plan) override {
    std::lock_guard lock(mutex_);
    pending_.push_back(plan);
    most_in_flight = std::max(most_in_flight, pending_.size());
  }
  StepResult collect() override {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard lock(mutex_);
    StepPlan plan = std::move(pending_.front());
    pending_.pop_front();
    StepResult result{plan.step_id, {}};
    for (const auto& e : plan.entries) {
      if (e.sample) result.sampled.push_back({e.request_id, e.tokens.back() + 1});
    }
    return result;
  }
  size_t most_in_flight = 0;

 private:
  size_t depth_;
  std::mutex mutex_;
  std::deque<StepPlan> pending_;
};

using Collected = testing::CollectedTokens;

RequestSpec spec(std::vector<int32_t> prompt, int32_t max_new) {
  RequestSpec s;
  s.prompt = std::move(prompt);
  s.max_new_tokens = max_new;
  return s;
}

TEST(EngineCore, StreamsTokensOfConcurrentRequestsThroughAPipeline) {
  CountingRunner runner(2);
  SchedulerConfig config;
  EngineCore engine(runner, config, 16);
  Collected a, b;
  engine.submit(spec({1, 2, 3}, 5), a.sink());
  engine.submit(spec({10}, 4), b.sink());
  ASSERT_TRUE(a.wait());
  ASSERT_TRUE(b.wait());
  EXPECT_EQ(a.tokens, (std::vector<int32_t>{4, 5, 6, 7, 8}));
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{11, 12, 13, 14}));
  EXPECT_EQ(a.finish, FinishReason::kLength);
  EXPECT_EQ(runner.most_in_flight, 2u);
}

TEST(EngineCore, CancelEndsARequest) {
  CountingRunner runner(1);
  EngineCore engine(runner, SchedulerConfig{}, 16);
  Collected a;
  const uint64_t id = engine.submit(spec({1}, 4000), a.sink());
  engine.cancel(id);
  ASSERT_TRUE(a.wait());
  EXPECT_EQ(a.finish, FinishReason::kAborted);
}

TEST(EngineCore, RefusesWhenFullOrTooLong) {
  CountingRunner runner(1);
  SchedulerConfig config;
  config.context_length = 100;
  EngineCore engine(runner, config, 1);
  EXPECT_THROW(engine.submit(spec(std::vector<int32_t>(99, 1), 5), nullptr), Error);
  Collected a;
  engine.submit(spec({1}, 90), a.sink());
  EXPECT_THROW(engine.submit(spec({1}, 5), nullptr), QueueFullError);
  ASSERT_TRUE(a.wait());
}

// A runner with state like a model's KV cache: every slot remembers its tokens, and
// the sampled token depends on all of them, so a request resumed without its whole
// context would go astray. Keeps two steps in flight like a two-stage pipeline. When
// `break_at_collect` is reached it loses everything in flight and every slot (a node
// died); recover() then succeeds when `can_recover`.
class StatefulRunner : public ModelRunner {
 public:
  size_t max_steps_in_flight() const override { return 2; }
  void launch(const StepPlan& plan) override {
    if (broken_) throw Error("launch on a broken runner");
    for (int32_t slot : plan.cleared_slots) slots_.erase(slot);
    StepResult result{plan.step_id, {}};
    for (const StepEntry& e : plan.entries) {
      std::vector<int32_t>& held = slots_[e.slot];
      if (e.keep_positions > static_cast<int32_t>(held.size())) {
        throw Error("the plan keeps positions the slot does not hold");
      }
      held.resize(static_cast<size_t>(e.keep_positions));
      held.insert(held.end(), e.tokens.begin(), e.tokens.end());
      if (!e.sample) continue;
      int64_t hash = 0;
      for (int32_t t : held) hash = (hash * 31 + t) % 997;
      result.sampled.push_back({e.request_id, static_cast<int32_t>(hash) + 1});
    }
    pending_.push_back(std::move(result));
  }
  StepResult collect() override {
    if (broken_) throw Error("collect on a broken runner");
    if (++collects_ == break_at_collect) {
      broken_ = true;
      throw Error("stage 2/2 (n1): connection lost");
    }
    StepResult result = std::move(pending_.front());
    pending_.pop_front();
    return result;
  }
  bool recover(const std::string& why) override {
    last_failure = why;
    pending_.clear();
    slots_.clear();
    if (!can_recover) return false;
    broken_ = false;
    ++recoveries;
    return true;
  }
  std::string unavailable() const override {
    return broken_ ? "the nodes left cannot hold the model" : "";
  }

  int break_at_collect = -1;
  bool can_recover = true;
  int recoveries = 0;
  std::string last_failure;

 private:
  bool broken_ = false;
  int collects_ = 0;
  std::map<int32_t, std::vector<int32_t>> slots_;
  std::deque<StepResult> pending_;
};

std::vector<std::vector<int32_t>> run_two(StatefulRunner& runner, int& recoveries) {
  EngineCore engine(runner, SchedulerConfig{}, 16);
  Collected a, b;
  engine.submit(spec({5, 6, 7, 8}, 20), a.sink());
  engine.submit(spec({40, 41}, 15), b.sink());
  EXPECT_TRUE(a.wait());
  EXPECT_TRUE(b.wait());
  EXPECT_EQ(a.finish, FinishReason::kLength);
  EXPECT_EQ(b.finish, FinishReason::kLength);
  recoveries = engine.stats().recoveries;
  return {a.tokens, b.tokens};
}

TEST(EngineCore, ResumesEveryRequestFromItsTokensAfterTheRunnerRecovers) {
  StatefulRunner steady;
  int steady_recoveries = 0;
  const auto expected = run_two(steady, steady_recoveries);
  EXPECT_EQ(steady_recoveries, 0);
  ASSERT_EQ(expected[0].size(), 20u);
  ASSERT_EQ(expected[1].size(), 15u);

  for (int at : {2, 7, 12}) {
    StatefulRunner breaking;
    breaking.break_at_collect = at;
    int recoveries = 0;
    EXPECT_EQ(run_two(breaking, recoveries), expected) << "broken at collect " << at;
    EXPECT_EQ(recoveries, 1);
    EXPECT_EQ(breaking.recoveries, 1);
    EXPECT_NE(breaking.last_failure.find("connection lost"), std::string::npos);
  }
}

TEST(EngineCore, FailsEveryRequestWithTheReasonWhenTheRunnerCannotRecover) {
  StatefulRunner runner;
  runner.break_at_collect = 3;
  runner.can_recover = false;
  EngineCore engine(runner, SchedulerConfig{}, 16);
  Collected a;
  engine.submit(spec({1, 2, 3}, 50), a.sink());
  ASSERT_TRUE(a.wait());
  EXPECT_EQ(a.finish, FinishReason::kError);
  EXPECT_EQ(a.error, "the nodes left cannot hold the model");
  // Later requests fail the same way, at once; the engine keeps running.
  Collected b;
  engine.submit(spec({9}, 4), b.sink());
  ASSERT_TRUE(b.wait());
  EXPECT_EQ(b.finish, FinishReason::kError);
  EXPECT_EQ(b.error, "the nodes left cannot hold the model");
  EXPECT_EQ(engine.stats().recoveries, 0);
}

}  // namespace
}  // namespace tandem
