// A node that leaves a serving cluster: `tandem serve --join` over three real
// `tandem node` processes (on 127.0.0.2, .3 and .4, the model split 2,1,1) keeps
// serving when a stage node is SIGKILLed mid-stream. Its streams pause, the pipeline is
// rebuilt over the two nodes left and the requests resume from their tokens: the
// streamed text equals a single process's answer, greedy and seeded. With every node
// gone, requests end in an OpenAI-shaped error and /health says why while the server
// keeps answering. Also `tandem run --join` against plain `tandem run`.

#include <httplib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "chat_stream.h"
#include "child_process.h"
#include "run_tandem.h"
#include "test_paths.h"

namespace tandem {
namespace {

using nlohmann::json;
using testing::ChatStream;
using testing::Child;
using testing::parse_chat_stream;
using Ms = std::chrono::milliseconds;

constexpr char kModelName[] = "qwen3moe-tiny-Q8_0";
constexpr int kNodes = 3;

std::string model_path() { return testing::reference_path("qwen3moe-tiny-Q8_0.gguf"); }

// A streamed chat request that runs to max_tokens whatever the model says.
std::string body(const std::string& content, int max_tokens, const std::string& sampling,
                 bool stream) {
  return std::string(R"({"model":")") + kModelName + R"(","messages":[{"role":"user","content":")" +
         content + R"("}],"ignore_eos":true,"max_tokens":)" + std::to_string(max_tokens) + "," +
         sampling + (stream ? R"(,"stream":true)" : "") + "}";
}

constexpr char kGreedy[] = R"("temperature":0)";
constexpr char kSeeded[] = R"("temperature":1.0,"top_k":0,"top_p":1.0,"min_p":0,"seed":4242)";

// The value of a Prometheus sample line "NAME VALUE"; -1 when absent.
double metric(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

class ServeRecovery : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_SHARED();
    char pattern[] = "/tmp/tandem-serve-recovery-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    secret_ = testing::write_secret_file(dir_, "secret", "serve recovery secret");
  }
  void TearDown() override {
    serve_.reset();
    single_.reset();
    nodes_.clear();  // SIGKILLs and reaps every child
    if (!HasFailure() && !dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Nodes n0, n1, n2 on 127.0.0.2, .3, .4, each knowing the others.
  void start_nodes() {
    for (int i = 0; i < kNodes; ++i) {
      const std::string host = "127.0.0." + std::to_string(i + 2);
      std::vector<std::string> args = {
          testing::tandem_binary(), "node",          "--listen", host + ":0",      "--name",
          "n" + std::to_string(i),  "--secret-file", secret_,    "--heartbeat-ms", "100",
          "--failure-timeout-ms",   "1000"};
      if (i > 0) args.insert(args.end(), {"--join", node0_});
      nodes_.push_back(std::make_unique<Child>(args, dir_ + "/n" + std::to_string(i) + ".log"));
      const auto address =
          nodes_.back()->wait_for("listening on (127\\.0\\.0\\.[0-9]+:[0-9]+) as ", Ms(5000));
      ASSERT_TRUE(address) << nodes_.back()->output();
      if (i == 0) node0_ = *address;
    }
    for (int i = 1; i < kNodes; ++i) {
      ASSERT_TRUE(nodes_[0]->wait_for("member joined: n" + std::to_string(i), Ms(5000)))
          << nodes_[0]->output();
    }
  }

  // Starts `tandem serve` and returns its HTTP port from the ready line.
  int start_serve(std::unique_ptr<Child>& child, const std::vector<std::string>& extra,
                  const std::string& log) {
    std::vector<std::string> args = {testing::tandem_binary(),
                                     "serve",
                                     model_path(),
                                     "--port",
                                     "0",
                                     "--ctx",
                                     "256",
                                     "--parallel",
                                     "2",
                                     "-t",
                                     "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    child = std::make_unique<Child>(args, dir_ + "/" + log);
    const auto port = child->wait_for("http://127\\.0\\.0\\.1:([0-9]+)", Ms(15000));
    EXPECT_TRUE(port) << child->output();
    return port ? std::stoi(*port) : 0;
  }
  int start_cluster_serve() {
    return start_serve(serve_, {"--join", node0_, "--secret-file", secret_, "--split", "2,1,1"},
                       "serve.log");
  }

  static httplib::Result post(int port, const std::string& text) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(20);
    return client.Post("/v1/chat/completions", text, "application/json");
  }
  // The single process's whole answer text (reasoning and content) to a request.
  static std::string single_answer(int port, const std::string& content, int max_tokens,
                                   const std::string& sampling) {
    const auto result = post(port, body(content, max_tokens, sampling, true));
    EXPECT_TRUE(result);
    if (!result) return {};
    EXPECT_EQ(result->status, 200) << result->body;
    const ChatStream streamed = parse_chat_stream(result->body);
    EXPECT_EQ(streamed.finish, "length") << result->body;
    return streamed.text;
  }

  std::string dir_;
  std::string secret_;
  std::string node0_;
  std::vector<std::unique_ptr<Child>> nodes_;
  std::unique_ptr<Child> serve_;
  std::unique_ptr<Child> single_;
};

// The parameter is the node killed: n0 (stage 1, also the address the server joined
// through), n1 (stage 2) or n2 (the last stage, which samples).
class ServeRecoveryKill : public ServeRecovery, public ::testing::WithParamInterface<int> {};

TEST_P(ServeRecoveryKill, StreamsSurviveAKilledStageNodeAndEqualOneProcess) {
  const int victim = GetParam();
  start_nodes();
  const int cluster = start_cluster_serve();
  ASSERT_GT(cluster, 0);
  ASSERT_TRUE(serve_->wait_for("listening", Ms(1))) << serve_->output();

  // Two concurrent streams, one greedy and one seeded; the victim dies mid-answer.
  constexpr int kTokens = 120;
  const std::vector<std::string> prompts = {"Tell me a long story about the sea",
                                            "Describe a city at night"};
  const std::vector<std::string> samplings = {kGreedy, kSeeded};
  std::atomic<bool> killed{false};
  std::vector<std::string> bodies(2);
  std::vector<int> statuses(2, 0);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < 2; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client client("127.0.0.1", cluster);
      client.set_read_timeout(20);
      const auto result =
          client.Post("/v1/chat/completions", httplib::Headers{},
                      body(prompts[i], kTokens, samplings[i], true), "application/json");
      if (!result) return;
      statuses[i] = result->status;
      bodies[i] = result->body;
    });
  }
  // Kill once both requests run and have generated a few tokens.
  for (int tries = 0; tries < 2000 && !killed; ++tries) {
    httplib::Client client("127.0.0.1", cluster);
    const auto metrics = client.Get("/metrics");
    if (metrics && metric(metrics->body, "tandem_requests_running") == 2 &&
        metric(metrics->body, "tandem_generation_tokens_total") >= 4) {
      nodes_[static_cast<size_t>(victim)]->kill();
      killed = true;
    }
    std::this_thread::sleep_for(Ms(2));
  }
  for (std::thread& client : clients) client.join();
  ASSERT_TRUE(killed);
  const std::string log = serve_->output();
  EXPECT_NE(log.find("pipeline recovered in"), std::string::npos) << log;
  EXPECT_NE(log.find("; lost n" + std::to_string(victim) + "\n"), std::string::npos) << log;
  EXPECT_NE(log.find("resuming 2 request(s)"), std::string::npos) << log;

  const int single = start_serve(single_, {}, "single.log");
  ASSERT_GT(single, 0);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ(statuses[i], 200) << bodies[i];
    const ChatStream streamed = parse_chat_stream(bodies[i]);
    EXPECT_TRUE(streamed.error.is_null()) << bodies[i];
    EXPECT_TRUE(streamed.done) << bodies[i];
    EXPECT_EQ(streamed.finish, "length") << bodies[i];
    EXPECT_EQ(streamed.text, single_answer(single, prompts[i], kTokens, samplings[i]))
        << prompts[i];
  }

  // A request after the failure runs on the rebuilt pipeline.
  const std::string later = "What is a lighthouse";
  const auto result = post(cluster, body(later, 16, kGreedy, true));
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  EXPECT_EQ(parse_chat_stream(result->body).text, single_answer(single, later, 16, kGreedy));
  httplib::Client client("127.0.0.1", cluster);
  const auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;
  const auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metric(metrics->body, "tandem_recoveries_total"), 1) << metrics->body;
}

INSTANTIATE_TEST_SUITE_P(EachStage, ServeRecoveryKill, ::testing::Values(0, 1, 2));

TEST_F(ServeRecovery, NoNodesLeftGivesACleanErrorAndTheServerStaysUp) {
  start_nodes();
  const int cluster = start_cluster_serve();
  ASSERT_GT(cluster, 0);
  for (auto& node : nodes_) node->kill();

  // The request that finds the pipeline broken: a 503 in the OpenAI error shape.
  const auto result = post(cluster, body("Hello", 8, kGreedy, false));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 503) << result->body;
  const json error = json::parse(result->body, nullptr, false);
  ASSERT_TRUE(error.is_object()) << result->body;
  ASSERT_TRUE(error.contains("error")) << result->body;
  EXPECT_EQ(error["error"]["type"], "unavailable_error") << result->body;
  const std::string message = error["error"]["message"];
  EXPECT_NE(message.find("cannot hold the model"), std::string::npos) << message;

  // The server still answers, and says why it cannot run the model.
  httplib::Client client("127.0.0.1", cluster);
  const auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503) << health->body;
  const json status = json::parse(health->body, nullptr, false);
  ASSERT_TRUE(status.is_object()) << health->body;
  EXPECT_EQ(status["status"], "unavailable");
  EXPECT_NE(status["error"].get<std::string>().find("cannot hold the model"), std::string::npos);

  // A streamed request now fails at once, with an error event before [DONE].
  const auto streamed = post(cluster, body("Hello again", 8, kGreedy, true));
  ASSERT_TRUE(streamed);
  const ChatStream parsed = parse_chat_stream(streamed->body);
  EXPECT_TRUE(parsed.done) << streamed->body;
  ASSERT_TRUE(parsed.error.is_object()) << streamed->body;
  EXPECT_EQ(parsed.error["type"], "unavailable_error") << streamed->body;
  EXPECT_TRUE(client.Get("/v1/models"));
  EXPECT_LT(serve_->wait(Ms(1)), 0) << "the server exited: " << serve_->output();
}

TEST_F(ServeRecovery, RunJoinEqualsOneProcessRun) {
  start_nodes();
  const std::vector<std::string> common = {"run", model_path(), "-p",     "Write about rivers",
                                           "-n",  "24",         "--temp", "0",
                                           "-t",  "1",          "--ctx",  "128"};
  const auto single = testing::run_tandem(common, dir_ + "/single");
  ASSERT_EQ(single.exit_code, 0) << single.err;
  ASSERT_FALSE(single.out.empty()) << single.err;
  for (const std::string split : {"2,2", "2,1,1"}) {
    std::vector<std::string> args = common;
    args.insert(args.end(), {"--join", node0_, "--secret-file", secret_, "--split", split});
    const auto joined = testing::run_tandem(args, dir_ + "/joined");
    ASSERT_EQ(joined.exit_code, 0) << joined.err;
    EXPECT_EQ(joined.out, single.out) << "split " << split;
  }
}

}  // namespace
}  // namespace tandem
