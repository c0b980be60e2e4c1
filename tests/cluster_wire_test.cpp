// Wire format: byte layouts written by hand from the format in cluster/wire.h, round
// trips of every message, and every malformed-input case.

#include <gtest/gtest.h>

#include <cstring>

#include "cluster/wire.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

template <typename Message>
Message round_trip(const Message& message) {
  const std::vector<uint8_t> bytes = encode_frame(to_frame(message));
  return from_frame<Message>(decode_frame(bytes));
}

std::vector<uint8_t> header_bytes(uint16_t version, uint16_t type, uint32_t flags,
                                  uint32_t length) {
  std::vector<uint8_t> out = {'T', 'N', 'D', 'M'};
  out.push_back(version & 0xff);
  out.push_back(version >> 8);
  out.push_back(type & 0xff);
  out.push_back(type >> 8);
  for (int i = 0; i < 4; ++i) out.push_back((flags >> (8 * i)) & 0xff);
  for (int i = 0; i < 4; ++i) out.push_back((length >> (8 * i)) & 0xff);
  return out;
}

void expect_error(std::span<const uint8_t> bytes, const std::string& fragment) {
  try {
    (void)decode_frame(bytes);
    FAIL() << "accepted a frame that should fail with: " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ClusterWire, PingFrameLayoutIsLittleEndian) {
  const auto bytes = encode_frame(to_frame(Ping{0x0102030405060708ull}));
  const std::vector<uint8_t> expected = {'T', 'N', 'D', 'M', 2, 0, 12, 0, 0, 0, 0, 0,
                                         8,   0,   0,   0,   8, 7, 6,  5, 4, 3, 2, 1};
  EXPECT_EQ(bytes, expected);
}

TEST(ClusterWire, StringsAndDoublesLayout) {
  WireWriter out;
  out.string("ab");
  out.f64(1.0);  // IEEE-754: 0x3ff0000000000000
  out.i64(-2);
  const std::vector<uint8_t> expected = {2,    0,    0,    0,    'a',  'b',  0,    0,
                                         0,    0,    0,    0,    0xf0, 0x3f, 0xfe, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(out.take(), expected);
}

TEST(ClusterWire, RoundTripsEveryMessage) {
  Nonce nonce{};
  for (size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<uint8_t>(i * 7 + 1);
  Mac mac{};
  for (size_t i = 0; i < mac.size(); ++i) mac[i] = static_cast<uint8_t>(255 - i);

  EXPECT_EQ(round_trip(Hello{"node-a", nonce}), (Hello{"node-a", nonce}));
  EXPECT_EQ(round_trip(Challenge{"node-b", nonce}), (Challenge{"node-b", nonce}));
  EXPECT_EQ(round_trip(Proof{mac}), Proof{mac});
  EXPECT_EQ(round_trip(ErrorMessage{7, "nope"}), (ErrorMessage{7, "nope"}));
  EXPECT_EQ(round_trip(InfoRequest{}), InfoRequest{});
  EXPECT_EQ(round_trip(MembershipRequest{}), MembershipRequest{});
  EXPECT_EQ(round_trip(Ping{42}), Ping{42});
  EXPECT_EQ(round_trip(Pong{42, -5}), (Pong{42, -5}));
  EXPECT_EQ(round_trip(LinkProbe{3, {1, 2, 3, 4}}), (LinkProbe{3, {1, 2, 3, 4}}));
  EXPECT_EQ(round_trip(LinkProbeAck{3, 4}), (LinkProbeAck{3, 4}));
  EXPECT_EQ(round_trip(LinkMeasureRequest{"127.0.0.1:9", 5, 1 << 20}),
            (LinkMeasureRequest{"127.0.0.1:9", 5, 1 << 20}));
  const LinkReport report{"a", "b", 12.5, 10.25, 1e9, -3.5, "slow"};
  EXPECT_EQ(round_trip(report), report);
  const Member member{"id-1", "one", "127.0.0.1:7700"};
  EXPECT_EQ(round_trip(Join{member}), Join{member});
  const Membership list{{member, {"id-2", "two", "127.0.0.2:7700"}, {"", "", ""}}};
  EXPECT_EQ(round_trip(list), list);
  ClusterId cluster{};
  cluster[0] = 9;
  cluster[15] = 1;
  EXPECT_EQ(round_trip(Beacon{cluster, member}), (Beacon{cluster, member}));
  const TensorMessage tensor{1ull << 40, 3, std::vector<uint8_t>(1000, 0xab)};
  EXPECT_EQ(round_trip(tensor), tensor);

  NodeInfo info;
  info.node_id = "a-1";
  info.name = "a";
  info.tandem_version = "0.1.0";
  info.hostname = "host";
  info.listen_address = "127.0.0.1:1";
  info.memory_total_bytes = 64ull << 30;
  info.memory_available_bytes = 60ull << 30;
  info.cores = 16;
  info.simd = "avx512+vnni";
  info.matmul_gflops = 123.5;
  info.cache_dir = "/var/cache";
  info.disk_free_bytes = 1ull << 40;
  info.disk_total_bytes = 2ull << 40;
  info.rdma_devices = {"mlx5_0", "mlx5_1"};
  info.clock_unix_ns = 1'700'000'000'000'000'000;
  EXPECT_EQ(round_trip(NodeInfoMessage{info}).info, info);
}

TEST(ClusterWire, RefusesWrongMagic) {
  auto bytes = encode_frame(to_frame(Ping{1}));
  bytes[0] = 'X';
  expect_error(bytes, "wrong magic");
  const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  expect_error({reinterpret_cast<const uint8_t*>(http.data()), http.size()}, "wrong magic");
}

TEST(ClusterWire, RefusesOtherVersion) {
  auto bytes = encode_frame(to_frame(Ping{1}));
  bytes[4] = 1;  // the version before frames were authenticated
  expect_error(bytes, "protocol version 1, this node speaks 2");
  bytes[4] = 3;
  expect_error(bytes, "protocol version 3");
}

TEST(ClusterWire, RefusesUnknownTypeAndFlags) {
  expect_error(header_bytes(2, 999, 0, 0), "unknown message type 999");
  expect_error(header_bytes(2, 0, 0, 0), "unknown message type 0");
  expect_error(header_bytes(2, 12, 0x10, 0), "unknown flags");
}

TEST(ClusterWire, RefusesLengthsOverTheBoundBeforeReadingThem) {
  // Headers alone: the bound is checked before any payload is expected or allocated.
  expect_error(header_bytes(2, 12, 0, kMaxControlPayload + 1), "exceeds the bound");
  expect_error(header_bytes(2, 30, 0, kMaxBulkPayload + 1), "exceeds the bound");
  expect_error(header_bytes(2, 30, 0, 0xffffffffu), "exceeds the bound");
  EXPECT_EQ(max_payload(MessageType::kTensor), 256u << 20);
  EXPECT_EQ(max_payload(MessageType::kHello), 64u << 10);
  const auto ok = header_bytes(2, 30, 0, kMaxBulkPayload);
  EXPECT_EQ(
      decode_frame_header(std::span<const uint8_t, kFrameHeaderSize>(ok.data(), 16)).payload_length,
      kMaxBulkPayload);
}

TEST(ClusterWire, RefusesTruncatedFrames) {
  const auto bytes = encode_frame(to_frame(Hello{"node", {}}));
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    expect_error(std::span(bytes).first(cut),
                 cut < kFrameHeaderSize ? "truncated header" : "header says");
  }
  auto longer = bytes;
  longer.push_back(0);
  expect_error(longer, "header says");
}

TEST(ClusterWire, RefusesShortAndOverlongPayloads) {
  // A Ping payload of 7 bytes: the frame is consistent, the message is not.
  Frame frame{MessageType::kPing, 0, std::vector<uint8_t>(7)};
  EXPECT_THROW(from_frame<Ping>(frame), Error);
  frame.payload.resize(9);
  try {
    (void)from_frame<Ping>(frame);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("trailing"), std::string::npos);
  }
}

TEST(ClusterWire, RefusesLengthsLargerThanWhatIsLeft) {
  // Hello whose node id claims 4 GiB: refused without allocating it.
  Frame frame{MessageType::kHello, 0, {0xff, 0xff, 0xff, 0xff, 'a'}};
  try {
    (void)from_frame<Hello>(frame);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos);
  }
  // A member list claiming 100 million entries in 4 bytes.
  Frame list{MessageType::kMembership, 0, {0x00, 0xe1, 0xf5, 0x05}};
  try {
    (void)from_frame<Membership>(list);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot fit"), std::string::npos);
  }
}

TEST(ClusterWire, TypeMismatchAndPeerErrors) {
  try {
    (void)from_frame<Pong>(to_frame(Ping{1}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected ping"), std::string::npos);
  }
  try {
    (void)from_frame<Pong>(to_frame(ErrorMessage{1, "go away"}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("go away"), std::string::npos);
  }
}

}  // namespace
}  // namespace tandem::cluster
