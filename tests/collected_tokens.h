#pragma once
// A sink for EngineCore's token updates that collects one request's tokens, its finish
// reason and error, and lets a test wait for its finish.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "serving/engine_core.h"

namespace tandem::testing {

struct CollectedTokens {
  std::mutex mutex;
  std::condition_variable done_cv;
  std::vector<int32_t> tokens;
  FinishReason finish = FinishReason::kNone;
  std::string error;

  EngineCore::TokenSink sink() {
    return [this](const RequestUpdate& update) {
      std::lock_guard lock(mutex);
      if (update.token) tokens.push_back(*update.token);
      if (update.finish != FinishReason::kNone) {
        finish = update.finish;
        error = update.error;
        done_cv.notify_all();
      }
    };
  }
  // True when the request finished within `timeout`.
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mutex);
    return done_cv.wait_for(lock, timeout, [&] { return finish != FinishReason::kNone; });
  }
};

}  // namespace tandem::testing
