#pragma once
// One text generation as the serving layer runs it: prompt tokens in, a stream of
// parsed text deltas out (content, reasoning, tool calls), ended by a finish reason.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "model/sampler.h"
#include "serving/output_parser.h"
#include "serving/scheduler.h"

namespace tandem {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  int32_t max_new_tokens = 256;
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings
  bool ignore_eos = false;        // generate exactly max_new_tokens (benchmarks)
  OutputParserOptions parse;
};

struct GenerationEvent {
  ParsedDelta delta;
  FinishReason finish = FinishReason::kNone;  // set on the last event
  std::string error;                          // with kError: what went wrong
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  double seconds_to_first_token = 0;  // set on the last event
};

// Events of one generation, produced on the engine thread and consumed by a front-end
// thread. Dropping the consumer's handle does not stop the generation; cancel() does.
class GenerationStream {
 public:
  using Clock = std::chrono::steady_clock;

  // Waits for the next event until `deadline`; nullopt on timeout.
  std::optional<GenerationEvent> next(Clock::time_point deadline);
  void cancel();

 private:
  friend class CompletionService;
  void push(GenerationEvent event);
  // Installs what cancel() does; runs it at once when cancel() came first.
  void set_cancel(std::function<void()> cancel);

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<GenerationEvent> events_;
  std::function<void()> cancel_;
  bool cancel_requested_ = false;
};

}  // namespace tandem
