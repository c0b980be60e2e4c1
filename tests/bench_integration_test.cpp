// Runs the load generator against an in-process mock OpenAI server on 127.0.0.1 that
// streams a known number of tokens with known delays.

#include <httplib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "cli/bench/load_generator.h"
#include "cli/bench/report.h"
#include "platform/error.h"
#include "test_paths.h"

namespace tandem::bench {
namespace {

using nlohmann::json;

struct MockBehaviour {
  int first_token_delay_ms = 80;
  int token_delay_ms = 5;
  int status = 200;  // anything else: answer with an OpenAI error body
  bool send_usage = true;
  bool send_done = true;
  bool error_midway = false;  // send {"error": ...} after the first token
};

class MockOpenAiServer {
 public:
  explicit MockOpenAiServer(MockBehaviour behaviour) : behaviour_(behaviour) {
    server_.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"mock-model","object":"model"}]})",
                      "application/json");
    });
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res);
    };
    server_.Post("/v1/chat/completions", handler);
    server_.Post("/v1/completions", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    TANDEM_CHECK(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~MockOpenAiServer() {
    server_.stop();
    thread_.join();
  }
  MockOpenAiServer(const MockOpenAiServer&) = delete;
  MockOpenAiServer& operator=(const MockOpenAiServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int received() const { return received_.load(); }
  std::vector<json> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  // Authorization and Accept-Encoding of each request.
  std::vector<std::pair<std::string, std::string>> headers() const {
    std::lock_guard lock(mutex_);
    return headers_;
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    ++received_;
    const json body = json::parse(req.body);
    {
      std::lock_guard lock(mutex_);
      bodies_.push_back(body);
      headers_.push_back(
          {req.get_header_value("Authorization"), req.get_header_value("Accept-Encoding")});
    }
    if (behaviour_.status != 200) {
      res.status = behaviour_.status;
      if (behaviour_.status == 429) res.set_header("Retry-After", "1");
      res.set_content(
          R"({"error":{"message":"no","type":"server_error","param":null,"code":null}})",
          "application/json");
      return;
    }
    const bool chat = req.path == "/v1/chat/completions";
    const int tokens = body.at("max_tokens").get<int>();
    // A prompt of token ids counts its ids; a text prompt its words.
    int prompt_tokens = 0;
    if (!chat && body.at("prompt").is_array()) {
      prompt_tokens = static_cast<int>(body.at("prompt").size());
    } else {
      const std::string prompt = chat ? body.at("messages").at(0).at("content").get<std::string>()
                                      : body.at("prompt").get<std::string>();
      prompt_tokens = static_cast<int>(std::count(prompt.begin(), prompt.end(), ' ')) + 1;
    }
    const MockBehaviour b = behaviour_;
    res.set_chunked_content_provider("text/event-stream", [b, chat, tokens, prompt_tokens](
                                                              size_t, httplib::DataSink& sink) {
      auto send = [&sink](const std::string& text) {
        // Two writes per event, split inside the line, to exercise the client's parser.
        const size_t half = text.size() / 2;
        return sink.write(text.data(), half) && sink.write(text.data() + half, text.size() - half);
      };
      if (!send(": mock keep-alive\r\n\r\n")) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(b.first_token_delay_ms));
      for (int i = 0; i < tokens; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(b.token_delay_ms));
        json chunk = {{"id", "x"}, {"object", chat ? "chat.completion.chunk" : "text_completion"}};
        const bool last = i + 1 == tokens;
        const json finish = last ? json("length") : json(nullptr);
        if (chat) {
          chunk["choices"] = {{{"index", 0},
                               {"delta", {{"content", "tok" + std::to_string(i)}}},
                               {"finish_reason", finish}}};
        } else {
          chunk["choices"] = {
              {{"index", 0}, {"text", " tok" + std::to_string(i)}, {"finish_reason", finish}}};
        }
        if (!send("data: " + chunk.dump() + "\r\n\r\n")) return false;
        if (b.error_midway) {
          send(R"(data: {"error":{"message":"boom","type":"server_error"}})"
               "\n\n");
          sink.done();
          return true;
        }
      }
      if (b.send_usage) {
        const json usage = {{"choices", json::array()},
                            {"usage",
                             {{"prompt_tokens", prompt_tokens},
                              {"completion_tokens", tokens},
                              {"total_tokens", prompt_tokens + tokens}}}};
        if (!send("data: " + usage.dump() + "\n\n")) return false;
      }
      if (b.send_done && !send("data: [DONE]\n\n")) return false;
      sink.done();
      return true;
    });
  }

  MockBehaviour behaviour_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> received_{0};
  mutable std::mutex mutex_;
  std::vector<json> bodies_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

BenchOptions options_for(const MockOpenAiServer& server) {
  BenchOptions options;
  options.url = server.url();
  options.concurrency = {1, 2};
  options.prompt_tokens = 40;
  options.max_tokens = 8;
  options.timeout_s = 10;
  return options;
}

// Latencies on a shared, loaded machine: at least the mock's delay, at most this much more.
constexpr double kSlackS = 0.4;

TEST(BenchIntegration, ClosedLoopMeasuresTheMock) {
  MockBehaviour behaviour;
  MockOpenAiServer server(behaviour);
  const BenchOptions options = options_for(server);
  const BenchResult result = run_bench(options);
  EXPECT_EQ(result.model, "mock-model");  // discovered through GET /v1/models
  ASSERT_EQ(result.levels.size(), 2u);
  for (const LevelResult& level : result.levels) {
    SCOPED_TRACE("concurrency " + std::to_string(level.concurrency));
    const int requests = 4 * level.concurrency;  // the default: four per client
    EXPECT_EQ(level.requests, requests);
    EXPECT_EQ(level.errors, 0);
    EXPECT_EQ(level.output_tokens, int64_t{requests} * options.max_tokens);
    ASSERT_EQ(level.ttft_s.count, static_cast<size_t>(requests));
    EXPECT_GE(level.ttft_s.min, behaviour.first_token_delay_ms / 1000.0);
    EXPECT_LE(level.ttft_s.p50, behaviour.first_token_delay_ms / 1000.0 + kSlackS);
    const double stream_s =
        (behaviour.first_token_delay_ms + (options.max_tokens - 1) * behaviour.token_delay_ms) /
        1000.0;
    EXPECT_GE(level.e2e_s.min, stream_s);
    EXPECT_LE(level.e2e_s.p50, stream_s + kSlackS);
    EXPECT_EQ(level.itl_s.count, static_cast<size_t>(requests * (options.max_tokens - 1)));
    EXPECT_GE(level.itl_s.p50, 0.003);
    EXPECT_LE(level.itl_s.p50, 0.005 + kSlackS / 4);
    // Every client is busy for the whole level, so the aggregate rate is about
    // concurrency * max_tokens / e2e.
    EXPECT_GT(level.output_tok_s, 0.5 * level.concurrency * options.max_tokens / level.e2e_s.max);
    EXPECT_NEAR(level.output_tok_s, static_cast<double>(level.output_tokens) / level.wall_s, 1e-9);
    EXPECT_GT(level.mean_prompt_tokens, 20);
    for (const RequestRecord& r : level.records) {
      EXPECT_TRUE(r.usage_reported);
      EXPECT_EQ(r.output_tokens, options.max_tokens);
    }
  }
  // One warm-up per client per level, not counted, plus the measured requests.
  EXPECT_EQ(server.received(), (1 + 4) + (2 + 8));
  std::set<std::string> prompts;
  for (const json& body : server.bodies()) {
    EXPECT_EQ(body.at("model"), "mock-model");
    EXPECT_EQ(body.at("stream"), true);
    EXPECT_EQ(body.at("stream_options").at("include_usage"), true);
    EXPECT_EQ(body.at("ignore_eos"), true);
    EXPECT_EQ(body.at("max_tokens"), options.max_tokens);
    prompts.insert(body.at("messages").at(0).at("content").get<std::string>());
  }
  EXPECT_EQ(prompts.size(), server.bodies().size()) << "prompts must differ per request";
  for (const auto& [authorization, encoding] : server.headers()) {
    EXPECT_EQ(authorization, "");
    EXPECT_EQ(encoding, "identity");
  }

  // The reports carry the same numbers.
  const auto doc = to_json(result);
  EXPECT_EQ(doc["levels"][1]["requests"], 8);
  EXPECT_EQ(doc["levels"][1]["requests_detail"].size(), 8u);
  EXPECT_EQ(doc["settings"]["max_tokens"], 8);
  EXPECT_DOUBLE_EQ(doc["levels"][0]["ttft_ms"]["p50"].get<double>(),
                   result.levels[0].ttft_s.p50 * 1000);
  const std::string table = format_table(result);
  EXPECT_NE(table.find("TTFT"), std::string::npos);
  const std::string svg = render_svg(result);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 10, true);
}

// With a tokenizer, every prompt is exactly prompt_tokens token ids, cut from text that
// differs per request. The stand-in tokenizer gives each word its length as an id.
TEST(BenchIntegration, TokenizerGivesExactTokenIdPrompts) {
  MockBehaviour behaviour;
  behaviour.first_token_delay_ms = 5;
  MockOpenAiServer server(behaviour);
  BenchOptions options = options_for(server);
  options.chat = false;
  options.concurrency = {2};
  options.prompt_tokens = 37;
  int calls = 0;
  options.tokenize = [&calls](const std::string& text) {
    ++calls;
    std::vector<int32_t> ids;
    std::stringstream words(text);
    std::string word;
    while (words >> word) ids.push_back(static_cast<int32_t>(word.size()));
    return ids;
  };
  const BenchResult result = run_bench(options);
  ASSERT_EQ(result.levels.size(), 1u);
  EXPECT_EQ(result.levels[0].errors, 0);
  EXPECT_EQ(result.levels[0].mean_prompt_tokens, 37);
  EXPECT_EQ(calls, server.received());
  std::set<std::vector<int32_t>> prompts;
  for (const json& body : server.bodies()) {
    ASSERT_TRUE(body.at("prompt").is_array());
    EXPECT_EQ(body.at("prompt").size(), 37u);
    prompts.insert(body.at("prompt").get<std::vector<int32_t>>());
  }
  EXPECT_GT(prompts.size(), server.bodies().size() / 2) << "prompts must differ";
  EXPECT_EQ(to_json(result)["settings"]["prompt_tokens_exact"], true);

  options.chat = true;  // a chat template would add tokens: refused
  EXPECT_THROW(run_bench(options), Error);
}

TEST(BenchIntegration, CompletionsWithoutUsageCountsDeltas) {
  MockBehaviour behaviour;
  behaviour.first_token_delay_ms = 20;
  behaviour.send_usage = false;
  MockOpenAiServer server(behaviour);
  BenchOptions options = options_for(server);
  options.chat = false;
  options.model = "given";
  options.api_key = "secret";
  options.concurrency = {2};
  options.requests = 3;
  options.warmup = 0;
  const BenchResult result = run_bench(options);
  ASSERT_EQ(result.levels.size(), 1u);
  EXPECT_EQ(result.levels[0].requests, 3);
  EXPECT_EQ(result.levels[0].errors, 0);
  EXPECT_EQ(result.levels[0].output_tokens, 3 * 8);
  EXPECT_EQ(result.levels[0].mean_prompt_tokens, -1);
  EXPECT_FALSE(result.levels[0].records[0].usage_reported);
  EXPECT_EQ(server.received(), 3);
  EXPECT_EQ(server.bodies()[0].at("model"), "given");
  EXPECT_TRUE(server.bodies()[0].contains("prompt"));
  EXPECT_EQ(server.headers()[0].first, "Bearer secret");
}

TEST(BenchIntegration, CountsHttpErrors) {
  for (int status : {500, 429}) {
    MockBehaviour behaviour;
    behaviour.status = status;
    MockOpenAiServer server(behaviour);
    BenchOptions options = options_for(server);
    options.model = "m";
    options.requests = 3;
    const BenchResult result = run_bench(options);
    for (const LevelResult& level : result.levels) {
      EXPECT_EQ(level.requests, 3);
      EXPECT_EQ(level.errors, 3);
      EXPECT_EQ(level.errors_by_kind.at("http_" + std::to_string(status)), 3);
      EXPECT_EQ(level.output_tokens, 0);
      EXPECT_EQ(level.ttft_s.count, 0u);
      EXPECT_EQ(level.records[0].http_status, status);
      EXPECT_NE(level.records[0].error.find("no"), std::string::npos);
    }
  }
}

TEST(BenchIntegration, CountsBrokenStreamsAndTimeouts) {
  {
    MockBehaviour behaviour;
    behaviour.first_token_delay_ms = 1;
    behaviour.error_midway = true;
    MockOpenAiServer server(behaviour);
    BenchOptions options = options_for(server);
    options.model = "m";
    options.concurrency = {1};
    options.requests = 2;
    const LevelResult level = run_bench(options).levels.at(0);
    EXPECT_EQ(level.errors_by_kind.at("stream"), 2);
  }
  {
    MockBehaviour behaviour;
    behaviour.first_token_delay_ms = 1;
    behaviour.send_usage = false;
    behaviour.send_done = false;
    MockOpenAiServer server(behaviour);
    BenchOptions options = options_for(server);
    options.model = "m";
    options.concurrency = {1};
    options.requests = 2;
    // A finish_reason without [DONE] still counts as a complete response.
    EXPECT_EQ(run_bench(options).levels.at(0).errors, 0);
  }
  {
    MockBehaviour behaviour;
    behaviour.first_token_delay_ms = 1500;
    MockOpenAiServer server(behaviour);
    BenchOptions options = options_for(server);
    options.model = "m";
    options.concurrency = {1};
    options.requests = 1;
    options.warmup = 0;
    options.timeout_s = 0.3;
    const LevelResult level = run_bench(options).levels.at(0);
    EXPECT_EQ(level.errors_by_kind.at("timeout"), 1);
  }
}

TEST(BenchIntegration, OpenLoopPoissonArrivals) {
  MockBehaviour behaviour;
  behaviour.first_token_delay_ms = 10;
  MockOpenAiServer server(behaviour);
  BenchOptions options = options_for(server);
  options.model = "m";
  options.rate = 50;
  options.requests = 10;
  options.warmup = 1;
  const BenchResult result = run_bench(options);
  ASSERT_EQ(result.levels.size(), 1u);
  const LevelResult& level = result.levels[0];
  EXPECT_EQ(level.rate, 50);
  EXPECT_EQ(level.requests, 10);
  EXPECT_EQ(level.errors, 0);
  EXPECT_EQ(level.output_tokens, 80);
  EXPECT_EQ(server.received(), 11);
  for (size_t i = 1; i < level.records.size(); ++i) {
    EXPECT_GE(level.records[i].start_s, level.records[i - 1].start_s);
  }
  EXPECT_GE(level.ttft_s.min, 0.010);
}

int run_command(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(BenchCommand, WritesTableJsonAndSvg) {
  MockBehaviour behaviour;
  behaviour.first_token_delay_ms = 10;
  MockOpenAiServer server(behaviour);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tandem_bench_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string json_path = (dir / "out.json").string();
  const std::string svg_path = (dir / "out.svg").string();
  const std::string table_path = (dir / "table.txt").string();
  const int rc =
      run_command(testing::tandem_binary() + " bench --url " + server.url() +
                  "/v1 -c 1,2 --requests 3 --max-tokens 4 --prompt-tokens 30 --json " + json_path +
                  " --plot " + svg_path + " > " + table_path + " 2>/dev/null");
  EXPECT_EQ(rc, 0);
  std::ifstream json_file(json_path);
  const json doc = json::parse(json_file);
  EXPECT_EQ(doc["settings"]["model"], "mock-model");
  EXPECT_EQ(doc["settings"]["concurrency"], json::array({1, 2}));
  ASSERT_EQ(doc["levels"].size(), 2u);
  for (const json& level : doc["levels"]) {
    EXPECT_EQ(level["requests"], 3);
    EXPECT_EQ(level["errors"], 0);
    EXPECT_EQ(level["output_tokens"], 12);
    EXPECT_EQ(level["short_requests"], 0);
    EXPECT_GE(level["ttft_ms"]["p50"].get<double>(), 10.0);
  }
  std::ifstream svg_file(svg_path);
  const std::string svg((std::istreambuf_iterator<char>(svg_file)), {});
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  // Two levels: one throughput point and two latency points each.
  size_t circles = 0;
  for (size_t at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) {
    ++circles;
  }
  EXPECT_EQ(circles, 6u);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  std::ifstream table_file(table_path);
  const std::string table((std::istreambuf_iterator<char>(table_file)), {});
  EXPECT_NE(table.find("TTFT ms p50/p95/p99"), std::string::npos);

  // Every request failing is a failed run.
  MockBehaviour failing;
  failing.status = 503;
  MockOpenAiServer broken(failing);
  EXPECT_EQ(run_command(testing::tandem_binary() + " bench --url " + broken.url() +
                        " --model m -c 1 --requests 1 > /dev/null 2>&1"),
            1);
  std::filesystem::remove_all(dir);
}

TEST(BenchEndpoint, ResolvesUrls) {
  EXPECT_EQ(resolve_endpoint("http://h:1", true).path, "/v1/chat/completions");
  EXPECT_EQ(resolve_endpoint("http://h:1/", false).path, "/v1/completions");
  EXPECT_EQ(resolve_endpoint("https://h/api/v1", true).path, "/api/v1/chat/completions");
  EXPECT_EQ(resolve_endpoint("http://h:1/v1/completions", false).path, "/v1/completions");
  EXPECT_EQ(resolve_endpoint("http://h:1/v1", true).origin, "http://h:1");
  EXPECT_THROW(resolve_endpoint("h:1", true), Error);
  EXPECT_THROW(resolve_endpoint("ftp://h", true), Error);
  EXPECT_THROW(resolve_endpoint("http://", true), Error);
  EXPECT_THROW(resolve_endpoint("http://h/other", true), Error);
}

TEST(BenchOptionsCheck, RejectsBadSettings) {
  BenchOptions options;
  options.url = "http://127.0.0.1:1";
  options.model = "m";
  options.max_tokens = 0;
  EXPECT_THROW(run_bench(options), Error);
  options.max_tokens = 4;
  options.concurrency = {0};
  EXPECT_THROW(run_bench(options), Error);
  options.concurrency = {1};
  options.requests = 2;
  options.duration_s = 1;
  EXPECT_THROW(run_bench(options), Error);
}

}  // namespace
}  // namespace tandem::bench
