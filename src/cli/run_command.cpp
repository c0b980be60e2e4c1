// `tandem run MODEL [-p PROMPT] [-n N] [--temp T] [--seed S] [-t THREADS] [--raw] [--ctx N]
// [--join HOST:PORT --secret-file F [--split a,b]]`: generates on this machine (or split
// over a cluster's nodes with --join) through the serving path (engine, runner,
// completion service) and streams the answer to stdout. Without -p it is a multi-turn chat that
// reads one user message per line of stdin. Reasoning goes to stderr, as do the
// prompt and generation speeds at the end of each answer.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli/cluster_engine.h"
#include "cli/commands.h"
#include "platform/error.h"
#include "serving/local_engine.h"
#include "serving/request_builder.h"

namespace tandem::cli {
namespace {

struct RunArgs {
  std::string model_path;
  std::optional<std::string> prompt;
  int32_t max_tokens = 512;
  float temperature = 0.8f;
  std::optional<uint64_t> seed;
  size_t threads = 0;
  bool raw = false;
  int32_t context_length = 0;
  ClusterArgs cluster;
};

ChatMessage message(std::string role, std::string content) {
  ChatMessage out;
  out.role = std::move(role);
  out.content = std::move(content);
  return out;
}

struct Answer {
  std::string content;
  std::string reasoning;
};

// Runs one generation, printing as it streams. Throws ApiError / Error for a request
// that cannot run.
Answer generate(LocalEngine& engine, const CompletionRequest& request, uint64_t seed) {
  using Clock = GenerationStream::Clock;
  const GenerationRequest generation = build_generation(request, engine.prompt_context(), seed);
  const auto start = Clock::now();
  const std::shared_ptr<GenerationStream> stream = engine.service().start(generation);
  Answer answer;
  bool in_reasoning = false;
  while (true) {
    std::optional<GenerationEvent> event = stream->next(Clock::now() + std::chrono::seconds(1));
    if (!event) continue;
    if (!event->delta.reasoning.empty()) {
      if (!in_reasoning) std::fputs("[reasoning] ", stderr);
      in_reasoning = true;
      std::fputs(event->delta.reasoning.c_str(), stderr);
      answer.reasoning += event->delta.reasoning;
    }
    if (!event->delta.content.empty()) {
      if (in_reasoning) std::fputs("\n", stderr);
      in_reasoning = false;
      std::fputs(event->delta.content.c_str(), stdout);
      std::fflush(stdout);
      answer.content += event->delta.content;
    }
    if (event->finish == FinishReason::kNone) continue;
    if (event->finish == FinishReason::kError) throw Error("the generation failed");
    const double total = std::chrono::duration<double>(Clock::now() - start).count();
    const double prefill = event->seconds_to_first_token;
    const int32_t decoded = event->completion_tokens - 1;  // the first token ends the prefill
    std::fputs("\n", stdout);
    std::fflush(stdout);
    std::fprintf(stderr, "[prompt: %d tokens, %.1f tok/s | generation: %d tokens, %.1f tok/s]\n",
                 event->prompt_tokens, prefill > 0 ? event->prompt_tokens / prefill : 0.0,
                 event->completion_tokens,
                 decoded > 0 && total > prefill ? decoded / (total - prefill) : 0.0);
    return answer;
  }
}

CompletionRequest base_request(const RunArgs& args, const LocalEngine& engine) {
  CompletionRequest request;
  request.endpoint = args.raw ? ApiEndpoint::kCompletions : ApiEndpoint::kChatCompletions;
  request.model = engine.model_name();
  request.sampling.temperature = args.temperature;
  if (args.seed) {
    request.sampling.seed = *args.seed;
    request.seed_given = true;
  }
  if (args.max_tokens > 0) request.max_tokens = args.max_tokens;
  return request;
}

void run_run(const RunArgs& args) {
  LocalEngineOptions options;
  options.threads = args.threads;
  options.context_length = args.context_length;
  options.parallel = 1;
  apply_cluster_args(args.cluster, args.model_path, options);
  LocalEngine engine(args.model_path, options);
  std::mt19937_64 random(std::random_device{}());

  if (args.prompt) {
    CompletionRequest request = base_request(args, engine);
    if (args.raw) {
      request.prompt = *args.prompt;
    } else {
      request.messages.push_back(message("user", *args.prompt));
    }
    generate(engine, request, random());
    return;
  }

  // Interactive: one user message per line; the conversation grows turn by turn.
  const bool terminal = isatty(STDIN_FILENO) != 0;
  std::vector<ChatMessage> history;
  std::string raw_context;
  std::string line;
  while (true) {
    if (terminal) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    CompletionRequest request = base_request(args, engine);
    if (args.raw) {
      request.prompt = raw_context + line;
    } else {
      request.messages = history;
      request.messages.push_back(message("user", line));
    }
    try {
      const Answer answer = generate(engine, request, random());
      if (args.raw) {
        raw_context = request.prompt + answer.content;
      } else {
        history = std::move(request.messages);
        history.push_back(message("assistant", answer.content));
      }
    } catch (const Error& e) {
      // The turn is dropped; the conversation so far stays.
      std::fprintf(stderr, "tandem: error: %s\n", e.what());
    }
  }
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto* command = app.add_subcommand("run", "Generate text or chat with a GGUF model");
  auto args = std::make_shared<RunArgs>();
  command->add_option("model", args->model_path, "GGUF model file")->required();
  command->add_option("-p,--prompt", args->prompt,
                      "prompt to answer (default: chat, one message per line of stdin)");
  command->add_option("-n,--max-tokens", args->max_tokens,
                      "most tokens per answer (-1: until the context is full)");
  command->add_option("--temp", args->temperature, "sampling temperature (0: greedy)")
      ->check(CLI::Range(0.0, 100.0));
  command->add_option("--seed", args->seed, "sampling seed (default: random)");
  command->add_option("-t,--threads", args->threads, "compute threads (default: all cores)");
  command->add_flag("--raw", args->raw, "no chat template: the prompt is the model's input");
  command
      ->add_option("--ctx", args->context_length,
                   "positions per sequence (default: the model's context length)")
      ->check(CLI::NonNegativeNumber);
  add_cluster_options(*command, args->cluster);
  command->callback([args] { run_run(*args); });
}

}  // namespace tandem::cli
