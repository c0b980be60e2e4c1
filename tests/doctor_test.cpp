// The doctor's gates on fabricated facts (thresholds, messages, fixes), the model hash
// and its sidecar, and the model-file query on the wire and against an in-process node.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "cluster/doctor.h"
#include "cluster/model_hash.h"
#include "cluster/node.h"
#include "cluster/tcp_transport.h"
#include "cluster/wire.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' not in '" << text << "'";
}

constexpr uint64_t kGiB = 1ull << 30;

NodeInfo node(const std::string& id, const std::string& name) {
  NodeInfo n;
  n.node_id = id;
  n.name = name;
  n.tandem_version = "0.1.0";
  n.listen_address = "127.0.0.1:1";
  n.cache_dir = "/cache/" + name;
  return n;
}

LinkReport link(const std::string& from, const std::string& to, double latency_us,
                double bytes_per_s, double offset_us = 0) {
  LinkReport l;
  l.from_node = from;
  l.to_node = to;
  l.latency_median_us = latency_us;
  l.latency_min_us = latency_us;
  l.bandwidth_bytes_per_s = bytes_per_s;
  l.clock_offset_us = offset_us;
  return l;
}

// Four layers of 1 GiB weights each, 1 KiB of KV per token, no embedding or head.
ModelFootprint four_gib_model() {
  ModelFootprint model;
  for (int i = 0; i < 4; ++i) {
    LayerFootprint layer;
    layer.weight_bytes = kGiB;
    layer.active_bytes_per_token = kGiB;
    layer.kv_bytes_per_token = 1024;
    model.layers.push_back(layer);
  }
  model.hidden_size = 1024;
  model.context_length = 4096;
  return model;
}

TEST(DoctorGates, CpuWarnsWithoutSimd) {
  const Gate plain = simd_gate("none", 4);
  EXPECT_EQ(plain.status, GateStatus::kWarn);
  EXPECT_TRUE(contains(plain.fix, "AVX2"));
  const Gate fast = simd_gate("avx2", 8);
  EXPECT_EQ(fast.status, GateStatus::kPass);
  EXPECT_EQ(fast.measured, "avx2, 8 cores");
  EXPECT_TRUE(fast.fix.empty());
}

TEST(DoctorGates, MemoryWarnsBelowTheThreshold) {
  const DoctorThresholds limits;  // 2 GiB
  const Gate low = memory_gate(kGiB, 16 * kGiB, limits);
  EXPECT_EQ(low.status, GateStatus::kWarn);
  EXPECT_EQ(low.measured, "1.00 GiB available of 16.00 GiB");
  EXPECT_EQ(memory_gate(2 * kGiB, 16 * kGiB, limits).status, GateStatus::kPass);
}

TEST(DoctorGates, BandwidthBoundsTokensPerSecond) {
  const DoctorThresholds limits;  // 4 GiB/s
  // 10 GiB/s over 10 MiB read per token: 1024 tokens per second at most.
  const Gate fast = bandwidth_gate(10.0 * kGiB, 10u << 20, limits);
  EXPECT_EQ(fast.status, GateStatus::kPass);
  EXPECT_TRUE(contains(fast.measured, "10.0 GiB/s read"));
  EXPECT_TRUE(contains(fast.measured, "at most 1024 tok/s"));
  const Gate slow = bandwidth_gate(1.0 * kGiB, 0, limits);
  EXPECT_EQ(slow.status, GateStatus::kWarn);
  EXPECT_EQ(slow.measured, "1.0 GiB/s read");
}

TEST(DoctorGates, ModelFileNeedsAParseAndAKnownArchitecture) {
  EXPECT_EQ(model_file_gate("m.gguf", "qwen35moe", "").status, GateStatus::kPass);
  EXPECT_EQ(model_file_gate("m.gguf", "qwen3", "").status, GateStatus::kPass);
  const Gate llama = model_file_gate("m.gguf", "llama", "");
  EXPECT_EQ(llama.status, GateStatus::kFail);
  EXPECT_TRUE(contains(llama.fix, "qwen3, qwen3moe or qwen35moe"));
  const Gate broken = model_file_gate("m.gguf", "", "m.gguf: truncated");
  EXPECT_EQ(broken.status, GateStatus::kFail);
  EXPECT_EQ(broken.measured, "m.gguf: truncated");
}

TEST(DoctorGates, ModelHashSaysWhereAndHowLong) {
  FileHash hash;
  hash.sha256 = std::string(64, 'a');
  hash.size_bytes = kGiB;
  hash.seconds = 1.5;
  hash.sidecar = "/c/m.sha256";
  const Gate computed = model_hash_gate(hash, "");
  EXPECT_EQ(computed.status, GateStatus::kPass);
  EXPECT_TRUE(contains(computed.measured, "computed in 1.50 s, cached in /c/m.sha256"));
  hash.cached = true;
  EXPECT_TRUE(contains(model_hash_gate(hash, "").measured, "cached in /c/m.sha256"));
  EXPECT_EQ(model_hash_gate(hash, "unreadable").status, GateStatus::kFail);
}

TEST(DoctorGates, ReachNamesTheSecretFixForRefusals) {
  const ClusterStatus none;
  const Gate refused = reach_gate(
      "h:1", "authentication with 127.0.0.1:1 refused: authentication failed: bad proof", none);
  EXPECT_EQ(refused.status, GateStatus::kFail);
  EXPECT_TRUE(contains(refused.fix, "use the same secret file on every node"));
  const Gate down = reach_gate("h:1", "connect to h:1: Connection refused", none);
  EXPECT_EQ(down.status, GateStatus::kFail);
  EXPECT_TRUE(contains(down.fix, "start `tandem node` on h:1"));

  ClusterStatus status;
  status.members = {{"a-1", "a", "h:1"}, {"b-2", "b", "h:2"}};
  status.nodes = {node("a-1", "a")};
  status.errors = {"b-2 at h:2: authentication with h:2 refused: bad proof",
                   "link a-1 -> b-2: timeout"};
  const Gate partial = reach_gate("h:1", "", status);
  EXPECT_EQ(partial.status, GateStatus::kFail);
  EXPECT_TRUE(contains(partial.measured, "1 of 2 members unreachable"));
  EXPECT_FALSE(contains(partial.measured, "link a-1"));
  EXPECT_TRUE(contains(partial.fix, "same secret file"));
  status.errors = {"link a-1 -> b-2: timeout"};
  status.nodes.push_back(node("b-2", "b"));
  EXPECT_EQ(reach_gate("h:1", "", status).status, GateStatus::kPass);
}

TEST(DoctorGates, VersionsMustMatchEverywhere) {
  std::vector<NodeInfo> nodes = {node("a-1", "a"), node("b-2", "b")};
  EXPECT_EQ(version_gate(nodes, "0.1.0").status, GateStatus::kPass);
  nodes[1].tandem_version = "0.2.0";
  const Gate mixed = version_gate(nodes, "0.1.0");
  EXPECT_EQ(mixed.status, GateStatus::kFail);
  EXPECT_TRUE(contains(mixed.measured, "b 0.2.0"));
  EXPECT_TRUE(contains(mixed.fix, "same tandem build"));
}

TEST(DoctorGates, LinksSayWhatTheyCostPerToken) {
  const std::vector<NodeInfo> nodes = {node("a-1", "a"), node("b-2", "b")};
  const DoctorThresholds limits;  // 2000 us, 100 MB/s, 512-token prefill
  const std::vector<LinkReport> links = {
      link("client", "a-1", 10, 1e9),  // the doctor's own link: not a gate
      link("a-1", "b-2", 200, 1e9),    // good
      link("b-2", "a-1", 5000, 1e9),   // slow round trip
      link("a-1", "b-2", 100, 50e6),   // thin pipe
  };
  LinkReport broken = link("b-2", "a-1", 0, 0);
  broken.error = "connect: refused";
  std::vector<LinkReport> all = links;
  all.push_back(broken);
  const auto gates = link_gates(all, nodes, 1024, limits);
  ASSERT_EQ(gates.size(), 4u);
  EXPECT_EQ(gates[0].name, "link a -> b");
  EXPECT_EQ(gates[0].status, GateStatus::kPass);
  // Half the 200 us round trip plus 4 KiB at 1 GB/s: 104.1 us per token.
  EXPECT_TRUE(contains(gates[0].measured, "200 us round trip"));
  EXPECT_TRUE(contains(gates[0].measured, "+0.10 ms per token"));
  EXPECT_TRUE(contains(gates[0].measured, "at most 9607 tok/s"));
  // 512 x 4 KiB at 1 GB/s.
  EXPECT_TRUE(contains(gates[0].measured, "prefill crosses in 2.10 ms"));
  EXPECT_EQ(gates[1].status, GateStatus::kWarn);
  EXPECT_TRUE(contains(gates[1].fix, "round trip above 2000 us"));
  EXPECT_EQ(gates[2].status, GateStatus::kWarn);
  EXPECT_TRUE(contains(gates[2].fix, "prefill"));
  EXPECT_EQ(gates[3].status, GateStatus::kFail);
  EXPECT_EQ(gates[3].measured, "connect: refused");
}

TEST(DoctorGates, RdmaAbsentFallsBackToTcp) {
  std::vector<NodeInfo> nodes = {node("a-1", "a"), node("b-2", "b")};
  nodes[0].rdma_devices = {"mlx5_0"};
  const Gate partial = rdma_gate(nodes);
  EXPECT_EQ(partial.status, GateStatus::kWarn);
  EXPECT_TRUE(contains(partial.measured, "no RDMA device on b"));
  EXPECT_TRUE(contains(partial.measured, "fall back to TCP"));
  nodes[1].rdma_devices = {"mlx5_0", "mlx5_1"};
  const Gate all = rdma_gate(nodes);
  EXPECT_EQ(all.status, GateStatus::kPass);
  EXPECT_EQ(all.measured, "a: mlx5_0; b: mlx5_0 mlx5_1");
}

TEST(DoctorGates, ClockSkewWarnsAboveTheThreshold) {
  const DoctorThresholds limits;  // 100 ms
  const std::vector<NodeInfo> nodes = {node("a-1", "a"), node("b-2", "b")};
  EXPECT_EQ(clock_gate({}, nodes, limits).status, GateStatus::kPass);
  std::vector<LinkReport> links = {link("a-1", "b-2", 100, 1e9, 300),
                                   link("b-2", "a-1", 100, 1e9, -250'000)};
  const Gate skewed = clock_gate(links, nodes, limits);
  EXPECT_EQ(skewed.status, GateStatus::kWarn);
  EXPECT_TRUE(contains(skewed.measured, "250.00 ms (b -> a)"));
  EXPECT_TRUE(contains(skewed.fix, "NTP"));
  links[1].error = "timeout";  // a failed measurement says nothing of the clocks
  EXPECT_EQ(clock_gate(links, nodes, limits).status, GateStatus::kPass);
  links.push_back(link("client", "a-1", 100, 1e9, 200'000));
  EXPECT_TRUE(contains(clock_gate(links, nodes, limits).measured, "200.00 ms (here -> a)"));
}

TEST(DoctorGates, MemoryPlanFailsWithTheNumbers) {
  const ModelFootprint model = four_gib_model();
  PlacementOptions options;  // 4096 tokens, 1 sequence, 256 MiB overhead per node
  const std::vector<NodeCapacity> two = {{"a", 3 * kGiB, 10.0 * kGiB, 1e-4, 1e9},
                                         {"b", 3 * kGiB, 10.0 * kGiB, 0, 0}};
  const PlanCheck fits = memory_plan_gate(model, two, options);
  EXPECT_EQ(fits.gate.status, GateStatus::kPass) << fits.gate.measured;
  ASSERT_TRUE(fits.placement);
  EXPECT_EQ(fits.placement->stages.size(), 2u);
  // 2 GiB of weights + 2 layers x 4096 tokens x 1 KiB of KV (8 MiB) + 256 MiB overhead.
  EXPECT_TRUE(contains(fits.gate.measured, "a layers 0-1 needs 2.26 GiB of 3.00 GiB free"));

  const PlanCheck one = memory_plan_gate(model, {two[0]}, options);
  EXPECT_EQ(one.gate.status, GateStatus::kFail);
  EXPECT_FALSE(one.placement);
  EXPECT_TRUE(contains(one.gate.measured, "does not fit"));
  EXPECT_TRUE(contains(one.gate.measured, "3.00 GiB"));
  EXPECT_TRUE(contains(one.gate.fix, "--ctx (now 4096)"));

  options.context_length = 1ull << 20;  // 1 GiB of KV per node: no longer fits on two
  EXPECT_EQ(memory_plan_gate(model, two, options).gate.status, GateStatus::kFail);
}

TEST(DoctorGates, DiskNeedsRoomForEachShardUnlessTheModelIsThere) {
  std::vector<NodeInfo> nodes = {node("a-1", "a"), node("b-2", "b")};
  nodes[0].disk_free_bytes = 10 * kGiB;
  nodes[1].disk_free_bytes = kGiB;
  Placement placement;
  StagePlan first;
  first.node = 0;
  first.weight_bytes = 2 * kGiB;
  StagePlan second = first;
  second.node = 1;
  placement.stages = {first, second};
  const Gate short_of = disk_gate(nodes, placement, {false, false});
  EXPECT_EQ(short_of.status, GateStatus::kFail);
  EXPECT_EQ(short_of.measured, "b needs 2.00 GiB in /cache/b, 1.00 GiB free");
  EXPECT_TRUE(contains(short_of.fix, "--cache-dir"));
  const Gate held = disk_gate(nodes, placement, {false, true});
  EXPECT_EQ(held.status, GateStatus::kPass);
  EXPECT_TRUE(contains(held.measured, "b holds the model file"));
}

TEST(DoctorGates, ModelCopiesMustHashTheSame) {
  const std::vector<NodeInfo> nodes = {node("a-1", "a"), node("b-2", "b")};
  const std::string here(64, '1');
  ModelFileReport same{"/m/x.gguf", true, 10, here, 0, ""};
  ModelFileReport other{"/m/x.gguf", true, 10, std::string(64, '2'), 0.5, ""};
  ModelFileReport absent{"/m/x.gguf", false, 0, "", 0, ""};
  ModelFileReport unknown{"", false, 0, "", 0, "unexpected model-file-request"};
  EXPECT_EQ(model_copies_gate(nodes, {same, same}, here).status, GateStatus::kPass);
  const Gate differ = model_copies_gate(nodes, {same, other}, here);
  EXPECT_EQ(differ.status, GateStatus::kFail);
  EXPECT_TRUE(contains(differ.measured, "DIFFERENT: b /m/x.gguf sha256 2222222222222222..."));
  EXPECT_TRUE(contains(differ.fix, "copy the model there again"));
  const Gate missing = model_copies_gate(nodes, {same, absent}, here);
  EXPECT_EQ(missing.status, GateStatus::kWarn);
  EXPECT_TRUE(contains(missing.measured, "absent: b (/m/x.gguf)"));
  EXPECT_EQ(model_copies_gate(nodes, {unknown, same}, here).status, GateStatus::kWarn);
}

class ModelHash : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tandem-hash-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(ModelHash, Sha256MatchesTheStandardVectors) {
  // FIPS 180-2 examples.
  EXPECT_EQ(sha256_file(write("abc", "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_file(write("empty", "")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_THROW(sha256_file(dir_ + "/absent"), Error);
}

TEST_F(ModelHash, SidecarIsKeyedByPathSizeAndTime) {
  const FileStamp stamp{"/m/x.gguf", 123, 456};
  const std::string digest(64, 'c');
  const std::string text = format_sidecar(stamp, digest);
  EXPECT_EQ(text, "tandem-sha256 1\n/m/x.gguf\n123 456\n" + digest + "\n");
  EXPECT_EQ(parse_sidecar(text, stamp), digest);
  EXPECT_FALSE(parse_sidecar(text, FileStamp{"/m/x.gguf", 124, 456}));
  EXPECT_FALSE(parse_sidecar(text, FileStamp{"/m/x.gguf", 123, 457}));
  EXPECT_FALSE(parse_sidecar(text, FileStamp{"/m/y.gguf", 123, 456}));
  EXPECT_FALSE(parse_sidecar("tandem-sha256 1\n/m/x.gguf\n123 456\nnot-hex\n", stamp));
}

TEST_F(ModelHash, ComputesOnceThenReadsTheSidecarUntilTheFileChanges) {
  const std::string path = write("model.gguf", "abc");
  const std::string cache = dir_ + "/cache";
  const FileHash first = hash_model_file(path, cache);
  EXPECT_FALSE(first.cached);
  EXPECT_EQ(first.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(first.size_bytes, 3u);
  EXPECT_EQ(first.sidecar.rfind(cache + "/model.gguf.", 0), 0u) << first.sidecar;
  const FileHash second = hash_model_file(path, cache);
  EXPECT_TRUE(second.cached);
  EXPECT_EQ(second.sha256, first.sha256);
  EXPECT_EQ(second.seconds, 0);
  write("model.gguf", "abcd");  // new size (and time): the sidecar no longer matches
  const FileHash third = hash_model_file(path, cache);
  EXPECT_FALSE(third.cached);
  EXPECT_EQ(third.sha256, "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
  // Another file of the same name elsewhere gets its own sidecar.
  std::filesystem::create_directory(dir_ + "/other");
  const std::string twin = write("other/model.gguf", "abc");
  EXPECT_NE(sidecar_path(stamp_file(twin), cache), third.sidecar);
  EXPECT_FALSE(hash_model_file(twin, cache).cached);
}

TEST(DoctorWire, ModelFileMessagesRoundTrip) {
  const ModelFileRequest request{"x.gguf", true};
  EXPECT_EQ(from_frame<ModelFileRequest>(to_frame(request)), request);
  const ModelFileReport report{"/m/x.gguf", true, 1ull << 40, std::string(64, 'f'), 2.5, ""};
  EXPECT_EQ(from_frame<ModelFileReport>(to_frame(report)), report);
  EXPECT_EQ(max_payload(MessageType::kModelFileReport), kMaxControlPayload);
  Frame bad = to_frame(request);
  bad.payload.back() = 2;  // want_hash is a bool
  EXPECT_THROW(from_frame<ModelFileRequest>(bad), Error);
}

TEST_F(ModelHash, NodeAnswersModelFileQueriesInsideItsModelsDirOnly) {
  std::filesystem::create_directory(dir_ + "/models");
  write("models/x.gguf", "abc");
  write("secret.txt", "not for peers");
  NodeOptions options;
  options.name = "n";
  options.cache_dir = dir_ + "/cache";
  options.models_dir = dir_ + "/models";
  Node node(options, Secret::from_string("s3cret"), std::make_unique<TcpTransport>(), nullptr);
  node.start();
  TcpTransport transport;
  const Secret secret = Secret::from_string("s3cret");
  NodeInfo info = node.info();
  const auto ask = [&](const std::string& name) {
    return query_model_files(transport, secret, {info}, name, true, Milliseconds(5000)).at(0);
  };
  const ModelFileReport found = ask("x.gguf");
  EXPECT_EQ(found.error, "");
  EXPECT_TRUE(found.present);
  EXPECT_EQ(found.size_bytes, 3u);
  EXPECT_EQ(found.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(found.path, dir_ + "/models/x.gguf");
  const ModelFileReport absent = ask("y.gguf");
  EXPECT_FALSE(absent.present);
  EXPECT_EQ(absent.error, "");
  EXPECT_TRUE(contains(ask("../secret.txt").error, "not a plain file name"));
  EXPECT_TRUE(contains(ask("..").error, "not a plain file name"));
  const Secret wrong = Secret::from_string("other");
  const auto refused =
      query_model_files(transport, wrong, {info}, "x.gguf", true, Milliseconds(5000)).at(0);
  EXPECT_TRUE(contains(refused.error, "authentication"));
  node.stop();
}

TEST(Doctor, LocalRdmaGateReportsDevicesAndUcxTransports) {
  const Gate none = local_rdma_gate({}, "posix,self,sysv,tcp", "");
  EXPECT_EQ(none.status, GateStatus::kPass);
  EXPECT_NE(none.measured.find("no RDMA devices; UCX transports posix,self,sysv,tcp"),
            std::string::npos)
      << none.measured;
  const Gate verbs = local_rdma_gate({"mlx5_0"}, "posix,rc_verbs,tcp,ud_verbs", "");
  EXPECT_EQ(verbs.status, GateStatus::kPass);
  EXPECT_NE(verbs.measured.find("RDMA devices mlx5_0"), std::string::npos) << verbs.measured;
  EXPECT_NE(verbs.measured.find("RDMA in use"), std::string::npos) << verbs.measured;
  const Gate unused = local_rdma_gate({"mlx5_0"}, "posix,tcp", "");
  EXPECT_EQ(unused.status, GateStatus::kWarn);
  EXPECT_NE(unused.fix.find("rdma-core"), std::string::npos);
  const Gate broken = local_rdma_gate({}, "", "ucp_init failed");
  EXPECT_EQ(broken.status, GateStatus::kWarn);
  EXPECT_NE(broken.measured.find("UCX cannot start: ucp_init failed"), std::string::npos);
}

}  // namespace
}  // namespace tandem::cluster
