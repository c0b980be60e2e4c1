#include "serving/completion_service.h"

#include <gtest/gtest.h>

#include <deque>

namespace tandem {
namespace {

// Generates a fixed script of tokens per request, one per step.
class ScriptRunner : public ModelRunner {
 public:
  explicit ScriptRunner(std::vector<int32_t> script) : script_(std::move(script)) {}
  void launch(const StepPlan& plan) override { pending_.push_back(plan); }
  StepResult collect() override {
    StepPlan plan = std::move(pending_.front());
    pending_.pop_front();
    StepResult result{plan.step_id, {}};
    for (const auto& e : plan.entries) {
      if (!e.sample) continue;
      size_t& at = position_[e.request_id];
      result.sampled.push_back({e.request_id, script_[std::min(at, script_.size() - 1)]});
      ++at;
    }
    return result;
  }

 private:
  std::vector<int32_t> script_;
  std::deque<StepPlan> pending_;
  std::map<uint64_t, size_t> position_;
};

// Token i is the text of kPieces[i]; 9 is the end-of-generation token.
const std::vector<std::string> kPieces = {"<think>", "hm",   "</think>", "\n\n",     "Hel",
                                          "lo",      " wor", "ld",       "\xe2\x82", "\xac"};
VocabularyView vocabulary() {
  return {[](int32_t id) { return id == 9 ? std::string() : kPieces[static_cast<size_t>(id)]; },
          {9}};
}

struct Outcome {
  std::string content, reasoning;
  FinishReason finish = FinishReason::kNone;
  int completion_tokens = 0;
};

Outcome drain(GenerationStream& stream) {
  Outcome out;
  while (true) {
    auto event = stream.next(GenerationStream::Clock::now() + std::chrono::seconds(5));
    if (!event) {
      ADD_FAILURE() << "timed out";
      return out;
    }
    out.content += event->delta.content;
    out.reasoning += event->delta.reasoning;
    if (event->finish != FinishReason::kNone) {
      out.finish = event->finish;
      out.completion_tokens = event->completion_tokens;
      return out;
    }
  }
}

TEST(CompletionService, StreamsParsedTextUntilEndOfGeneration) {
  ScriptRunner runner({0, 1, 2, 3, 4, 5, 6, 7, 9});
  EngineCore engine(runner, SchedulerConfig{}, 8);
  ServerMetrics metrics;
  CompletionService service(engine, vocabulary(), metrics);
  GenerationRequest request;
  request.prompt = {1, 2, 3};
  request.max_new_tokens = 50;
  const Outcome out = drain(*service.start(request));
  EXPECT_EQ(out.reasoning, "hm");
  EXPECT_EQ(out.content, "Hello world");
  EXPECT_EQ(out.finish, FinishReason::kStop);
  EXPECT_EQ(out.completion_tokens, 9);
  EXPECT_EQ(metrics.generated_tokens_total.load(), 9u);
  EXPECT_EQ(metrics.time_to_first_token.count(), 1u);
}

TEST(CompletionService, StopStringsAndLengthAndIgnoreEos) {
  ScriptRunner runner({4, 5, 6, 7, 9, 4, 5});
  EngineCore engine(runner, SchedulerConfig{}, 8);
  ServerMetrics metrics;
  CompletionService service(engine, vocabulary(), metrics);
  GenerationRequest request;
  request.prompt = {1};
  request.max_new_tokens = 50;
  request.stop = {"o w"};
  Outcome out = drain(*service.start(request));
  EXPECT_EQ(out.content, "Hell");
  EXPECT_EQ(out.finish, FinishReason::kStop);

  request.stop.clear();
  request.max_new_tokens = 3;
  out = drain(*service.start(request));
  EXPECT_EQ(out.content, "Hello wor");
  EXPECT_EQ(out.finish, FinishReason::kLength);

  request.max_new_tokens = 7;
  request.ignore_eos = true;  // runs through token 9 to exactly 7 tokens
  out = drain(*service.start(request));
  EXPECT_EQ(out.completion_tokens, 7);
  EXPECT_EQ(out.finish, FinishReason::kLength);
}

TEST(CompletionService, NeverSplitsAUtf8Character) {
  Utf8Assembler utf8;
  EXPECT_EQ(utf8.feed("a\xe2\x82"), "a");
  EXPECT_EQ(utf8.feed("\xac"), "\xe2\x82\xac");
  EXPECT_EQ(utf8.feed("\xf0\x9f"), "");
  EXPECT_EQ(utf8.finish(), "\xf0\x9f");
}

}  // namespace
}  // namespace tandem
