// Real `tandem node` processes on 127.0.0.1: joining, membership, the status command,
// a refused wrong secret, a killed node noticed, and discovery by UDP beacon.
// Every child is killed and reaped by its guard, also when an assertion fails.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "child_process.h"
#include "platform/socket.h"
#include "test_paths.h"

extern char** environ;

namespace tandem {
namespace {

using testing::Child;
using testing::read_file;

class ClusterProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tandem-cluster-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    secret_ = write_secret("secret", "correct horse battery staple");
    wrong_secret_ = write_secret("wrong", "another cluster");
  }
  void TearDown() override {
    nodes_.clear();  // kills the children before their logs go
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string write_secret(const std::string& name, const std::string& text) {
    return testing::write_secret_file(dir_, name, text);
  }
  // Starts a node and returns its listen address once it prints it.
  std::string start_node(const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {testing::tandem_binary(),
                                     "node",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--name",
                                     name,
                                     "--secret-file",
                                     secret_,
                                     "--heartbeat-ms",
                                     "100",
                                     "--failure-timeout-ms",
                                     "800",
                                     "--cache-dir",
                                     dir_};
    args.insert(args.end(), extra.begin(), extra.end());
    nodes_.push_back(std::make_unique<Child>(args, dir_ + "/" + name + ".log"));
    EXPECT_TRUE(nodes_.back()->started());
    const auto address = nodes_.back()->wait_for("listening on (127\\.0\\.0\\.1:[0-9]+) as ",
                                                 std::chrono::milliseconds(5000));
    EXPECT_TRUE(address) << nodes_.back()->output();
    return address.value_or("");
  }
  std::string node_id(size_t index) {
    return nodes_[index]
        ->wait_for("listening on \\S+ as ([a-z0-9-]+)", std::chrono::milliseconds(100))
        .value_or("?");
  }
  nlohmann::json status(const std::string& join) {
    Child child({testing::tandem_binary(), "cluster", "status", "--join", join, "--secret-file",
                 secret_, "--json", "--pings", "5", "--bulk-bytes", "1048576"},
                dir_ + "/status.log");
    const int rc = child.wait(std::chrono::milliseconds(15000));
    EXPECT_EQ(rc, 0) << child.output();
    try {
      return nlohmann::json::parse(child.output());
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << child.output();
      return {};
    }
  }

  std::string dir_;
  std::string secret_;
  std::string wrong_secret_;
  std::vector<std::unique_ptr<Child>> nodes_;
};

TEST_F(ClusterProcess, ThreeNodesJoinMeasureRefuseAndNoticeDeath) {
  const auto ms = [](int n) { return std::chrono::milliseconds(n); };
  const std::string a = start_node("alpha", {});
  const std::string b = start_node("beta", {"--join", a});
  const std::string c = start_node("gamma", {"--join", a});
  ASSERT_FALSE(a.empty() || b.empty() || c.empty());
  const std::string id_c = node_id(2);

  // b joined through a only; it learns of c from a's member list.
  EXPECT_TRUE(nodes_[1]->wait_for("member joined: (gamma-[0-9a-f]+)", ms(5000)))
      << nodes_[1]->output();
  EXPECT_TRUE(nodes_[0]->wait_for("member joined: (beta-[0-9a-f]+)", ms(5000)));

  const nlohmann::json report = status(b);
  ASSERT_EQ(report["members"].size(), 3u) << report.dump(1);
  ASSERT_EQ(report["nodes"].size(), 3u);
  std::set<std::string> names;
  for (const auto& node : report["nodes"]) {
    names.insert(node["name"].get<std::string>());
    EXPECT_GT(node["memory_total_bytes"].get<uint64_t>(), 0u);
    EXPECT_GE(node["cores"].get<uint32_t>(), 1u);
    EXPECT_GT(node["matmul_gflops"].get<double>(), 0.0);
    EXPECT_EQ(node["cache_dir"], dir_);
  }
  EXPECT_EQ(names, (std::set<std::string>{"alpha", "beta", "gamma"}));
  // 3 links from the status client, 6 between the nodes.
  ASSERT_EQ(report["links"].size(), 9u);
  for (const auto& link : report["links"]) {
    EXPECT_EQ(link["error"], "") << link.dump();
    EXPECT_GT(link["latency_median_us"].get<double>(), 0.0);
    EXPECT_LT(link["latency_median_us"].get<double>(), 1e6);
    EXPECT_GT(link["bandwidth_bytes_per_s"].get<double>(), 1e6);
  }
  EXPECT_TRUE(report["errors"].empty());

  // A node with the wrong secret is refused and says so.
  Child intruder({testing::tandem_binary(), "node", "--listen", "127.0.0.1:0", "--join", a,
                  "--secret-file", wrong_secret_},
                 dir_ + "/intruder.log");
  EXPECT_EQ(intruder.wait(ms(10000)), 1);
  EXPECT_NE(intruder.output().find("wrong cluster secret"), std::string::npos) << intruder.output();
  EXPECT_TRUE(
      nodes_[0]->wait_for("refused 127\\.0\\.0\\.1:[0-9]+: authentication failed", ms(2000)));

  // The status command with the wrong secret fails too.
  Child snoop(
      {testing::tandem_binary(), "cluster", "status", "--join", a, "--secret-file", wrong_secret_},
      dir_ + "/snoop.log");
  EXPECT_EQ(snoop.wait(ms(10000)), 1) << snoop.output();

  // Killing gamma is noticed by both others, and it leaves the member list.
  nodes_[2]->kill();
  EXPECT_TRUE(nodes_[0]->wait_for("member left: (" + id_c + ")", ms(5000))) << nodes_[0]->output();
  EXPECT_TRUE(nodes_[1]->wait_for("member left: (" + id_c + ")", ms(5000))) << nodes_[1]->output();
  const nlohmann::json after = status(a);
  EXPECT_EQ(after["members"].size(), 2u) << after.dump(1);
}

TEST_F(ClusterProcess, DiscoveryByBeacon) {
  // A free UDP port on loopback for alpha's beacon listener.
  uint16_t port = 0;
  {
    const Socket probe = udp_bind({"127.0.0.1", 0}, false);
    port = local_address(probe).port;
  }
  const std::string beacon = "127.0.0.1:" + std::to_string(port);
  const std::string a = start_node("alpha", {"--discover", beacon});
  const std::string b = start_node("beta", {"--beacon", beacon});
  ASSERT_FALSE(a.empty() || b.empty());
  EXPECT_TRUE(nodes_[0]->wait_for("member joined: (beta-[0-9a-f]+)", std::chrono::seconds(5)))
      << nodes_[0]->output();
  EXPECT_TRUE(nodes_[1]->wait_for("member joined: (alpha-[0-9a-f]+)", std::chrono::seconds(5)))
      << nodes_[1]->output();
}

}  // namespace
}  // namespace tandem
