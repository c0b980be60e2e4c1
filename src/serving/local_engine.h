#pragma once
// Everything that serves one model on this machine, built in dependency order:
//
//   ModelFile -> Model (on a ThreadPool) -> LocalModelRunner -> EngineCore (its own
//   thread) -> CompletionService, beside the Tokenizer and ChatTemplate of the file.
//
// With a runner factory (a pipeline over cluster nodes) the file is read only for its
// config, tokenizer and chat template: no weights are loaded and no layer runs here.
//
// `tandem serve` puts an HTTP front end on it, `tandem run` a terminal one.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gguf/model_file.h"
#include "model/model.h"
#include "model/model_config.h"
#include "platform/thread_pool.h"
#include "serving/completion_service.h"
#include "serving/engine_core.h"
#include "serving/local_runner.h"
#include "serving/metrics.h"
#include "serving/model_runner.h"
#include "serving/request_builder.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace tandem {

// Builds the runner the engine drives instead of a LocalModelRunner over the model
// loaded here, for `context_length` positions per sequence and `parallel` sequences.
using RunnerFactory =
    std::function<std::unique_ptr<ModelRunner>(int32_t context_length, int32_t parallel)>;

struct LocalEngineOptions {
  size_t threads = 0;          // compute threads; 0: every core
  int32_t context_length = 0;  // positions per sequence; 0: the model's
  int32_t parallel = 4;        // sequences decoded at once
  int32_t kv_blocks = 0;       // KV budget in blocks of 16 positions; 0: parallel full contexts
  size_t max_queued = 64;      // requests waiting beyond that are refused (QueueFullError)
  // Tokens per step. Small prefill chunks keep running decodes going during a long
  // prompt and spread the first tokens of prompts that arrive together over many steps,
  // so that closed-loop clients fall out of lockstep (see Scheduler).
  int32_t max_step_tokens = 64;
  RunnerFactory runner_factory;  // empty: the model runs on this machine
  // Compute on the file mapping instead of a copy of the weights in memory of the
  // process's own (huge pages; see ModelFile::copy_tensors_to_memory).
  bool mmap = false;
  // Element type of the KV cache (a cluster runner passes it to its stages).
  KvType kv_type = KvType::kF32;
};

class LocalEngine {
 public:
  // Throws Error for a missing or unsupported model file and for bad options.
  LocalEngine(const std::string& model_path, const LocalEngineOptions& options);
  ~LocalEngine();
  LocalEngine(const LocalEngine&) = delete;
  LocalEngine& operator=(const LocalEngine&) = delete;

  CompletionService& service() { return *service_; }
  EngineCore& engine() { return *engine_; }
  ServerMetrics& metrics() { return metrics_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ChatTemplate& chat_template() const { return *chat_template_; }
  const ModelConfig& config() const { return config_; }
  int32_t context_length() const { return context_length_; }
  // The name clients use: the file name without directory and ".gguf".
  const std::string& model_name() const { return model_name_; }
  PromptContext prompt_context() const { return {*tokenizer_, *chat_template_, context_length_}; }
  // Why the model cannot run now ("" while it can): a cluster with no nodes left.
  std::string unavailable() const { return runner_->unavailable(); }
  // Engine gauges for ServerMetrics::render.
  ServerMetrics::Gauges gauges() const;

 private:
  std::unique_ptr<ModelFile> file_;
  ModelConfig config_;
  std::unique_ptr<ThreadPool> pool_;  // pool_ and model_ stay empty with a runner factory
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ChatTemplate> chat_template_;
  int32_t context_length_ = 0;
  std::string model_name_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<EngineCore> engine_;  // stopped before the runner and model go
  ServerMetrics metrics_;
  std::unique_ptr<CompletionService> service_;
};

}  // namespace tandem
