// Starts `tandem serve` on a tiny reference model (127.0.0.1, a free port picked by the
// server) and checks the HTTP API with raw requests: error cases and a streamed answer.

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "chat_stream.h"
#include "test_paths.h"

namespace tandem {
namespace {

using nlohmann::json;

constexpr char kKey[] = "test-key-123";
constexpr char kModel[] = "qwen3moe-tiny-Q8_0";

// A `tandem serve` child process; the port comes from the line it prints when ready.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    stdout_ = fdopen(out[0], "r");
    char line[512];
    // The ready line: "... listening on http://127.0.0.1:PORT".
    while (stdout_ != nullptr && std::fgets(line, sizeof line, stdout_) != nullptr) {
      const std::string text = line;
      const size_t at = text.find("http://127.0.0.1:");
      if (at != std::string::npos) {
        port_ = std::stoi(text.substr(at + 17));
        break;
      }
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (stdout_ != nullptr) std::fclose(stdout_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  // Sends SIGTERM and returns the exit status.
  int stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  FILE* stdout_ = nullptr;
  int port_ = 0;
};

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::have_reference()) return;
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        testing::tandem_binary(), "serve", testing::reference_path("qwen3moe-tiny-Q8_0.gguf"),
        "--port", "0", "--api-key", kKey, "--ctx", "128", "--parallel", "2", "-t", "2"});
  }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override {
    TANDEM_REQUIRE_SHARED();
    ASSERT_GT(server_->port(), 0) << "tandem serve did not report its port";
  }

  httplib::Result post(const std::string& path, const std::string& body, bool with_key = true) {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_read_timeout(20);
    httplib::Headers headers;
    if (with_key) headers.emplace("Authorization", std::string("Bearer ") + kKey);
    return client.Post(path, headers, body, "application/json");
  }
  httplib::Result get(const std::string& path, const std::string& key = kKey) {
    httplib::Client client("127.0.0.1", server_->port());
    httplib::Headers headers;
    if (!key.empty()) headers.emplace("Authorization", "Bearer " + key);
    return client.Get(path, headers);
  }
  // Checks an OpenAI error response and returns its "error" object.
  static json expect_error(const httplib::Result& result, int status) {
    EXPECT_TRUE(result);
    if (!result) return {};
    EXPECT_EQ(result->status, status) << result->body;
    const json body = json::parse(result->body, nullptr, false);
    EXPECT_TRUE(body.is_object() && body.contains("error")) << result->body;
    if (!body.is_object() || !body.contains("error")) return {};
    EXPECT_TRUE(body["error"]["message"].is_string());
    return body["error"];
  }

  // One server for the suite: starting it costs the most.
  static std::unique_ptr<ServerProcess> server_;
};

std::unique_ptr<ServerProcess> ServeTest::server_;

std::string chat_body(const std::string& extra) {
  return std::string(R"({"model":")") + kModel +
         R"(","messages":[{"role":"user","content":"Hello there"}])" + extra + "}";
}

TEST_F(ServeTest, HealthNeedsNoKeyAndModelsListTheModel) {
  const auto health = get("/health", "");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const auto models = get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200);
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], kModel);
}

TEST_F(ServeTest, MissingOrWrongKeyIs401) {
  EXPECT_EQ(expect_error(post("/v1/chat/completions", chat_body(""), false), 401)["type"],
            "authentication_error");
  EXPECT_EQ(expect_error(get("/v1/models", "wrong-key"), 401)["type"], "authentication_error");
  expect_error(get("/metrics", ""), 401);
}

TEST_F(ServeTest, MalformedJsonAndWrongTypesAre400) {
  EXPECT_EQ(expect_error(post("/v1/chat/completions", "{\"model\": "), 400)["type"],
            "invalid_request_error");
  EXPECT_EQ(
      expect_error(post("/v1/chat/completions", chat_body(R"(,"max_tokens":"ten")")), 400)["param"],
      "max_tokens");
  EXPECT_EQ(expect_error(post("/v1/chat/completions",
                              std::string(R"({"model":")") + kModel + R"(","messages":"hi"})"),
                         400)["param"],
            "messages");
  EXPECT_EQ(
      expect_error(post("/v1/chat/completions", chat_body(R"(,"temperature":true)")), 400)["param"],
      "temperature");
}

TEST_F(ServeTest, MaxTokensZeroIs400) {
  EXPECT_EQ(
      expect_error(post("/v1/chat/completions", chat_body(R"(,"max_tokens":0)")), 400)["param"],
      "max_tokens");
}

TEST_F(ServeTest, UnknownModelIs404) {
  const std::string body = R"({"model":"gpt-17","messages":[{"role":"user","content":"x"}]})";
  EXPECT_EQ(expect_error(post("/v1/chat/completions", body), 404)["code"], "model_not_found");
}

TEST_F(ServeTest, PromptOverTheContextIs400) {
  std::string words;
  for (int i = 0; i < 200; ++i) words += "lighthouse ";
  const std::string body =
      std::string(R"({"model":")") + kModel + R"(","prompt":")" + words + R"(","max_tokens":4})";
  const json error = expect_error(post("/v1/completions", body), 400);
  EXPECT_NE(error["message"].get<std::string>().find("context"), std::string::npos);
}

TEST_F(ServeTest, UnknownRouteIs404) {
  EXPECT_EQ(expect_error(get("/v1/nothing-here"), 404)["type"], "not_found_error");
  expect_error(post("/v2/chat", "{}"), 404);
}

TEST_F(ServeTest, StreamsAChatCompletionWithUsage) {
  const auto result =
      post("/v1/chat/completions", chat_body(R"(,"max_tokens":8,"temperature":0,"stream":true,)"
                                             R"("stream_options":{"include_usage":true})"));
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  EXPECT_NE(result->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  std::vector<json> chunks;
  bool done = false;
  for (const std::string& data : testing::sse_data_events(result->body)) {
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    EXPECT_FALSE(done) << "data after [DONE]";
    chunks.push_back(json::parse(data));
  }
  EXPECT_TRUE(done);
  ASSERT_GE(chunks.size(), 3u);
  EXPECT_EQ(chunks.front()["choices"][0]["delta"]["role"], "assistant");
  const json& usage = chunks.back();
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 8);
  EXPECT_GT(usage["usage"]["prompt_tokens"].get<int>(), 3);
  const json& last_choice = chunks[chunks.size() - 2]["choices"][0];
  EXPECT_EQ(last_choice["finish_reason"], "length");

  // The same request without streaming gives the same (greedy) text.
  std::string streamed;
  std::string streamed_reasoning;
  for (const json& chunk : chunks) {
    if (chunk["choices"].empty()) continue;
    const json& delta = chunk["choices"][0]["delta"];
    if (delta.contains("content") && delta["content"].is_string()) streamed += delta["content"];
    if (delta.contains("reasoning_content") && delta["reasoning_content"].is_string()) {
      streamed_reasoning += delta["reasoning_content"];
    }
  }
  const auto whole = post("/v1/chat/completions", chat_body(R"(,"max_tokens":8,"temperature":0)"));
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  const json message = json::parse(whole->body)["choices"][0]["message"];
  EXPECT_EQ(message["content"].is_string() ? message["content"].get<std::string>() : "", streamed);
  EXPECT_EQ(message.value("reasoning_content", ""), streamed_reasoning);
  EXPECT_EQ(json::parse(whole->body)["usage"]["completion_tokens"], 8);
}

TEST_F(ServeTest, MetricsCountRequests) {
  const auto metrics = get("/metrics");
  ASSERT_TRUE(metrics);
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("tandem_requests_cancelled_total"), std::string::npos);
  EXPECT_NE(metrics->body.find("kv"), std::string::npos);
}

TEST(ServeCommand, StopsCleanlyOnSigterm) {
  TANDEM_REQUIRE_SHARED();
  ServerProcess server({testing::tandem_binary(), "serve",
                        testing::reference_path("qwen3moe-tiny-Q8_0.gguf"), "--port", "0", "--ctx",
                        "64", "-t", "1"});
  ASSERT_GT(server.port(), 0);
  const int status = server.stop();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace tandem
