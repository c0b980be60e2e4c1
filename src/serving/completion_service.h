#pragma once
// Turns sampled token ids into streamed text for the front ends: detokenizes without
// splitting UTF-8 characters, applies stop strings, separates reasoning and tool calls,
// counts tokens and records latency metrics.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "serving/engine_core.h"
#include "serving/generation.h"
#include "serving/metrics.h"

namespace tandem {

struct VocabularyView {
  std::function<std::string(int32_t)> token_bytes;  // raw bytes of a token, "" for control tokens
  std::vector<int32_t> end_of_generation;           // eos / eot / im_end ids
};

class CompletionService {
 public:
  CompletionService(EngineCore& engine, VocabularyView vocabulary, ServerMetrics& metrics);

  // Starts a generation. Throws Error for a request that can never run and
  // QueueFullError when the server is saturated.
  std::shared_ptr<GenerationStream> start(const GenerationRequest& request);

  EngineCore& engine() { return engine_; }
  ServerMetrics& metrics() { return metrics_; }

 private:
  EngineCore& engine_;
  VocabularyView vocabulary_;
  ServerMetrics& metrics_;
};

// Holds back the bytes of an incomplete UTF-8 character; returns complete text.
class Utf8Assembler {
 public:
  std::string feed(const std::string& bytes);
  std::string finish();  // leftover bytes (invalid or cut) as they are

 private:
  std::string pending_;
};

}  // namespace tandem
