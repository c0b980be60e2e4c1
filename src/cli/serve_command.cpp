// `tandem serve MODEL [--host H] [--port P] [--api-key KEY] [--ctx N] [--parallel N]
// [-t THREADS] [--kv-blocks N] [--cache-type f16|f32] [--queue-limit N] [--step-tokens N] [--mmap]
// [--join HOST:PORT
// --secret-file F [--split a,b]]`: an OpenAI-compatible HTTP server with continuous batching over
// the model on this machine, or split over a cluster's nodes with --join. SIGINT / SIGTERM stop it
// cleanly.

#include <pthread.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "cli/cluster_engine.h"
#include "cli/commands.h"
#include "platform/error.h"
#include "serving/http_server.h"
#include "serving/local_engine.h"

namespace tandem::cli {
namespace {

struct ServeArgs {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;
  int32_t context_length = 0;
  int32_t parallel = 4;
  size_t threads = 0;
  int32_t kv_blocks = 0;
  int32_t queue_limit = 0;  // 0: 16 x parallel
  int32_t step_tokens = 0;  // 0: the engine's default
  bool mmap = false;
  std::string cache_type = "f16";
  ClusterArgs cluster;
};

// SIGINT and SIGTERM, blocked in every thread and taken by sigwait on one.
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

void run_serve(const ServeArgs& args) {
  // Block before any thread starts, so that every thread inherits the mask and only
  // the waiter below sees the signals. A vanished client must not kill the server.
  const sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  LocalEngineOptions engine_options;
  engine_options.threads = args.threads;
  engine_options.context_length = args.context_length;
  engine_options.parallel = args.parallel;
  engine_options.kv_blocks = args.kv_blocks;
  if (args.step_tokens > 0) engine_options.max_step_tokens = args.step_tokens;
  engine_options.mmap = args.mmap;
  engine_options.kv_type = parse_kv_type(args.cache_type);
  engine_options.max_queued =
      static_cast<size_t>(args.queue_limit > 0 ? args.queue_limit : args.parallel * 16);
  apply_cluster_args(args.cluster, args.model_path, engine_options);
  LocalEngine engine(args.model_path, engine_options);

  HttpServerOptions server_options;
  server_options.host = args.host;
  server_options.port = args.port;
  server_options.api_key = args.api_key;
  // Each streaming client holds a worker for its whole answer; keep spares for the
  // clients waiting in the queue, /health and /metrics.
  server_options.threads = static_cast<size_t>(args.parallel) * 2 + 8;
  const LocalEngine* engine_view = &engine;
  HttpServer server(ServedModel{engine.model_name(), engine.prompt_context(), engine.service(),
                                [engine_view] { return engine_view->gauges(); },
                                [engine_view] { return engine_view->unavailable(); }},
                    server_options);
  const int port = server.bind();

  std::thread waiter([&server, signals] {
    int signal = 0;
    sigwait(&signals, &signal);
    std::fprintf(stderr, "tandem serve: %s, stopping\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
    server.stop();
  });
  std::printf("tandem serve: %s (context %d, %d parallel) listening on http://%s:%d\n",
              engine.model_name().c_str(), engine.context_length(), args.parallel,
              args.host.c_str(), port);
  std::fflush(stdout);
  try {
    server.run();
  } catch (...) {
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    throw;
  }
  waiter.join();
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto* command = app.add_subcommand("serve", "OpenAI-compatible HTTP server for a GGUF model");
  auto args = std::make_shared<ServeArgs>();
  command->add_option("model", args->model_path, "GGUF model file")->required();
  command->add_option("--host", args->host, "address to listen on (default: loopback only)");
  command->add_option("--port", args->port, "TCP port (0: any free port)")
      ->check(CLI::Range(0, 65535));
  command->add_option("--api-key", args->api_key,
                      "require 'Authorization: Bearer KEY' on every route but /health");
  command
      ->add_option("--ctx", args->context_length,
                   "positions per sequence (default: the model's context length)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--parallel", args->parallel, "sequences decoded at once")
      ->check(CLI::Range(1, 1024));
  command->add_option("-t,--threads", args->threads, "compute threads (default: all cores)");
  command
      ->add_option("--kv-blocks", args->kv_blocks,
                   "KV budget in blocks of 16 positions (default: --parallel full contexts)")
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--queue-limit", args->queue_limit,
                   "requests running or waiting at once; more get HTTP 503 with Retry-After "
                   "(default: 16 x --parallel)")
      ->check(CLI::Range(1, 1 << 20));
  command
      ->add_option("--step-tokens", args->step_tokens,
                   "tokens per engine step: decode tokens plus prefill chunks (default: 64)")
      ->check(CLI::Range(1, 1 << 16));
  command->add_flag("--mmap", args->mmap,
                    "compute on the file mapping instead of a copy of the weights in (huge-page) "
                    "memory");
  command
      ->add_option("--cache-type", args->cache_type,
                   "KV cache element type: f16 (half the memory, llama.cpp's default) or f32 "
                   "(exact), on every stage of a cluster too")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  add_cluster_options(*command, args->cluster);
  command->callback([args] { run_serve(*args); });
}

}  // namespace tandem::cli
