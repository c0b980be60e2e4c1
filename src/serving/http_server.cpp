#include "serving/http_server.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "platform/error.h"
#include "serving/connection_probe.h"

namespace tandem {
namespace {

using Clock = GenerationStream::Clock;

// How long a waiting handler sleeps between checks for shutdown and for a client that
// hung up, and how long a stream may stay silent (a long prefill) before a comment line
// probes whether the client is still there (when its socket could not be found).
constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr auto kHeartbeatAfter = std::chrono::seconds(1);
constexpr size_t kMaxBodyBytes = size_t{32} << 20;

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ApiFinishReason api_finish(FinishReason finish, bool saw_tool_calls) {
  if (finish == FinishReason::kLength) return ApiFinishReason::kLength;
  return saw_tool_calls ? ApiFinishReason::kToolCalls : ApiFinishReason::kStop;
}

// A generation that ended in kError: the model could not run it (a cluster that lost
// its nodes says so in the event); the client may retry later.
ApiError generation_error(const GenerationEvent& event) {
  return ApiError(ApiErrorKind::kUnavailable,
                  event.error.empty() ? std::string("the generation failed")
                                      : str_cat("the generation failed: ", event.error));
}

// Everything one streamed response keeps between provider calls.
struct StreamState {
  std::shared_ptr<GenerationStream> stream;
  std::unique_ptr<ConnectionProbe> probe;
  ResponseMeta meta;
  ApiEndpoint endpoint = ApiEndpoint::kChatCompletions;
  bool include_usage = false;
  bool finished = false;
  int tool_calls_sent = 0;
};

std::vector<ToolCall> to_api_calls(const std::vector<ParsedToolCall>& parsed,
                                   const std::string& id_prefix, int first_index) {
  std::vector<ToolCall> calls;
  calls.reserve(parsed.size());
  for (size_t i = 0; i < parsed.size(); ++i) {
    calls.push_back({str_cat(id_prefix, "-call-", first_index + static_cast<int>(i)),
                     parsed[i].name, parsed[i].arguments});
  }
  return calls;
}

// Generated text need not be valid UTF-8; bad bytes become U+FFFD rather than an error.
std::string json_text(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

bool send(httplib::DataSink& sink, const std::string& bytes) {
  return sink.write(bytes.data(), bytes.size());
}

}  // namespace

HttpServer::HttpServer(ServedModel model, HttpServerOptions options)
    : model_(std::move(model)),
      options_(std::move(options)),
      server_(std::make_unique<httplib::Server>()),
      created_(unix_seconds()),
      random_(std::random_device{}()) {
  parse_options_.models = {model_.name};
  add_routes();
}

HttpServer::~HttpServer() { stop(); }

uint64_t HttpServer::random_seed() {
  std::lock_guard lock(random_mutex_);
  return random_();
}

std::string HttpServer::response_id(ApiEndpoint endpoint) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = endpoint == ApiEndpoint::kChatCompletions ? "chatcmpl-" : "cmpl-";
  const uint64_t a = random_seed();
  const uint64_t b = random_seed();
  for (int i = 0; i < 16; ++i) id += kHex[(a >> (4 * i)) & 15];
  for (int i = 0; i < 8; ++i) id += kHex[(b >> (4 * i)) & 15];
  return id;
}

void HttpServer::write_error(httplib::Response& response, const std::exception& error) const {
  const HttpError http = to_http_error(error);
  response.status = http.status;
  for (const auto& [name, value] : http.headers) response.set_header(name, value);
  response.set_content(json_text(http.body), "application/json");
}

void HttpServer::add_routes() {
  httplib::Server& server = *server_;
  server.set_payload_max_length(kMaxBodyBytes);
  // Idle keep-alive connections hold a worker thread: let them go soon.
  server.set_keep_alive_timeout(2);
  const size_t threads = options_.threads;
  // httplib owns the queue it gets from this factory.
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  server.set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        if (request.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
        try {
          check_authorization(request.get_header_value("Authorization"), options_.api_key);
        } catch (const std::exception& e) {
          write_error(response, e);
          return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  server.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& response, std::exception_ptr error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          write_error(response, e);
        } catch (...) {
          write_error(response, ApiError(ApiErrorKind::kInternal, "unknown failure"));
        }
      });
  // Failures httplib finds itself (no route, a malformed request line) come without a
  // body; ours always have one.
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& request, httplib::Response& response) {
        if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const int status = response.status;
        if (status == 404) {
          write_error(response,
                      ApiError(ApiErrorKind::kNotFound,
                               str_cat("no route for ", request.method, " ", request.path)));
        } else {
          write_error(response, ApiError(ApiErrorKind::kInvalidRequest,
                                         str_cat("malformed request (HTTP ", status, ")")));
          response.status = status;
        }
        return httplib::Server::HandlerResponse::Handled;
      }));

  server.Get("/health", [this](const httplib::Request&, httplib::Response& response) {
    const std::string problem = model_.unavailable ? model_.unavailable() : std::string();
    if (problem.empty()) {
      response.set_content(R"({"status":"ok"})", "application/json");
      return;
    }
    response.status = 503;
    response.set_content(json_text({{"status", "unavailable"}, {"error", problem}}),
                         "application/json");
  });
  server.Get("/v1/models", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(json_text(model_list_json({model_.name}, created_)), "application/json");
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    const ServerMetrics::Gauges gauges = model_.gauges ? model_.gauges() : ServerMetrics::Gauges{};
    response.set_content(model_.service.metrics().render(gauges), "text/plain; version=0.0.4");
  });
  server.Post("/v1/chat/completions",
              [this](const httplib::Request& request, httplib::Response& response) {
                handle_completion(ApiEndpoint::kChatCompletions, request, response);
              });
  server.Post("/v1/completions",
              [this](const httplib::Request& request, httplib::Response& response) {
                handle_completion(ApiEndpoint::kCompletions, request, response);
              });
}

void HttpServer::handle_completion(ApiEndpoint endpoint, const httplib::Request& http_request,
                                   httplib::Response& response) {
  std::shared_ptr<GenerationStream> stream;
  CompletionRequest request;
  try {
    request = parse_request(endpoint, http_request.body, parse_options_);
    const GenerationRequest generation = build_generation(request, model_.prompts, random_seed());
    stream = model_.service.start(generation);
  } catch (const std::exception& e) {
    write_error(response, e);
    return;
  }
  ResponseMeta meta{response_id(endpoint), unix_seconds(), model_.name};
  const bool chat = endpoint == ApiEndpoint::kChatCompletions;

  auto probe =
      std::make_unique<ConnectionProbe>(http_request.local_addr, http_request.local_port,
                                        http_request.remote_addr, http_request.remote_port);
  if (!request.stream) {
    ChatOutput output;
    GenerationEvent last;
    bool client_gone = false;
    while (true) {
      if (stopping_) stream->cancel();
      if (!client_gone && probe->closed()) {
        // Nobody will read the answer: free the slot now, then wait for the engine's
        // final (aborted) event so that the stream is not dropped mid-flight.
        client_gone = true;
        stream->cancel();
        std::fprintf(stderr, "tandem serve: %s cancelled: client disconnected\n", meta.id.c_str());
      }
      std::optional<GenerationEvent> event = stream->next(Clock::now() + kPollInterval);
      if (!event) continue;
      output.content += event->delta.content;
      output.reasoning += event->delta.reasoning;
      const auto calls = to_api_calls(event->delta.tool_calls, meta.id,
                                      static_cast<int>(output.tool_calls.size()));
      output.tool_calls.insert(output.tool_calls.end(), calls.begin(), calls.end());
      if (event->finish != FinishReason::kNone) {
        last = std::move(*event);
        break;
      }
    }
    if (client_gone) {
      write_error(response, ApiError(ApiErrorKind::kInvalidRequest, "the client disconnected"));
      return;
    }
    if (last.finish == FinishReason::kError) {
      write_error(response, generation_error(last));
      return;
    }
    const Usage usage{last.prompt_tokens, last.completion_tokens};
    const ApiFinishReason finish = api_finish(last.finish, !output.tool_calls.empty());
    if (chat) {
      output.finish = finish;
      response.set_content(json_text(chat_completion_json(meta, output, usage)),
                           "application/json");
    } else {
      response.set_content(json_text(text_completion_json(meta, output.content, finish, usage)),
                           "application/json");
    }
    return;
  }

  auto state = std::make_shared<StreamState>();
  state->stream = stream;
  state->probe = std::move(probe);
  state->meta = meta;
  state->endpoint = endpoint;
  state->include_usage = request.include_usage;
  auto provider = [this, state](size_t, httplib::DataSink& sink) {
    const bool chat_stream = state->endpoint == ApiEndpoint::kChatCompletions;
    const bool usage_field = state->include_usage;
    if (chat_stream) {
      ChatDelta role;
      role.role = true;
      if (!send(sink, sse_event(chat_chunk_json(state->meta, role, std::nullopt, usage_field)))) {
        return false;
      }
    }
    auto last_write = Clock::now();
    bool saw_tool_calls = false;
    while (true) {
      if (stopping_) state->stream->cancel();
      if (state->probe->closed()) return false;
      std::optional<GenerationEvent> event = state->stream->next(Clock::now() + kPollInterval);
      if (!event) {
        // A client that left is only noticed by writing to it.
        if (Clock::now() - last_write >= kHeartbeatAfter) {
          if (!sink.is_writable() || !send(sink, ": keep-alive\n\n")) return false;
          last_write = Clock::now();
        }
        continue;
      }
      const ParsedDelta& delta = event->delta;
      if (!delta.empty()) {
        std::string chunk;
        if (chat_stream) {
          ChatDelta out;
          out.content = delta.content;
          out.reasoning = delta.reasoning;
          out.first_tool_index = state->tool_calls_sent;
          out.tool_calls = to_api_calls(delta.tool_calls, state->meta.id, state->tool_calls_sent);
          state->tool_calls_sent += static_cast<int>(out.tool_calls.size());
          saw_tool_calls = saw_tool_calls || !out.tool_calls.empty();
          chunk = sse_event(chat_chunk_json(state->meta, out, std::nullopt, usage_field));
        } else {
          chunk = sse_event(text_chunk_json(state->meta, delta.content, std::nullopt, usage_field));
        }
        if (!send(sink, chunk)) return false;
        last_write = Clock::now();
      }
      if (event->finish == FinishReason::kNone) continue;

      state->finished = true;
      std::string tail;
      if (event->finish == FinishReason::kError) {
        tail += sse_event(to_http_error(generation_error(*event)).body);
      } else {
        const ApiFinishReason finish = api_finish(event->finish, saw_tool_calls);
        tail +=
            sse_event(chat_stream ? chat_chunk_json(state->meta, ChatDelta{}, finish, usage_field)
                                  : text_chunk_json(state->meta, "", finish, usage_field));
        if (usage_field) {
          tail += sse_event(usage_chunk_json(state->meta, state->endpoint,
                                             {event->prompt_tokens, event->completion_tokens}));
        }
      }
      tail += sse_done();
      if (!send(sink, tail)) return false;
      sink.done();
      return true;
    }
  };
  // Runs when the response ends for any reason; a stream that did not finish lost its
  // client (or the server is stopping): end its generation now.
  auto release = [state](bool) {
    if (state->finished) return;
    state->stream->cancel();
    std::fprintf(stderr, "tandem serve: %s cancelled: client disconnected\n",
                 state->meta.id.c_str());
  };
  response.set_header("Cache-Control", "no-cache");
  response.set_chunked_content_provider("text/event-stream", provider, release);
}

int HttpServer::bind() {
  const int port = options_.port == 0
                       ? server_->bind_to_any_port(options_.host)
                       : (server_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port < 0) {
    throw Error(str_cat("cannot listen on ", options_.host, ":", options_.port,
                        " (address in use or not available)"));
  }
  return port;
}

void HttpServer::run() {
  listening_ = true;
  const bool clean = stopping_ || server_->listen_after_bind();
  listening_ = false;
  if (!clean && !stopping_) throw Error("the HTTP server stopped listening");
}

void HttpServer::stop() {
  stopping_ = true;
  // httplib's stop() does nothing until its accept loop has started, so a stop that
  // comes right after bind() (a signal at start-up) is repeated until run() returns.
  server_->stop();
  while (listening_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    server_->stop();
  }
}

}  // namespace tandem
