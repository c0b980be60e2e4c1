#include "serving/engine_core.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>

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

struct Collected {
  std::mutex mutex;
  std::condition_variable done_cv;
  std::vector<int32_t> tokens;
  FinishReason finish = FinishReason::kNone;
  EngineCore::TokenSink sink() {
    return [this](const RequestUpdate& u) {
      std::lock_guard lock(mutex);
      if (u.token) tokens.push_back(*u.token);
      if (u.finish != FinishReason::kNone) {
        finish = u.finish;
        done_cv.notify_all();
      }
    };
  }
  bool wait(int ms = 5000) {
    std::unique_lock lock(mutex);
    return done_cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return finish != FinishReason::kNone; });
  }
};

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

}  // namespace
}  // namespace tandem
