#include "cli/bench/load_generator.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "cli/bench/sse_parser.h"
#include "cli/bench/synthetic_prompt.h"
#include "platform/error.h"

namespace tandem::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::unique_ptr<httplib::Client> make_client(const Endpoint& endpoint, double timeout_s) {
  auto client = std::make_unique<httplib::Client>(endpoint.origin);
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(timeout_s));
  client->set_connection_timeout(timeout);
  client->set_read_timeout(timeout);
  client->set_write_timeout(timeout);
  client->set_keep_alive(true);
  return client;
}

httplib::Headers auth_headers(const BenchOptions& options) {
  httplib::Headers headers;
  if (!options.api_key.empty()) headers.emplace("Authorization", "Bearer " + options.api_key);
  return headers;
}

std::string discover_model(const BenchOptions& options, const Endpoint& endpoint) {
  auto client = make_client(endpoint, std::min(options.timeout_s, 30.0));
  const std::string models_path =
      endpoint.path.substr(0, endpoint.path.rfind("/v1/") + 3) + "/models";
  auto result = client->Get(models_path, auth_headers(options));
  if (!result) {
    throw Error(str_cat("cannot reach ", endpoint.origin, models_path, ": ",
                        httplib::to_string(result.error()), " (give --model to skip this)"));
  }
  if (result->status != 200) {
    throw Error(str_cat("GET ", models_path, " returned HTTP ", result->status,
                        " (give --model to skip this)"));
  }
  const json body = json::parse(result->body, nullptr, false);
  if (body.is_object() && body.contains("data") && body["data"].is_array() &&
      !body["data"].empty() && body["data"][0].contains("id") &&
      body["data"][0]["id"].is_string()) {
    return body["data"][0]["id"].get<std::string>();
  }
  throw Error(str_cat("GET ", models_path, " listed no model (give --model)"));
}

// The prompt of request `seed`: text of about prompt_tokens tokens, or exactly
// prompt_tokens token ids when the options carry the model's tokenizer.
json prompt_json(const BenchOptions& options, uint64_t seed) {
  if (!options.tokenize) return synthetic_prompt(options.prompt_tokens, seed);
  // A few spare words, so that the encoded text has at least prompt_tokens tokens.
  int extra = 16;
  while (true) {
    std::vector<int32_t> tokens =
        options.tokenize(synthetic_prompt(options.prompt_tokens + extra, seed));
    if (static_cast<int>(tokens.size()) >= options.prompt_tokens) {
      tokens.resize(static_cast<size_t>(options.prompt_tokens));
      return tokens;
    }
    extra *= 2;
  }
}

std::string request_body(const BenchOptions& options, const std::string& model,
                         const json& prompt) {
  json body = json::object();
  body["model"] = model;
  if (options.chat) {
    body["messages"] = json::array({json{{"role", "user"}, {"content", prompt}}});
  } else {
    body["prompt"] = prompt;
  }
  body["max_tokens"] = options.max_tokens;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  body["ignore_eos"] = true;
  if (!options.biased_away.empty()) {
    json bias = json::object();
    for (int32_t id : options.biased_away) bias[std::to_string(id)] = -100;
    body["logit_bias"] = std::move(bias);
  }
  return body.dump();
}

bool has_text(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

// Follows one streamed response: the SSE events, the token deltas and the usage.
class StreamState {
 public:
  explicit StreamState(Clock::time_point start) : start_(start) {}

  void on_bytes(std::string_view bytes, Clock::time_point now) {
    for (const SseEvent& event : parser_.feed(bytes)) on_event(event, now);
  }
  void on_end(Clock::time_point now) {
    for (const SseEvent& event : parser_.finish()) on_event(event, now);
  }
  bool done() const { return done_; }
  bool finished() const { return finish_reason_seen_; }
  const std::string& stream_error() const { return stream_error_; }

  void fill(RequestRecord& record) const {
    record.ttft_s = token_times_.empty() ? -1 : token_times_.front();
    for (size_t i = 1; i < token_times_.size(); ++i) {
      record.itl_s.push_back(token_times_[i] - token_times_[i - 1]);
    }
    record.usage_reported = usage_tokens_ >= 0;
    record.output_tokens =
        usage_tokens_ >= 0 ? usage_tokens_ : static_cast<int>(token_times_.size());
    record.prompt_tokens = usage_prompt_tokens_;
  }

 private:
  void on_event(const SseEvent& event, Clock::time_point now) {
    if (event.data == "[DONE]") {
      done_ = true;
      return;
    }
    const json chunk = json::parse(event.data, nullptr, false);
    if (!chunk.is_object()) {
      if (stream_error_.empty()) stream_error_ = "an event is not a JSON object: " + event.data;
      return;
    }
    if (auto error = chunk.find("error"); error != chunk.end()) {
      stream_error_ = error->dump();
      return;
    }
    if (auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
      if (auto n = usage->find("completion_tokens"); n != usage->end() && n->is_number_integer()) {
        usage_tokens_ = n->get<int>();
      }
      if (auto n = usage->find("prompt_tokens"); n != usage->end() && n->is_number_integer()) {
        usage_prompt_tokens_ = n->get<int>();
      }
    }
    auto choices = chunk.find("choices");
    if (choices == chunk.end() || !choices->is_array() || choices->empty()) return;
    const json& choice = (*choices)[0];
    if (!choice.is_object()) return;
    bool token = has_text(choice, "text");
    if (auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
      token = token || has_text(*delta, "content") || has_text(*delta, "reasoning_content") ||
              has_text(*delta, "reasoning") ||
              (delta->contains("tool_calls") && (*delta)["tool_calls"].is_array() &&
               !(*delta)["tool_calls"].empty());
    }
    if (token) token_times_.push_back(seconds_between(start_, now));
    if (auto reason = choice.find("finish_reason"); reason != choice.end() && reason->is_string()) {
      finish_reason_seen_ = true;
    }
  }

  Clock::time_point start_;
  SseParser parser_;
  std::vector<double> token_times_;  // seconds from the start, one per token delta
  int usage_tokens_ = -1;
  int usage_prompt_tokens_ = -1;
  bool done_ = false;
  bool finish_reason_seen_ = false;
  std::string stream_error_;
};

// Sends one streaming request; times are measured from `start`.
RequestRecord send_request(httplib::Client& client, const Endpoint& endpoint,
                           const httplib::Headers& headers, const std::string& body,
                           Clock::time_point start) {
  RequestRecord record;
  StreamState stream(start);
  std::string error_body;  // of a non-200 response, kept short
  int status = 0;
  httplib::Request request;
  request.method = "POST";
  request.path = endpoint.path;
  request.headers = headers;
  request.headers.emplace("Content-Type", "application/json");
  request.headers.emplace("Accept", "text/event-stream");
  // A compressed stream could be buffered by the server's compressor and skew the timings.
  request.headers.emplace("Accept-Encoding", "identity");
  request.body = body;
  request.response_handler = [&status](const httplib::Response& response) {
    status = response.status;
    return true;
  };
  request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    if (status == 200) {
      stream.on_bytes(std::string_view(data, size), Clock::now());
    } else if (error_body.size() < 2048) {
      error_body.append(data, std::min<size_t>(size, 2048 - error_body.size()));
    }
    return true;
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  bool sent = client.send(request, response, error);
  if (!sent && status == 0 && (error == httplib::Error::Read || error == httplib::Error::Write)) {
    // The kept-alive connection was closed by the server between requests (llama-server
    // does so after a stream): nothing was answered, so send again on a new connection,
    // as HTTP clients do. The time lost stays in this request's figures.
    client.stop();
    error = httplib::Error::Success;
    sent = client.send(request, response, error);
  }
  const Clock::time_point end = Clock::now();
  record.e2e_s = seconds_between(start, end);
  record.http_status = status;
  if (status == 200) {
    stream.on_end(end);
    stream.fill(record);
  }
  if (!sent || error != httplib::Error::Success) {
    const bool timed_out =
        error == httplib::Error::Read || error == httplib::Error::ConnectionTimeout;
    record.error_kind = error == httplib::Error::Connection ? "connection"
                        : timed_out                         ? "timeout"
                                                            : "transport";
    record.error = httplib::to_string(error);
  } else if (status != 200) {
    record.error_kind = str_cat("http_", status);
    record.error = str_cat("HTTP ", status, ": ", error_body);
  } else if (!stream.stream_error().empty()) {
    record.error_kind = "stream";
    record.error = stream.stream_error();
  } else if (!stream.done() && !stream.finished()) {
    record.error_kind = "stream";
    record.error = "the stream ended without a finish_reason or [DONE]";
  } else {
    record.ok = true;
  }
  return record;
}

uint64_t prompt_seed(const BenchOptions& options, size_t level, uint64_t index) {
  return options.seed * 1000003ull + level * 10000019ull + index;
}

LevelResult run_closed_level(const BenchOptions& options, const BenchResult& bench, size_t level,
                             int concurrency) {
  const int total = options.requests > 0     ? options.requests
                    : options.duration_s > 0 ? 0
                                             : 4 * concurrency;
  const httplib::Headers headers = auth_headers(options);
  std::atomic<int> next_index{0};
  // Clients are not lined up again after their warm-up: each starts its measured requests
  // as soon as its own warm-up ends, so the level sees c clients in their steady state
  // rather than c requests arriving in the same instant once more. The level starts when
  // the first client is done warming up.
  std::once_flag started;
  Clock::time_point level_start;
  std::vector<std::vector<RequestRecord>> per_client(concurrency);
  std::vector<std::thread> clients;
  clients.reserve(concurrency);
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&, c] {
      auto client = make_client(bench.endpoint, options.timeout_s);
      for (int w = 0; w < options.warmup; ++w) {
        const uint64_t seed = prompt_seed(options, level, 1'000'000 + c * 1000 + w);
        const std::string body = request_body(options, bench.model, prompt_json(options, seed));
        send_request(*client, bench.endpoint, headers, body, Clock::now());
      }
      std::call_once(started, [&] { level_start = Clock::now(); });
      const Clock::time_point deadline =
          level_start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(options.duration_s));
      while (true) {
        const Clock::time_point now = Clock::now();
        if (options.duration_s > 0 && options.requests <= 0 && now >= deadline) break;
        const int index = next_index.fetch_add(1);
        if (total > 0 && index >= total) break;
        const std::string body = request_body(
            options, bench.model, prompt_json(options, prompt_seed(options, level, index)));
        const Clock::time_point start = Clock::now();
        RequestRecord record = send_request(*client, bench.endpoint, headers, body, start);
        record.start_s = seconds_between(level_start, start);
        per_client[c].push_back(std::move(record));
      }
    });
  }
  for (std::thread& t : clients) t.join();
  LevelResult result;
  result.concurrency = concurrency;
  result.wall_s = seconds_between(level_start, Clock::now());
  for (auto& records : per_client) {
    for (auto& record : records) result.records.push_back(std::move(record));
  }
  std::sort(result.records.begin(), result.records.end(),
            [](const RequestRecord& a, const RequestRecord& b) { return a.start_s < b.start_s; });
  summarize_level(result, options.max_tokens);
  return result;
}

// Open loop: a dispatcher releases requests at Poisson arrival times to a pool of
// workers; each request's times count from its scheduled arrival.
LevelResult run_open_level(const BenchOptions& options, const BenchResult& bench, size_t level) {
  const httplib::Headers headers = auth_headers(options);
  {
    auto client = make_client(bench.endpoint, options.timeout_s);
    for (int w = 0; w < options.warmup; ++w) {
      const std::string body = request_body(
          options, bench.model, prompt_json(options, prompt_seed(options, level, 1'000'000 + w)));
      send_request(*client, bench.endpoint, headers, body, Clock::now());
    }
  }
  const int total = options.requests > 0 ? options.requests : options.duration_s > 0 ? 0 : 32;
  struct Arrival {
    int index;
    Clock::time_point at;
  };
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<Arrival> queue;
  bool closed = false;
  std::vector<RequestRecord> records;
  const Clock::time_point level_start = Clock::now();

  const int workers = total > 0 ? std::min(options.max_in_flight, total) : options.max_in_flight;
  std::vector<std::thread> pool;
  pool.reserve(workers);
  for (int w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      auto client = make_client(bench.endpoint, options.timeout_s);
      while (true) {
        Arrival arrival;
        {
          std::unique_lock lock(mutex);
          ready.wait(lock, [&] { return closed || !queue.empty(); });
          if (queue.empty()) return;
          arrival = queue.front();
          queue.pop_front();
        }
        const std::string body = request_body(
            options, bench.model, prompt_json(options, prompt_seed(options, level, arrival.index)));
        RequestRecord record = send_request(*client, bench.endpoint, headers, body, arrival.at);
        record.start_s = seconds_between(level_start, arrival.at);
        std::lock_guard lock(mutex);
        records.push_back(std::move(record));
      }
    });
  }
  std::mt19937_64 random(options.seed);
  std::exponential_distribution<double> gap(options.rate);
  double offset_s = 0;
  for (int index = 0; total <= 0 || index < total; ++index) {
    offset_s += gap(random);
    if (total <= 0 && offset_s >= options.duration_s) break;
    const Clock::time_point at = level_start + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(offset_s));
    std::this_thread::sleep_until(at);
    {
      std::lock_guard lock(mutex);
      queue.push_back({index, at});
    }
    ready.notify_one();
  }
  {
    std::lock_guard lock(mutex);
    closed = true;
  }
  ready.notify_all();
  for (std::thread& t : pool) t.join();
  LevelResult result;
  result.rate = options.rate;
  result.wall_s = seconds_between(level_start, Clock::now());
  result.records = std::move(records);
  std::sort(result.records.begin(), result.records.end(),
            [](const RequestRecord& a, const RequestRecord& b) { return a.start_s < b.start_s; });
  summarize_level(result, options.max_tokens);
  return result;
}

void validate(const BenchOptions& options) {
  if (options.url.empty()) throw Error("--url is required");
  if (options.prompt_tokens < 1) throw Error("--prompt-tokens must be at least 1");
  if (options.max_tokens < 1) throw Error("--max-tokens must be at least 1");
  if (options.requests < 0) throw Error("--requests must not be negative");
  if (options.duration_s < 0) throw Error("--duration must not be negative");
  if (options.requests > 0 && options.duration_s > 0) {
    throw Error("give --requests or --duration, not both");
  }
  if (options.warmup < 0) throw Error("--warmup must not be negative");
  if (options.tokenize && options.chat) {
    throw Error("--tokenizer needs --completions: a chat template adds tokens to the prompt");
  }
  if (options.rate < 0) throw Error("--rate must not be negative");
  if (options.max_in_flight < 1) throw Error("--max-in-flight must be at least 1");
  if (!(options.timeout_s > 0)) throw Error("--timeout must be positive");
  if (options.rate == 0) {
    if (options.concurrency.empty()) throw Error("-c needs at least one concurrency level");
    for (int c : options.concurrency) {
      if (c < 1 || c > 4096) throw Error(str_cat("concurrency ", c, " is outside [1, 4096]"));
    }
  }
}

}  // namespace

Endpoint resolve_endpoint(const std::string& url, bool chat) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos ||
      (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0)) {
    throw Error(str_cat("--url '", url, "' must start with http:// or https://"));
  }
  const size_t path_start = url.find('/', scheme_end + 3);
  Endpoint endpoint;
  endpoint.origin = url.substr(0, path_start);
  if (endpoint.origin.size() == scheme_end + 3)
    throw Error(str_cat("--url '", url, "' has no host"));
  std::string path = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!path.empty() && path.back() == '/') path.pop_back();
  const std::string tail = chat ? "/chat/completions" : "/completions";
  if (path.empty()) {
    endpoint.path = "/v1" + tail;
  } else if (path.size() >= 3 && path.compare(path.size() - 3, 3, "/v1") == 0) {
    endpoint.path = path + tail;
  } else if (path.size() >= tail.size() + 3 &&
             path.compare(path.size() - tail.size() - 3, std::string::npos, "/v1" + tail) == 0) {
    endpoint.path = path;
  } else {
    throw Error(str_cat("--url path '", path, "' should be empty, end in /v1 or in /v1", tail));
  }
  return endpoint;
}

void summarize_level(LevelResult& level, int max_tokens) {
  std::vector<double> decode, ttft, e2e, itl;
  int64_t prompt_sum = 0;
  int prompt_count = 0;
  level.requests = static_cast<int>(level.records.size());
  level.errors = 0;
  level.errors_by_kind.clear();
  level.output_tokens = 0;
  level.short_requests = 0;
  for (const RequestRecord& r : level.records) {
    if (!r.ok) {
      ++level.errors;
      ++level.errors_by_kind[r.error_kind];
      continue;
    }
    level.output_tokens += r.output_tokens;
    if (r.output_tokens < max_tokens) ++level.short_requests;
    e2e.push_back(r.e2e_s);
    if (r.ttft_s >= 0) {
      ttft.push_back(r.ttft_s);
      const double decode_s = r.e2e_s - r.ttft_s;
      if (r.output_tokens > 1 && decode_s > 0) decode.push_back((r.output_tokens - 1) / decode_s);
    }
    itl.insert(itl.end(), r.itl_s.begin(), r.itl_s.end());
    if (r.prompt_tokens >= 0) {
      prompt_sum += r.prompt_tokens;
      ++prompt_count;
    }
  }
  level.output_tok_s =
      level.wall_s > 0 ? static_cast<double>(level.output_tokens) / level.wall_s : 0;
  level.mean_prompt_tokens = prompt_count ? static_cast<double>(prompt_sum) / prompt_count : -1;
  level.decode_tok_s = summarize(std::move(decode));
  level.ttft_s = summarize(std::move(ttft));
  level.e2e_s = summarize(std::move(e2e));
  level.itl_s = summarize(std::move(itl));
}

BenchResult run_bench(const BenchOptions& options,
                      const std::function<void(const LevelResult&)>& on_level) {
  validate(options);
  BenchResult bench;
  bench.options = options;
  bench.endpoint = resolve_endpoint(options.url, options.chat);
  bench.model = options.model.empty() ? discover_model(options, bench.endpoint) : options.model;
  if (options.rate > 0) {
    bench.levels.push_back(run_open_level(options, bench, 0));
    if (on_level) on_level(bench.levels.back());
    return bench;
  }
  for (size_t i = 0; i < options.concurrency.size(); ++i) {
    bench.levels.push_back(run_closed_level(options, bench, i, options.concurrency[i]));
    if (on_level) on_level(bench.levels.back());
  }
  return bench;
}

}  // namespace tandem::bench
