#include "serving/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <numeric>

#include "platform/error.h"

namespace tandem {
namespace {

std::vector<int32_t> iota_tokens(int32_t n, int32_t start = 0) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  std::iota(out.begin(), out.end(), start);
  return out;
}

// Runs a plan as a model runner would: every entry that asks for a sample gets token
// 1000 + request id; also checks the plan's positions against a per-slot cache model.
struct FakeRunner {
  std::map<int32_t, std::vector<int32_t>> slot_cache;

  StepResult run(const StepPlan& plan) {
    for (int32_t s : plan.cleared_slots) slot_cache[s].clear();
    StepResult result{plan.step_id, {}};
    for (const StepEntry& e : plan.entries) {
      auto& cache = slot_cache[e.slot];
      EXPECT_LE(e.keep_positions, static_cast<int32_t>(cache.size()));
      cache.resize(static_cast<size_t>(e.keep_positions));
      EXPECT_EQ(e.first_position, static_cast<int32_t>(cache.size()));
      cache.insert(cache.end(), e.tokens.begin(), e.tokens.end());
      if (e.sample)
        result.sampled.push_back({e.request_id, static_cast<int32_t>(1000 + e.request_id)});
    }
    return result;
  }
};

TEST(Scheduler, MixesDecodeWithChunkedPrefill) {
  SchedulerConfig config;
  config.max_step_tokens = 64;
  Scheduler scheduler(config);
  FakeRunner runner;
  scheduler.add({1, iota_tokens(10), 4, {}, {}});
  StepPlan first = scheduler.schedule();
  ASSERT_EQ(first.entries.size(), 1u);
  EXPECT_EQ(first.entries[0].tokens.size(), 10u);
  EXPECT_TRUE(first.entries[0].sample);
  scheduler.update(runner.run(first));

  // A long prompt arrives: the step holds request 1's decode token and a 63-token chunk.
  scheduler.add({2, iota_tokens(200, 5000), 4, {}, {}});
  StepPlan second = scheduler.schedule();
  ASSERT_EQ(second.entries.size(), 2u);
  EXPECT_EQ(second.entries[0].request_id, 1u);
  EXPECT_EQ(second.entries[0].tokens, std::vector<int32_t>{1001});
  EXPECT_EQ(second.entries[1].tokens.size(), 63u);
  EXPECT_FALSE(second.entries[1].sample);
  EXPECT_EQ(second.token_count(), 64);
  auto updates = scheduler.update(runner.run(second));
  ASSERT_EQ(updates.size(), 1u);  // only request 1 sampled
  EXPECT_EQ(updates[0].id, 1u);
}

// Prompts that arrive together prefill first come, first served: the older prompt takes
// the step budget left after the decode tokens until it is done, and the newer one gets
// only what remains. Their first tokens come several steps apart, so their answers end
// apart too and the clients do not arrive in lockstep again.
TEST(Scheduler, PrefillsPromptsFirstComeFirstServed) {
  SchedulerConfig config;
  config.max_step_tokens = 64;
  Scheduler scheduler(config);
  FakeRunner runner;
  scheduler.add({1, iota_tokens(10), 40, {}, {}});
  scheduler.update(runner.run(scheduler.schedule()));  // request 1 decodes from now on
  scheduler.add({2, iota_tokens(150, 2000), 4, {}, {}});
  scheduler.add({3, iota_tokens(150, 4000), 4, {}, {}});
  std::map<uint64_t, int> first_token_step;
  for (int step = 0; step < 8; ++step) {
    const StepPlan plan = scheduler.schedule();
    EXPECT_LE(plan.token_count(), 64);
    ASSERT_FALSE(plan.entries.empty());
    EXPECT_EQ(plan.entries[0].request_id, 1u);  // the decode never waits for a prefill
    EXPECT_EQ(plan.entries[0].tokens.size(), 1u);
    int32_t tokens_of_3 = 0;
    for (const StepEntry& e : plan.entries) {
      if (e.request_id == 3) tokens_of_3 += static_cast<int32_t>(e.tokens.size());
    }
    // Request 2's 150 prompt tokens go 63, 63, 24 (then it decodes); request 3 gets
    // the rest of step 2, then what the two decode tokens leave, then decodes.
    constexpr int32_t kExpected[] = {0, 0, 39, 62, 49, 1, 1, 1};
    EXPECT_EQ(tokens_of_3, kExpected[step]) << "step " << step;
    for (const RequestUpdate& u : scheduler.update(runner.run(plan))) {
      if (u.id != 1 && first_token_step.count(u.id) == 0) first_token_step[u.id] = step;
    }
  }
  EXPECT_EQ(first_token_step[2], 2);
  EXPECT_EQ(first_token_step[3], 4);
}

TEST(Scheduler, FinishesAtLengthAndStopToken) {
  Scheduler scheduler(SchedulerConfig{});
  FakeRunner runner;
  scheduler.add({1, iota_tokens(3), 3, {}, {}});
  scheduler.add({2, iota_tokens(3), 10, {1002}, {}});
  std::map<uint64_t, int> tokens;
  std::map<uint64_t, FinishReason> finish;
  for (int step = 0; step < 10 && scheduler.running() + scheduler.waiting() > 0; ++step) {
    for (const auto& u : scheduler.update(runner.run(scheduler.schedule()))) {
      if (u.token) ++tokens[u.id];
      if (u.finish != FinishReason::kNone) finish[u.id] = u.finish;
    }
  }
  EXPECT_EQ(tokens[1], 3);
  EXPECT_EQ(finish[1], FinishReason::kLength);
  EXPECT_EQ(tokens[2], 1);
  EXPECT_EQ(finish[2], FinishReason::kStop);
}

TEST(Scheduler, ReusesACachedPrefix) {
  Scheduler scheduler(SchedulerConfig{});
  FakeRunner runner;
  std::vector<int32_t> system = iota_tokens(40);
  std::vector<int32_t> first = system, second = system;
  first.push_back(7);
  second.push_back(9);
  scheduler.add({1, first, 1, {}, {}});
  scheduler.update(runner.run(scheduler.schedule()));
  ASSERT_EQ(scheduler.running(), 0u);
  scheduler.add({2, second, 1, {}, {}});
  StepPlan plan = scheduler.schedule();
  ASSERT_EQ(plan.entries.size(), 1u);
  EXPECT_EQ(plan.entries[0].keep_positions, 40);
  EXPECT_EQ(plan.entries[0].tokens, std::vector<int32_t>{9});
  EXPECT_EQ(scheduler.cached_prefix_hits(), 1);
  scheduler.update(runner.run(plan));
}

TEST(Scheduler, RecurrentModelsReuseOnlyWholeCaches) {
  SchedulerConfig config;
  config.recurrent_state = true;
  config.slots = 1;
  Scheduler scheduler(config);
  FakeRunner runner;
  scheduler.add({1, iota_tokens(20), 1, {}, {}});
  scheduler.update(runner.run(scheduler.schedule()));
  std::vector<int32_t> diverging = iota_tokens(10);
  diverging.push_back(99);
  scheduler.add({2, diverging, 1, {}, {}});
  StepPlan plan = scheduler.schedule();
  ASSERT_EQ(plan.entries.size(), 1u);
  EXPECT_EQ(plan.entries[0].keep_positions, 0);
}

TEST(Scheduler, PreemptsWithoutLosingARequest) {
  SchedulerConfig config;
  config.kv_block_tokens = 4;
  config.kv_blocks = 8;  // 32 positions in all
  config.slots = 2;
  Scheduler scheduler(config);
  FakeRunner runner;
  scheduler.add({1, iota_tokens(12), 12, {}, {}});
  scheduler.add({2, iota_tokens(12, 100), 12, {}, {}});
  std::map<uint64_t, int> tokens;
  std::map<uint64_t, FinishReason> finish;
  for (int step = 0; step < 200 && finish.size() < 2; ++step) {
    StepPlan plan = scheduler.schedule();
    ASSERT_FALSE(plan.entries.empty()) << "stalled at step " << step;
    for (const auto& u : scheduler.update(runner.run(plan))) {
      if (u.token) ++tokens[u.id];
      if (u.finish != FinishReason::kNone) finish[u.id] = u.finish;
    }
  }
  EXPECT_EQ(tokens[1], 12);
  EXPECT_EQ(tokens[2], 12);
  EXPECT_GT(scheduler.preemptions(), 0);
  EXPECT_LE(config.kv_blocks - scheduler.free_blocks(), config.kv_blocks);
}

TEST(Scheduler, RestartAllRecomputesEveryRequestFromItsTokens) {
  SchedulerConfig config;
  config.kv_block_tokens = 4;
  Scheduler scheduler(config);
  FakeRunner runner;
  scheduler.add({1, iota_tokens(6), 10, {}, {}});
  scheduler.add({2, iota_tokens(3, 100), 10, {}, {}});
  for (int step = 0; step < 3; ++step) scheduler.update(runner.run(scheduler.schedule()));
  const StepPlan lost = scheduler.schedule();  // in flight when the runner breaks
  ASSERT_EQ(lost.entries.size(), 2u);
  scheduler.add({3, iota_tokens(2, 200), 10, {}, {}});  // still waiting

  EXPECT_EQ(scheduler.restart_all(), 2u);
  EXPECT_EQ(scheduler.running(), 0u);
  EXPECT_EQ(scheduler.waiting(), 3u);
  EXPECT_EQ(scheduler.free_blocks(), config.kv_blocks);
  // Each request runs again from position 0: its prompt plus the 3 tokens generated,
  // oldest first, and samples only after all of them.
  const StepPlan again = scheduler.schedule();
  ASSERT_EQ(again.entries.size(), 3u);
  EXPECT_EQ(again.entries[0].request_id, 1u);
  EXPECT_EQ(again.entries[0].keep_positions, 0);
  EXPECT_EQ(again.entries[0].tokens.size(), 6u + 3u);
  EXPECT_EQ(again.entries[1].request_id, 2u);
  EXPECT_EQ(again.entries[1].tokens.size(), 3u + 3u);
  EXPECT_EQ(again.entries[2].request_id, 3u);
  for (const StepEntry& e : again.entries) EXPECT_TRUE(e.sample);
  EXPECT_NE(again.step_id, lost.step_id);
  // The result of the lost step is unknown now; the new one counts.
  int tokens = 0;
  for (const auto& u : scheduler.update(runner.run(again))) tokens += u.token.has_value();
  EXPECT_EQ(tokens, 3);
}

TEST(Scheduler, AbortFreesTheSlot) {
  SchedulerConfig config;
  config.slots = 1;
  Scheduler scheduler(config);
  FakeRunner runner;
  scheduler.add({1, iota_tokens(5), 100, {}, {}});
  scheduler.update(runner.run(scheduler.schedule()));
  scheduler.add({2, iota_tokens(5, 50), 1, {}, {}});
  StepPlan plan = scheduler.schedule();
  ASSERT_EQ(plan.entries.size(), 1u);  // only request 1: one slot
  scheduler.abort(1);                  // in flight: released when the step returns
  scheduler.update(runner.run(plan));
  plan = scheduler.schedule();
  ASSERT_EQ(plan.entries.size(), 1u);
  EXPECT_EQ(plan.entries[0].request_id, 2u);
}

TEST(Scheduler, RefusesWhatCanNeverFit) {
  SchedulerConfig config;
  config.context_length = 64;
  Scheduler scheduler(config);
  EXPECT_THROW(scheduler.add({1, iota_tokens(60), 10, {}, {}}), Error);
  EXPECT_THROW(scheduler.add({2, {}, 10, {}, {}}), Error);
  EXPECT_THROW(scheduler.add({3, iota_tokens(4), 0, {}, {}}), Error);
}

}  // namespace
}  // namespace tandem
