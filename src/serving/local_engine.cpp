#include "serving/local_engine.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <thread>

#include "platform/error.h"

namespace tandem {
namespace {

constexpr int32_t kKvBlockTokens = 16;

}  // namespace

LocalEngine::LocalEngine(const std::string& model_path, const LocalEngineOptions& options) {
  if (options.parallel < 1)
    throw Error(str_cat("--parallel must be at least 1, not ", options.parallel));
  if (options.context_length < 0) throw Error(str_cat("--ctx must not be negative"));
  if (!std::filesystem::is_regular_file(model_path)) {
    throw Error(str_cat(model_path, ": no such model file"));
  }
  file_ = std::make_unique<ModelFile>(model_path);
  if (options.runner_factory) {
    config_ = ModelConfig::from_model(*file_);
  } else {
    const size_t threads = options.threads
                               ? options.threads
                               : std::max<size_t>(1, std::thread::hardware_concurrency());
    pool_ = std::make_unique<ThreadPool>(threads);
    if (!options.mmap) {
      file_->copy_tensors_to_memory(file_->tensor_names(), TensorLayouts::kPanels);
    }
    model_ = Model::load(*file_, ModelOptions{}, *pool_);
    config_ = model_->config();
  }
  tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_model(*file_));
  chat_template_ = std::make_unique<ChatTemplate>(ChatTemplate::from_model(*file_));

  const auto model_context = static_cast<int32_t>(
      std::min<size_t>(config_.context_length, std::numeric_limits<int32_t>::max()));
  context_length_ = options.context_length > 0 ? options.context_length : model_context;
  model_name_ = std::filesystem::path(model_path).filename().string();
  if (model_name_.size() > 5 && model_name_.ends_with(".gguf")) {
    model_name_.resize(model_name_.size() - 5);
  }

  SchedulerConfig scheduler;
  scheduler.slots = options.parallel;
  scheduler.context_length = context_length_;
  scheduler.kv_block_tokens = kKvBlockTokens;
  const int32_t blocks_per_sequence = (context_length_ + kKvBlockTokens - 1) / kKvBlockTokens;
  scheduler.kv_blocks =
      options.kv_blocks > 0 ? options.kv_blocks : blocks_per_sequence * options.parallel;
  scheduler.max_step_tokens = options.max_step_tokens;
  // Recurrent layers cannot rewind: the scheduler then reuses a slot only when the new
  // prompt extends all of it.
  scheduler.recurrent_state = config_.arch == Architecture::kQwen35Moe;

  if (options.runner_factory) {
    runner_ = options.runner_factory(context_length_, options.parallel);
    TANDEM_CHECK(runner_ != nullptr);
  } else {
    runner_ = std::make_unique<LocalModelRunner>(*model_, static_cast<size_t>(context_length_),
                                                 options.kv_type);
  }
  engine_ = std::make_unique<EngineCore>(*runner_, scheduler, options.max_queued);

  VocabularyView vocabulary;
  const Tokenizer* tokenizer = tokenizer_.get();
  vocabulary.token_bytes = [tokenizer](int32_t id) -> std::string {
    if (tokenizer->is_control(id)) return {};
    return tokenizer->token_text(id);
  };
  vocabulary.end_of_generation = tokenizer_->end_of_generation_ids();
  service_ = std::make_unique<CompletionService>(*engine_, std::move(vocabulary), metrics_);
}

LocalEngine::~LocalEngine() {
  // The engine thread calls into the runner and the service's sinks: stop it first.
  engine_.reset();
}

ServerMetrics::Gauges LocalEngine::gauges() const {
  const EngineStats stats = engine_->stats();
  ServerMetrics::Gauges gauges;
  gauges.waiting = stats.waiting;
  gauges.running = stats.running;
  gauges.kv_blocks_total = static_cast<uint64_t>(std::max(0, stats.total_kv_blocks));
  gauges.kv_blocks_used =
      static_cast<uint64_t>(std::max(0, stats.total_kv_blocks - stats.free_kv_blocks));
  gauges.prefix_cache_hits = static_cast<uint64_t>(std::max(0, stats.prefix_hits));
  gauges.preemptions = static_cast<uint64_t>(std::max(0, stats.preemptions));
  gauges.recoveries = static_cast<uint64_t>(std::max(0, stats.recoveries));
  return gauges;
}

}  // namespace tandem
