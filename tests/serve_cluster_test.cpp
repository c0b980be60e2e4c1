// `tandem serve --join` over two real `tandem node` processes on 127.0.0.1 (the model
// split 2,2): a greedy chat completion gives the same text as a single-process
// `tandem serve`, and two concurrent streamed requests both complete.

#include <httplib.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "chat_stream.h"
#include "child_process.h"
#include "test_paths.h"

namespace tandem {
namespace {

using nlohmann::json;
using testing::ChatStream;
using testing::Child;
using testing::parse_chat_stream;
using Ms = std::chrono::milliseconds;

constexpr char kModel[] = "qwen3moe-tiny-Q8_0";

std::string chat_body(const std::string& content, const std::string& extra) {
  return std::string(R"({"model":")") + kModel + R"(","messages":[{"role":"user","content":")" +
         content + R"("}],"max_tokens":12,"temperature":0)" + extra + "}";
}

class ServeCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_SHARED();
    char pattern[] = "/tmp/tandem-serve-cluster-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    secret_ = dir_ + "/secret";
    std::ofstream(secret_) << "serve cluster secret\n";
    ::chmod(secret_.c_str(), 0600);
  }
  void TearDown() override {
    children_.clear();  // SIGKILLs and reaps every child
    if (!HasFailure() && !dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // Starts a child and returns its HTTP port from the ready line.
  int start_serve(const std::vector<std::string>& extra, const std::string& log) {
    std::vector<std::string> args = {testing::tandem_binary(),
                                     "serve",
                                     testing::reference_path("qwen3moe-tiny-Q8_0.gguf"),
                                     "--port",
                                     "0",
                                     "--ctx",
                                     "128",
                                     "--parallel",
                                     "2",
                                     "-t",
                                     "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    children_.push_back(std::make_unique<Child>(args, dir_ + "/" + log));
    const auto port = children_.back()->wait_for("http://127\\.0\\.0\\.1:([0-9]+)", Ms(15000));
    EXPECT_TRUE(port) << children_.back()->output();
    return port ? std::stoi(*port) : 0;
  }
  void start_nodes() {
    for (int i = 0; i < 2; ++i) {
      std::vector<std::string> args = {
          testing::tandem_binary(), "node",          "--listen", "127.0.0.1:0",    "--name",
          "n" + std::to_string(i),  "--secret-file", secret_,    "--heartbeat-ms", "100",
          "--failure-timeout-ms",   "2000"};
      if (i > 0) args.insert(args.end(), {"--join", node0_});
      children_.push_back(std::make_unique<Child>(args, dir_ + "/n" + std::to_string(i) + ".log"));
      const auto address =
          children_.back()->wait_for("listening on (127\\.0\\.0\\.1:[0-9]+) as ", Ms(5000));
      ASSERT_TRUE(address) << children_.back()->output();
      if (i == 0) node0_ = *address;
    }
    ASSERT_TRUE(children_[0]->wait_for("member joined: (n1-)", Ms(5000))) << children_[0]->output();
  }
  static httplib::Result post(int port, const std::string& body) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(20);
    return client.Post("/v1/chat/completions", body, "application/json");
  }
  static std::string answer(int port, const std::string& content) {
    const auto result = post(port, chat_body(content, ""));
    EXPECT_TRUE(result);
    if (!result) return {};
    EXPECT_EQ(result->status, 200) << result->body;
    const json message = json::parse(result->body)["choices"][0]["message"];
    return message.value("reasoning_content", "") + "|" +
           (message["content"].is_string() ? message["content"].get<std::string>() : "");
  }

  std::string dir_;
  std::string secret_;
  std::string node0_;
  std::vector<std::unique_ptr<Child>> children_;
};

TEST_F(ServeCluster, GreedyAnswersEqualOneProcessAndConcurrentStreamsComplete) {
  start_nodes();
  const int cluster =
      start_serve({"--join", node0_, "--secret-file", secret_, "--split", "2,2"}, "serve.log");
  ASSERT_GT(cluster, 0);
  const int single = start_serve({}, "single.log");
  ASSERT_GT(single, 0);

  for (const std::string content : {"Hello there", "Write a haiku about lighthouses"}) {
    const std::string expected = answer(single, content);
    EXPECT_GT(expected.size(), 1u);
    EXPECT_EQ(answer(cluster, content), expected) << content;
  }

  // Two streamed requests at once through the pipeline.
  std::vector<int> statuses(2, 0);
  std::vector<std::string> bodies(2);
  std::vector<std::thread> clients;
  const std::vector<std::string> prompts = {"Tell me about the sea", "Count to five"};
  for (size_t i = 0; i < 2; ++i) {
    clients.emplace_back([&, i] {
      const auto result = post(cluster, chat_body(prompts[i], R"(,"stream":true)"));
      if (!result) return;
      statuses[i] = result->status;
      bodies[i] = result->body;
    });
  }
  for (std::thread& client : clients) client.join();
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ(statuses[i], 200) << prompts[i] << ": " << bodies[i];
    const ChatStream streamed = parse_chat_stream(bodies[i]);
    EXPECT_TRUE(streamed.done) << bodies[i];
    EXPECT_EQ(streamed.finish, "length") << bodies[i];
    // Greedy: the streamed text equals the single process's answer to the same prompt.
    const std::string expected = answer(single, prompts[i]);
    EXPECT_EQ(streamed.text,
              expected.substr(0, expected.find('|')) + expected.substr(expected.find('|') + 1))
        << prompts[i];
  }
}

}  // namespace
}  // namespace tandem
