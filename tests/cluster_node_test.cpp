// Node description, membership bookkeeping and link measurement.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "cluster/link.h"
#include "cluster/membership.h"
#include "cluster/node.h"
#include "cluster/node_info.h"
#include "cluster/tcp_transport.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

TEST(ClusterNodeInfo, ParsesMeminfo) {
  const std::string text =
      "MemTotal:       16314780 kB\n"
      "MemFree:          123456 kB\n"
      "MemAvailable:    8000000 kB\n"
      "Buffers:            1000 kB\n";
  const MemoryInfo info = parse_meminfo(text);
  EXPECT_EQ(info.total_bytes, 16314780ull * 1024);
  EXPECT_EQ(info.available_bytes, 8000000ull * 1024);
  EXPECT_THROW(parse_meminfo("MemTotal: 1 kB\n"), Error);
  const MemoryInfo here = read_memory_info();
  EXPECT_GT(here.total_bytes, 0u);
  EXPECT_LE(here.available_bytes, here.total_bytes);
}

TEST(ClusterNodeInfo, ListsRdmaDevicesFromSysfs) {
  char pattern[] = "/tmp/tandem-ib-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  std::filesystem::create_directory(dir + "/mlx5_1");
  std::filesystem::create_directory(dir + "/mlx5_0");
  EXPECT_EQ(list_rdma_devices(dir), (std::vector<std::string>{"mlx5_0", "mlx5_1"}));
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(list_rdma_devices(dir).empty());
}

TEST(ClusterNodeInfo, DiskSpaceFallsBackToAnExistingParent) {
  const DiskSpace space = disk_space("/tmp/tandem-surely-absent/cache");
  EXPECT_GT(space.total_bytes, 0u);
  EXPECT_LE(space.free_bytes, space.total_bytes);
}

TEST(ClusterNodeInfo, MeasuresAndDescribesThisMachine) {
  const auto start = Clock::now();
  const double gflops = measure_matmul_gflops(Milliseconds(50));
  EXPECT_LT(Clock::now() - start, Milliseconds(1000));
  EXPECT_GT(gflops, 0.01);
  EXPECT_LT(gflops, 10000.0);
  const std::string simd = detect_simd_level();
  const std::vector<std::string> known = {"none", "sse2",        "sse4",   "avx",
                                          "avx2", "avx2+vnni",   "avx512", "avx512+vnni",
                                          "neon", "neon+dotprod"};
  EXPECT_NE(std::find(known.begin(), known.end(), simd), known.end()) << simd;
  const NodeInfo info = collect_node_info({"id", "n", "1.0", "127.0.0.1:1", "/tmp"}, gflops);
  EXPECT_EQ(info.node_id, "id");
  EXPECT_EQ(info.tandem_version, "1.0");
  EXPECT_GE(info.cores, 1u);
  EXPECT_FALSE(info.hostname.empty());
  EXPECT_GT(info.disk_total_bytes, 0u);
  EXPECT_NEAR(static_cast<double>(info.clock_unix_ns), static_cast<double>(unix_time_ns()), 5e9);
}

TEST(ClusterMembership, TracksJoinsExpiryAndDeparture) {
  const auto t0 = Clock::now();
  MembershipTable table({"self", "s", "127.0.0.1:1"}, Milliseconds(1000));
  const Member a{"a", "a", "127.0.0.1:2"};
  const Member b{"b", "b", "127.0.0.1:3"};
  EXPECT_TRUE(table.heard_from(a, t0));
  EXPECT_FALSE(table.heard_from(a, t0));
  EXPECT_FALSE(table.heard_from(table.self(), t0));
  EXPECT_TRUE(table.learn(b, t0));
  EXPECT_FALSE(table.learn(b, t0));
  EXPECT_EQ(table.members().size(), 3u);
  EXPECT_EQ(table.peers().size(), 2u);

  // a keeps answering, b falls silent.
  EXPECT_FALSE(table.heard_from(a, t0 + Milliseconds(400)));
  const auto gone = table.expire(t0 + Milliseconds(600), Milliseconds(500));
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].node_id, "b");
  EXPECT_FALSE(table.contains("b"));
  // Gossip from a peer that has not noticed yet does not bring b back...
  EXPECT_FALSE(table.learn(b, t0 + Milliseconds(700)));
  // ...until the departure is forgotten, or b itself speaks.
  EXPECT_TRUE(table.learn(b, t0 + Milliseconds(1700)));
  table.heard_from(a, t0 + Milliseconds(2200));
  table.expire(t0 + Milliseconds(2300), Milliseconds(500));
  EXPECT_FALSE(table.contains("b"));
  EXPECT_TRUE(table.contains("a"));
  EXPECT_TRUE(table.heard_from(b, t0 + Milliseconds(2400)));
  std::vector<std::string> ids;
  for (const Member& m : table.members()) ids.push_back(m.node_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "self"}));  // sorted by id
}

TEST(ClusterLink, MedianOfOddAndEvenCounts) {
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(median({}), 0);
}

TEST(ClusterLink, MeasuresLatencyAndBandwidthOverLoopback) {
  TcpTransport transport;
  auto listener = transport.listen({"127.0.0.1", 0});
  auto client = transport.connect(listener->address(), Milliseconds(1000));
  auto server = listener->accept(Milliseconds(1000));
  auto responder = std::async(std::launch::async, [&] {
    int answered = 0;
    while (server->wait_readable(Milliseconds(2000))) {
      Frame frame;
      try {
        frame = server->receive(Milliseconds(1000));
      } catch (const Error&) {
        break;  // client closed
      }
      if (!answer_link_probe(*server, frame)) break;
      ++answered;
    }
    return answered;
  });
  LinkOptions options;
  options.ping_count = 9;
  options.bulk_bytes = 2u << 20;
  const LinkReport report = measure_link(*client, options);
  client.reset();
  EXPECT_EQ(responder.get(), 10);  // 9 pings + 1 bulk probe
  EXPECT_GT(report.latency_min_us, 0);
  EXPECT_GE(report.latency_median_us, report.latency_min_us);
  EXPECT_LT(report.latency_median_us, 1e6);
  EXPECT_GT(report.bandwidth_bytes_per_s, 1e6);      // loopback does far more than 1 MB/s
  EXPECT_LT(std::abs(report.clock_offset_us), 1e5);  // same clock: offset near zero
}

}  // namespace
}  // namespace tandem::cluster

namespace tandem::cluster {
namespace {

TEST(ClusterNodeRuntime, RefusedPeerIsDisconnectedAndMembersAreShared) {
  std::mutex mutex;
  std::vector<std::string> events;
  const auto sink = [&](const std::string& line) {
    std::lock_guard lock(mutex);
    events.push_back(line);
  };
  NodeOptions options;
  options.name = "first";
  options.heartbeat = Milliseconds(50);
  options.failure_timeout = Milliseconds(500);
  Node first(options, Secret::from_string("k"), std::make_unique<TcpTransport>(), sink);
  first.start();

  // A client with the wrong secret gets an Error frame, then the end of the stream.
  TcpTransport transport;
  auto intruder = transport.connect(first.address(), Milliseconds(1000));
  EXPECT_THROW(authenticate_client(*intruder, Secret::from_string("x"), "x-1", Milliseconds(1000)),
               Error);
  try {
    intruder->send_message(MembershipRequest{});  // the socket may already be closed
    (void)intruder->receive(Milliseconds(1000));
    ADD_FAILURE() << "the refused peer was answered";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_TRUE(what.find("closed by peer") != std::string::npos ||
                what.find("reset") != std::string::npos ||
                what.find("Broken pipe") != std::string::npos)
        << what;
  }

  options.name = "second";
  options.join = first.address();
  Node second(options, Secret::from_string("k"), std::make_unique<TcpTransport>(), sink);
  second.start();
  EXPECT_EQ(second.members().size(), 2u);
  const auto until = Clock::now() + Milliseconds(2000);
  while (first.members().size() < 2 && Clock::now() < until) {
    std::this_thread::sleep_for(Milliseconds(10));
  }
  EXPECT_EQ(first.members(), second.members());
  second.stop();
  first.stop();
  std::lock_guard lock(mutex);
  bool refused = false;
  for (const auto& line : events) refused |= line.rfind("refused", 0) == 0;
  EXPECT_TRUE(refused);
}

}  // namespace
}  // namespace tandem::cluster
