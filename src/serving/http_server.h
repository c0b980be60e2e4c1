#pragma once
// The OpenAI-compatible HTTP front end (cpp-httplib):
//
//   POST /v1/chat/completions   chat, streamed as SSE or not
//   POST /v1/completions        plain text completion, streamed or not
//   GET  /v1/models             the one served model
//   GET  /health                {"status": "ok"}, or 503 with why the model cannot
//                               run now (a cluster with no nodes left); never needs the key
//   GET  /metrics               Prometheus text, with the engine's gauges
//
// Bodies are parsed and errors mapped by openai_api.h; this file only moves bytes.
// A streaming client that goes away cancels its generation at once.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "serving/completion_service.h"
#include "serving/metrics.h"
#include "serving/openai_api.h"
#include "serving/request_builder.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace tandem {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0: any free port (see bound_port())
  std::string api_key;  // empty: no key needed
  size_t threads = 8;   // connections served at once (streams hold one each)
};

// What the server serves: the model's name, prompt building and the engine.
struct ServedModel {
  std::string name;
  PromptContext prompts;
  CompletionService& service;
  std::function<ServerMetrics::Gauges()> gauges;
  // Why the model cannot run now ("" while it can): /health then answers 503 with it.
  std::function<std::string()> unavailable = {};
};

class HttpServer {
 public:
  HttpServer(ServedModel model, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket; throws Error when it cannot. Returns the port.
  int bind();
  // Serves until stop(); call after bind().
  void run();
  // Ends run() and the streams in flight (their generations are cancelled). Any thread.
  void stop();

 private:
  void add_routes();
  void handle_completion(ApiEndpoint endpoint, const httplib::Request& request,
                         httplib::Response& response);
  // The one place a failure becomes a response (through to_http_error).
  void write_error(httplib::Response& response, const std::exception& error) const;
  uint64_t random_seed();
  std::string response_id(ApiEndpoint endpoint);

  ServedModel model_;
  HttpServerOptions options_;
  ParseOptions parse_options_;
  std::unique_ptr<httplib::Server> server_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> listening_{false};  // run() is inside httplib's accept loop
  int64_t created_ = 0;                 // Unix seconds at start, for /v1/models
  std::mutex random_mutex_;
  std::mt19937_64 random_;
};

}  // namespace tandem
