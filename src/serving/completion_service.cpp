#include "serving/completion_service.h"

#include "serving/stop_matcher.h"

namespace tandem {

std::optional<GenerationEvent> GenerationStream::next(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_until(lock, deadline, [&] { return !events_.empty(); })) return std::nullopt;
  GenerationEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void GenerationStream::cancel() {
  std::function<void()> cancel;
  {
    std::lock_guard lock(mutex_);
    cancel_requested_ = true;
    cancel = cancel_;
  }
  if (cancel) cancel();
}

void GenerationStream::set_cancel(std::function<void()> cancel) {
  bool requested = false;
  {
    std::lock_guard lock(mutex_);
    cancel_ = cancel;
    requested = cancel_requested_;
  }
  if (requested) cancel();
}

void GenerationStream::push(GenerationEvent event) {
  std::lock_guard lock(mutex_);
  events_.push_back(std::move(event));
  ready_.notify_all();
}

std::string Utf8Assembler::feed(const std::string& bytes) {
  pending_ += bytes;
  // Find where the last character starts and whether it is complete.
  size_t cut = pending_.size();
  for (size_t back = 1; back <= 4 && back <= pending_.size(); ++back) {
    const auto byte = static_cast<unsigned char>(pending_[pending_.size() - back]);
    if ((byte & 0xc0) == 0x80) continue;  // continuation byte
    size_t length = 1;
    if ((byte & 0xe0) == 0xc0) {
      length = 2;
    } else if ((byte & 0xf0) == 0xe0) {
      length = 3;
    } else if ((byte & 0xf8) == 0xf0) {
      length = 4;
    }
    if (length > back) cut = pending_.size() - back;
    break;
  }
  std::string out = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return out;
}

std::string Utf8Assembler::finish() {
  std::string out;
  out.swap(pending_);
  return out;
}

CompletionService::CompletionService(EngineCore& engine, VocabularyView vocabulary,
                                     ServerMetrics& metrics)
    : engine_(engine), vocabulary_(std::move(vocabulary)), metrics_(metrics) {}

namespace {

// Per-request state on the engine thread: text assembly and latency bookkeeping.
struct Progress {
  using Clock = GenerationStream::Clock;
  Progress(const GenerationRequest& request)
      : stops(request.stop), parser(request.parse), start(Clock::now()), last_token(start) {}
  Utf8Assembler utf8;
  StopMatcher stops;
  OutputParser parser;
  Clock::time_point start;
  Clock::time_point last_token;
  double first_token_seconds = 0;
  int32_t completion_tokens = 0;
  bool stopped = false;
};

void append(ParsedDelta& to, const ParsedDelta& from) {
  to.content += from.content;
  to.reasoning += from.reasoning;
  to.tool_calls.insert(to.tool_calls.end(), from.tool_calls.begin(), from.tool_calls.end());
}

}  // namespace

std::shared_ptr<GenerationStream> CompletionService::start(const GenerationRequest& request) {
  auto stream = std::make_shared<GenerationStream>();
  auto progress = std::make_shared<Progress>(request);
  RequestSpec spec;
  spec.prompt = request.prompt;
  spec.max_new_tokens = request.max_new_tokens;
  spec.sampling = request.sampling;
  if (!request.ignore_eos) spec.stop_tokens = vocabulary_.end_of_generation;
  const auto prompt_tokens = static_cast<int32_t>(request.prompt.size());
  const std::vector<int32_t> end_ids = vocabulary_.end_of_generation;

  auto sink = [this, stream, progress, prompt_tokens, end_ids](const RequestUpdate& update) {
    GenerationEvent event;
    event.prompt_tokens = prompt_tokens;
    const auto now = Progress::Clock::now();
    if (update.token) {
      ++progress->completion_tokens;
      metrics_.generated_tokens_total.fetch_add(1, std::memory_order_relaxed);
      if (progress->completion_tokens == 1) {
        progress->first_token_seconds =
            std::chrono::duration<double>(now - progress->start).count();
        metrics_.time_to_first_token.observe(progress->first_token_seconds);
      } else {
        metrics_.inter_token_latency.observe(
            std::chrono::duration<double>(now - progress->last_token).count());
      }
      progress->last_token = now;
      const bool is_end = std::find(end_ids.begin(), end_ids.end(), *update.token) != end_ids.end();
      if (!progress->stopped && !(is_end && update.finish == FinishReason::kStop)) {
        const std::string text = progress->utf8.feed(vocabulary_.token_bytes(*update.token));
        const StopMatcher::Result kept = progress->stops.feed(text);
        append(event.delta, progress->parser.feed(kept.text));
        if (kept.stopped) {
          progress->stopped = true;
          stream->cancel();  // ends the request in the engine; finish reason stays "stop"
        }
      }
    }
    event.completion_tokens = progress->completion_tokens;
    FinishReason finish = update.finish;
    if (progress->stopped && finish == FinishReason::kAborted) finish = FinishReason::kStop;
    if (progress->stopped && finish == FinishReason::kNone) finish = FinishReason::kStop;
    if (finish != FinishReason::kNone) {
      if (!progress->stopped) {
        const StopMatcher::Result tail = progress->stops.feed(progress->utf8.finish());
        append(event.delta, progress->parser.feed(tail.text));
        append(event.delta, progress->parser.feed(progress->stops.finish()));
      }
      append(event.delta, progress->parser.finish());
      event.finish = finish;
      event.error = update.error;
      event.seconds_to_first_token = progress->first_token_seconds;
      metrics_.request_latency.observe(
          std::chrono::duration<double>(now - progress->start).count());
      if (finish == FinishReason::kError) metrics_.requests_failed.fetch_add(1);
      if (finish == FinishReason::kAborted) metrics_.requests_cancelled.fetch_add(1);
      stream->push(std::move(event));
    } else if (!event.delta.empty()) {
      stream->push(std::move(event));
    }
  };

  metrics_.requests_total.fetch_add(1);
  try {
    const uint64_t id = engine_.submit(std::move(spec), sink);
    EngineCore* engine = &engine_;
    stream->set_cancel([engine, id] { engine->cancel(id); });
  } catch (const QueueFullError&) {
    metrics_.requests_rejected.fetch_add(1);
    throw;
  }
  metrics_.prompt_tokens_total.fetch_add(static_cast<uint64_t>(prompt_tokens));
  return stream;
}

}  // namespace tandem
