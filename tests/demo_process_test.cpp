// `tandem demo` on a machine with nothing downloaded: it generates a model with the
// built-in vocabulary, starts two nodes (which get their shards streamed) and the
// server; one chat completion comes back 200 with text, and after SIGINT every process
// it started is gone.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "child_process.h"
#include "test_paths.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;
using Ms = std::chrono::milliseconds;

// Processes whose command line mentions `marker`, as pid -> command line.
std::map<pid_t, std::string> processes_mentioning(const std::string& marker) {
  std::map<pid_t, std::string> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream file(entry.path() / "cmdline", std::ios::binary);
    std::string line((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    for (char& c : line) c = c == '\0' ? ' ' : c;
    if (line.find(marker) != std::string::npos) out[std::stoi(name)] = line;
  }
  return out;
}

bool process_exists(pid_t pid) { return fs::exists("/proc/" + std::to_string(pid)); }

TEST(DemoProcess, ServesAChatAndStopsEveryProcessOnSigint) {
  char pattern[] = "/tmp/tandem-demo-test-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  // HOME and XDG_CACHE_HOME are left alone: the demo keeps everything under --dir.
  testing::Child demo({testing::tandem_binary(), "demo", "--port", "0", "--dir", dir},
                      dir + "/demo.log");
  const auto port = demo.wait_for("serving .* at http://127\\.0\\.0\\.1:([0-9]+)", Ms(60000));
  ASSERT_TRUE(port) << demo.output();

  const auto started = processes_mentioning(dir);
  pid_t demo_pid = -1;
  for (const auto& [pid, line] : started) {
    if (line.find(" demo ") != std::string::npos) demo_pid = pid;
  }
  ASSERT_GT(demo_pid, 0) << demo.output();
  ASSERT_GE(started.size(), 4u) << "demo, two nodes and the server";

  httplib::Client client("127.0.0.1", std::stoi(*port));
  client.set_read_timeout(30);
  const auto result = client.Post(
      "/v1/chat/completions",
      R"({"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8, "temperature": 0})",
      "application/json");
  ASSERT_TRUE(result) << demo.output();
  EXPECT_EQ(result->status, 200) << result->body;
  const auto body = nlohmann::json::parse(result->body);
  const auto& content = body["choices"][0]["message"]["content"];
  ASSERT_TRUE(content.is_string()) << result->body;
  EXPECT_FALSE(content.get<std::string>().empty()) << result->body;
  EXPECT_GE(body["usage"]["completion_tokens"].get<int>(), 1) << result->body;

  // The nodes had no model: their shards were streamed.
  EXPECT_NE(testing::read_file(dir + "/node1.log").find("shard: fetched and verified"),
            std::string::npos)
      << testing::read_file(dir + "/node1.log");

  ASSERT_EQ(::kill(demo_pid, SIGINT), 0);
  EXPECT_EQ(demo.wait(Ms(20000)), 0) << demo.output();
  for (const auto& [pid, line] : started) {
    const auto end = std::chrono::steady_clock::now() + Ms(2000);
    while (process_exists(pid) && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(Ms(20));
    }
    EXPECT_FALSE(process_exists(pid)) << "still running: " << line;
  }
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace tandem
