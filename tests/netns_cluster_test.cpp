// Two nodes in two network namespaces joined by a veth pair (10.231.0.1 <-> 10.231.0.2,
// addresses that exist only inside those namespaces), the pair shaped with `tc tbf` to
// a known rate and every connection across it delayed by tandem_delay_proxy. Checks:
// split logits equal single-process logits, `tandem cluster status` measures the link
// close to the rate and delay that were set, and a wrong secret is refused.
//
// Each node listens on 127.0.0.1 inside its namespace; the other namespace reaches that
// address through two proxies:
//   ns A 127.0.0.1:P --(proxy, no delay)--> 10.231.0.2:P+10 (veth, tbf)
//        --(proxy in ns B, kDelayMs each way)--> ns B 127.0.0.1:P
// and the mirror image for ns B reaching ns A. Skipped when namespaces cannot be made
// (no root / CAP_NET_ADMIN).

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "child_process.h"
#include "test_paths.h"

namespace tandem {
namespace {

using testing::Child;
using Ms = std::chrono::milliseconds;

constexpr int kDelayMs = 10;     // one way, added by the proxy in the far namespace
constexpr int kRateMbit = 80;    // tbf rate on both veth ends
constexpr int kPortA = 7701;     // node n0, 127.0.0.1 in ns A
constexpr int kPortB = 7702;     // node n1, 127.0.0.1 in ns B
constexpr int kVethOffset = 10;  // the far side's proxy listens on PORT + 10 on the veth

bool run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> out(std::filesystem::file_size(path) / sizeof(float));
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size() * 4));
  return out;
}

class NetnsCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_SHARED();
    const std::string suffix = std::to_string(::getpid());
    ns_a_ = "tandem-a-" + suffix;
    ns_b_ = "tandem-b-" + suffix;
    if (!run("ip netns add " + ns_a_)) {
      GTEST_SKIP() << "cannot create network namespaces here (`ip netns add` needs root or "
                      "CAP_NET_ADMIN)";
    }
    created_ = true;
    ASSERT_TRUE(run("ip netns add " + ns_b_));
    // Both veth ends are created inside the namespaces: the host never sees them.
    for (const std::string& step :
         {"ip -n " + ns_a_ + " link add veth-a type veth peer name veth-b netns " + ns_b_,
          "ip -n " + ns_a_ + " addr add 10.231.0.1/24 dev veth-a",
          "ip -n " + ns_b_ + " addr add 10.231.0.2/24 dev veth-b",
          "ip -n " + ns_a_ + " link set veth-a up", "ip -n " + ns_b_ + " link set veth-b up",
          "ip -n " + ns_a_ + " link set lo up", "ip -n " + ns_b_ + " link set lo up"}) {
      ASSERT_TRUE(run(step)) << step;
    }
    for (const auto& [ns, device] : {std::pair{ns_a_, "veth-a"}, std::pair{ns_b_, "veth-b"}}) {
      const std::string shape = "ip netns exec " + ns + " tc qdisc add dev " + device +
                                " root tbf rate " + std::to_string(kRateMbit) +
                                "mbit burst 32kb latency 400ms";
      if (!run(shape)) GTEST_SKIP() << "tc tbf is not available: " << shape;
    }
    // The veth carrier comes up a moment after `link set up`; UCX refuses a down device.
    const auto up = [&](const std::string& ns, const std::string& device) {
      return run("ip netns exec " + ns + " grep -q up /sys/class/net/" + device + "/operstate");
    };
    for (int i = 0; i < 50 && !(up(ns_a_, "veth-a") && up(ns_b_, "veth-b")); ++i) {
      std::this_thread::sleep_for(Ms(100));
    }
    char pattern[] = "/tmp/tandem-netns-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    secret_ = testing::write_secret_file(dir_, "secret", "netns secret");
    wrong_secret_ = testing::write_secret_file(dir_, "wrong", "not the secret");
    // A reaches B's node, B reaches A's node.
    bridge(ns_a_, ns_b_, kPortB, "10.231.0.2");
    bridge(ns_b_, ns_a_, kPortA, "10.231.0.1");
  }

  void TearDown() override {
    children_.clear();
    if (created_) {
      run("ip netns del " + ns_a_);
      run("ip netns del " + ns_b_);
    }
    if (!HasFailure() && !dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Child spawns by path, not through PATH.
  static std::string ip_binary() {
    for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
      if (::access(path, X_OK) == 0) return path;
    }
    return "ip";
  }
  std::vector<std::string> in(const std::string& ns, std::vector<std::string> args) {
    args.insert(args.begin(), {ip_binary(), "netns", "exec", ns});
    return args;
  }

  Child& start(const std::string& log, std::vector<std::string> args) {
    children_.push_back(std::make_unique<Child>(args, dir_ + "/" + log));
    return *children_.back();
  }

  // `from` reaches 127.0.0.1:port of `to` over the veth; `to_address` is to's veth address.
  void bridge(const std::string& from, const std::string& to, int port,
              const std::string& to_address) {
    const std::string veth_port = std::to_string(port + kVethOffset);
    Child& far = start("proxy-far-" + std::to_string(port) + ".log",
                       in(to, {testing::delay_proxy_binary(), to_address + ":" + veth_port,
                               "127.0.0.1", std::to_string(port), std::to_string(kDelayMs)}));
    ASSERT_TRUE(far.wait_for("(delaying)", Ms(3000))) << far.output();
    Child& near = start("proxy-near-" + std::to_string(port) + ".log",
                        in(from, {testing::delay_proxy_binary(), std::to_string(port), to_address,
                                  veth_port, "0"}));
    ASSERT_TRUE(near.wait_for("(delaying)", Ms(3000))) << near.output();
  }

  void start_nodes() {
    Child& n0 = start("n0.log", in(ns_a_, {testing::tandem_binary(), "node", "--listen",
                                           "127.0.0.1:" + std::to_string(kPortA), "--name", "n0",
                                           "--secret-file", secret_, "--heartbeat-ms", "200"}));
    ASSERT_TRUE(n0.wait_for("(listening on)", Ms(5000))) << n0.output();
    Child& n1 = start("n1.log", in(ns_b_, {testing::tandem_binary(), "node", "--listen",
                                           "127.0.0.1:" + std::to_string(kPortB), "--name", "n1",
                                           "--secret-file", secret_, "--heartbeat-ms", "200",
                                           "--join", "127.0.0.1:" + std::to_string(kPortA)}));
    ASSERT_TRUE(n1.wait_for("(listening on)", Ms(5000))) << n1.output();
    n1_ = &n1;
    ASSERT_TRUE(n0.wait_for("member joined: (n1-)", Ms(5000))) << n0.output();
  }

  std::string ns_a_, ns_b_, dir_, secret_, wrong_secret_;
  bool created_ = false;
  Child* n1_ = nullptr;
  std::vector<std::unique_ptr<Child>> children_;
};

TEST_F(NetnsCluster, SplitLogitsLinkNumbersAndWrongSecret) {
  start_nodes();
  const std::string model = testing::reference_path("qwen3moe-tiny-Q8_0.gguf");
  const std::string tokens = "785,2310,326,1129,3362,1403,279,1817,3729,311";

  // (a) split across the namespaces equals one process.
  Child single({testing::tandem_binary(), "logits", model, "--tokens", tokens, "--out",
                dir_ + "/single.f32", "-t", "1"},
               dir_ + "/single.log");
  ASSERT_EQ(single.wait(Ms(20000)), 0) << single.output();
  Child split(
      in(ns_a_, {testing::tandem_binary(), "logits", model, "--tokens", tokens, "--out",
                 dir_ + "/split.f32", "-t", "1", "--join", "127.0.0.1:" + std::to_string(kPortA),
                 "--secret-file", secret_, "--split", "2,2"}),
      dir_ + "/split.log");
  ASSERT_EQ(split.wait(Ms(20000)), 0) << split.output();
  const auto expected = read_floats(dir_ + "/single.f32");
  const auto actual = read_floats(dir_ + "/split.f32");
  ASSERT_EQ(expected.size(), actual.size());
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(expected[i] - actual[i])));
  }
  EXPECT_LE(worst, 1e-5);

  // (b) the link from ns A to n1 as measured: round trip about 2 x delay, bandwidth about
  // the tbf rate (less Ethernet/IP/TCP headers).
  Child status(
      in(ns_a_, {testing::tandem_binary(), "cluster", "status", "--join",
                 "127.0.0.1:" + std::to_string(kPortA), "--secret-file", secret_, "--json",
                 "--pings", "5", "--bulk-bytes", std::to_string(3u << 20), "--no-node-links"}),
      dir_ + "/status.log");
  ASSERT_EQ(status.wait(Ms(20000)), 0) << status.output();
  const std::string text = status.output();
  const auto json = nlohmann::json::parse(text.substr(text.find('{')));
  bool found = false;
  for (const auto& link : json.at("links")) {
    if (link.at("to").get<std::string>().rfind("n1-", 0) != 0) continue;
    found = true;
    const double round_trip_ms = link.at("latency_median_us").get<double>() / 1e3;
    const double rate_mbit = link.at("bandwidth_bytes_per_s").get<double>() * 8 / 1e6;
    EXPECT_GE(round_trip_ms, 2 * kDelayMs * 0.9) << text;
    EXPECT_LE(round_trip_ms, 2 * kDelayMs + 10) << text;
    EXPECT_GE(rate_mbit, kRateMbit * 0.7) << text;
    EXPECT_LE(rate_mbit, kRateMbit * 1.1) << text;
  }
  EXPECT_TRUE(found) << text;

  // Placement uses the measured link: forced to split, the plan prints n0's hop to n1 as
  // about half the round trip; left to itself, it keeps the tiny model on one node.
  Child split_plan(in(ns_a_, {testing::tandem_binary(), "plan", model, "--join",
                              "127.0.0.1:" + std::to_string(kPortA), "--secret-file", secret_,
                              "--split", "2,2"}),
                   dir_ + "/plan-split.log");
  ASSERT_EQ(split_plan.wait(Ms(20000)), 0) << split_plan.output();
  const auto one_way = split_plan.wait_for("\\(link ([0-9.]+) ms", Ms(10));
  ASSERT_TRUE(one_way) << split_plan.output();
  EXPECT_GE(std::stod(*one_way), kDelayMs * 0.9) << split_plan.output();
  EXPECT_LE(std::stod(*one_way), kDelayMs + 5.0) << split_plan.output();
  Child free_plan(in(ns_a_, {testing::tandem_binary(), "plan", model, "--join",
                             "127.0.0.1:" + std::to_string(kPortA), "--secret-file", secret_}),
                  dir_ + "/plan.log");
  ASSERT_EQ(free_plan.wait(Ms(20000)), 0) << free_plan.output();
  EXPECT_TRUE(free_plan.wait_for("(layers +0-3 +\\[embed\\] \\[output\\])", Ms(10)))
      << free_plan.output();

  // (c) a peer with the wrong secret, across the namespaces, is refused.
  Child wrong(in(ns_a_, {testing::tandem_binary(), "cluster", "status", "--join",
                         "127.0.0.1:" + std::to_string(kPortB), "--secret-file", wrong_secret_}),
              dir_ + "/wrong.log");
  EXPECT_NE(wrong.wait(Ms(10000)), 0) << wrong.output();
  EXPECT_TRUE(n1_->wait_for("(refused)", Ms(2000))) << n1_->output();
}

// The same split over UCX, its TCP transport on the veth (UCX_TLS=tcp: the namespaces
// share /dev/shm, which UCX would otherwise use), nodes listening on the veth addresses.
TEST_F(NetnsCluster, SplitLogitsOverUcxAcrossNamespaces) {
  const auto ucx = [&](const std::string& device, std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "UCX_TLS=tcp", "UCX_NET_DEVICES=" + device});
    return args;
  };
  Child& n0 = start(
      "ucx-n0.log",
      in(ns_a_, ucx("veth-a", {testing::tandem_binary(), "node", "--listen", "10.231.0.1:7721",
                               "--name", "n0", "--secret-file", secret_, "--transport", "ucx"})));
  ASSERT_TRUE(n0.wait_for("(listening on)", Ms(5000))) << n0.output();
  Child& n1 =
      start("ucx-n1.log",
            in(ns_b_, ucx("veth-b", {testing::tandem_binary(), "node", "--listen",
                                     "10.231.0.2:7722", "--name", "n1", "--secret-file", secret_,
                                     "--transport", "ucx", "--join", "10.231.0.1:7721"})));
  ASSERT_TRUE(n1.wait_for("(listening on)", Ms(5000))) << n1.output();
  ASSERT_TRUE(n0.wait_for("member joined: (n1-)", Ms(5000))) << n0.output();
  const std::string model = testing::reference_path("qwen3moe-tiny-Q8_0.gguf");
  const std::string tokens = "785,2310,326,1129,3362,1403,279,1817";
  Child single({testing::tandem_binary(), "logits", model, "--tokens", tokens, "--out",
                dir_ + "/single.f32", "-t", "1"},
               dir_ + "/single.log");
  ASSERT_EQ(single.wait(Ms(20000)), 0) << single.output();
  Child split(
      in(ns_a_, ucx("veth-a", {testing::tandem_binary(), "logits", model, "--tokens", tokens,
                               "--out", dir_ + "/split.f32", "-t", "1", "--join", "10.231.0.1:7721",
                               "--secret-file", secret_, "--split", "2,2", "--transport", "ucx"})),
      dir_ + "/split.log");
  ASSERT_EQ(split.wait(Ms(20000)), 0) << split.output() << n0.output() << n1.output();
  const auto expected = read_floats(dir_ + "/single.f32");
  const auto actual = read_floats(dir_ + "/split.f32");
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(expected[i], actual[i], 1e-5) << i;
}

}  // namespace
}  // namespace tandem
