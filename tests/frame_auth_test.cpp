// Frame authentication after the handshake, over TCP with the test in the middle: the
// client and the server each talk to a raw socket of the test, which passes frames on,
// alters, replays, reorders, reflects or forges them. Also the tag layout, the MAC
// against one-shot HMAC, an old peer's version, and the cost of one MAC.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <future>

#include "cluster/auth.h"
#include "cluster/frame_auth.h"
#include "cluster/tcp_transport.h"
#include "error_text.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

constexpr Milliseconds kTimeout{2000};

using testing::error_of;

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(seed + i * 37 + (i >> 9));
  return out;
}

std::vector<uint8_t> concat(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  std::vector<uint8_t> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// One frame exactly as it crossed the wire: header | tag (when flagged) | payload.
std::vector<uint8_t> read_raw_frame(const Socket& socket) {
  const Deadline deadline = deadline_after(kTimeout);
  std::vector<uint8_t> bytes(kFrameHeaderSize);
  receive_all(socket, bytes, deadline);
  const FrameHeader header =
      decode_frame_header(std::span<const uint8_t, kFrameHeaderSize>(bytes.data(), 16));
  const size_t tag = (header.flags & kFlagAuthenticated) != 0 ? kFrameTagSize : 0;
  bytes.resize(kFrameHeaderSize + tag + header.payload_length);
  receive_all(socket, std::span(bytes).subspan(kFrameHeaderSize), deadline);
  return bytes;
}

void write_raw(const Socket& socket, std::span<const uint8_t> bytes) {
  send_all(socket, bytes, deadline_after(kTimeout));
}

// client <-> to_client (raw) | test | to_server (raw) <-> server, handshake relayed.
struct FrameAuthRelay : ::testing::Test {
  void SetUp() override {
    Socket relay_listener = tcp_listen({"127.0.0.1", 0});
    client = transport.connect(local_address(relay_listener), kTimeout);
    to_client = std::move(*tcp_accept(relay_listener, kTimeout));
    to_server = tcp_connect(listener->address(), kTimeout);
    server = listener->accept(kTimeout);
    ASSERT_TRUE(server);
    auto served = std::async(std::launch::async, [&] {
      return authenticate_server(*server, secret, "server-1", kTimeout);
    });
    auto joined = std::async(std::launch::async, [&] {
      return authenticate_client(*client, secret, "client-1", kTimeout);
    });
    pass_to_server();  // hello
    pass_to_client();  // challenge
    pass_to_server();  // client proof
    pass_to_client();  // server proof
    server_keys = served.get().keys;
    client_keys = joined.get().keys;
  }

  std::vector<uint8_t> pass_to_server() {
    auto bytes = read_raw_frame(*to_client);
    write_raw(*to_server, bytes);
    return bytes;
  }
  std::vector<uint8_t> pass_to_client() {
    auto bytes = read_raw_frame(*to_server);
    write_raw(*to_client, bytes);
    return bytes;
  }
  // The client sends a 16 KiB tensor; returns its frame as the test saw it.
  std::vector<uint8_t> client_sends(uint32_t tag) {
    client->send_message(TensorMessage{7, tag, pattern(16 << 10, static_cast<uint8_t>(tag))});
    return read_raw_frame(*to_client);
  }
  // What the server says about `bytes`, and that the link stays closed afterwards.
  std::string server_refuses(std::span<const uint8_t> bytes) {
    write_raw(*to_server, bytes);
    const std::string error = error_of([&] { server->receive(kTimeout); });
    const auto start = Clock::now();
    EXPECT_EQ(error_of([&] { server->receive(kTimeout); }), error);
    EXPECT_LT(Clock::now() - start, Milliseconds(500));  // refused at once, not a timeout
    EXPECT_NE(error.find(server->peer()), std::string::npos) << error;
    return error;
  }

  const Secret secret = Secret::from_string("frame secret");
  TcpTransport transport{TcpOptions{kTimeout}};
  std::unique_ptr<Listener> listener = transport.listen({"127.0.0.1", 0});
  std::unique_ptr<Connection> client;
  std::unique_ptr<Connection> server;
  std::optional<Socket> to_client;
  std::optional<Socket> to_server;
  LinkKeys client_keys;
  LinkKeys server_keys;
};

TEST(FrameAuth, TagLayoutIsLittleEndian) {
  FrameTag tag;
  tag.sequence = 0x0102030405060708ull;
  for (size_t i = 0; i < tag.mac.size(); ++i) tag.mac[i] = static_cast<uint8_t>(0xa0 + i);
  const auto bytes = encode_frame_tag(tag);
  const std::array<uint8_t, 8> sequence = {8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_TRUE(std::equal(sequence.begin(), sequence.end(), bytes.begin()));
  EXPECT_EQ(bytes[8], 0xa0);
  EXPECT_EQ(bytes[23], 0xaf);
  const FrameTag back = decode_frame_tag(bytes);
  EXPECT_EQ(back.sequence, tag.sequence);
  EXPECT_EQ(back.mac, tag.mac);
}

TEST(FrameAuth, MacIsTruncatedHmacOfHeaderSequenceAndPayload) {
  Mac key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 3);
  const auto header = encode_frame_header({MessageType::kActivations, kFlagAuthenticated, 300});
  const auto payload = pattern(300, 1);
  const std::array<uint8_t, 8> sequence = {42, 0, 0, 0, 0, 0, 0, 0};
  const Mac reference = hmac_sha256(key, concat(concat(header, sequence), payload));
  FrameMac mac(key);
  for (int repeat = 0; repeat < 3; ++repeat) {  // the reused context gives the same answer
    const FrameMacBytes computed = mac.compute(header, 42, payload);
    EXPECT_TRUE(std::equal(computed.begin(), computed.end(), reference.begin()));
  }
  EXPECT_NE(mac.compute(header, 43, payload), mac.compute(header, 42, payload));
  key[0] ^= 1;
  EXPECT_NE(FrameMac(key).compute(header, 42, payload), mac.compute(header, 42, payload));
}

TEST(FrameAuth, OpenerAcceptsOnlyTheNextSequence) {
  Mac key{};
  key[5] = 9;
  FrameSealer sealer(key);
  FrameOpener opener(key);
  const auto payload = pattern(64, 2);
  const FrameHeader header{MessageType::kTensor, kFlagAuthenticated, 64};
  const auto header_bytes = encode_frame_header(header);
  const FrameTag first = sealer.seal(header_bytes, payload);
  const FrameTag second = sealer.seal(header_bytes, payload);
  EXPECT_EQ(first.sequence, 0u);
  EXPECT_EQ(second.sequence, 1u);
  EXPECT_NE(opener.check(header, second, payload).find("sequence 1, expected 0"),
            std::string::npos);
  EXPECT_EQ(opener.check(header, first, payload), "");
  EXPECT_NE(opener.check(header, first, payload).find("replayed"), std::string::npos);
  EXPECT_EQ(opener.check(header, second, payload), "");
}

TEST_F(FrameAuthRelay, TrafficPassesBothWays) {
  for (uint32_t i = 0; i < 3; ++i) {
    write_raw(*to_server, client_sends(i));
    const auto got = server->receive_message<TensorMessage>(kTimeout);
    EXPECT_EQ(got.tag, i);
    EXPECT_EQ(got.data, pattern(16 << 10, static_cast<uint8_t>(i)));
    server->send_message(Pong{i, 5});
    const auto frame = pass_to_client();
    EXPECT_EQ(frame.size(), kFrameHeaderSize + kFrameTagSize + 16);
    EXPECT_EQ(client->receive_message<Pong>(kTimeout).sequence, i);
  }
  // Every frame after the handshake is tagged, with consecutive sequence numbers.
  const auto frame = client_sends(9);
  const FrameHeader header =
      decode_frame_header(std::span<const uint8_t, kFrameHeaderSize>(frame.data(), 16));
  EXPECT_EQ(header.flags, kFlagAuthenticated);
  EXPECT_EQ(
      decode_frame_tag(std::span<const uint8_t, kFrameTagSize>(frame.data() + 16, 24)).sequence,
      3u);
}

TEST_F(FrameAuthRelay, FlippedPayloadBitIsRefused) {
  auto frame = client_sends(1);
  frame[kFrameHeaderSize + kFrameTagSize + 5000] ^= 0x10;
  EXPECT_NE(server_refuses(frame).find("wrong MAC on a tensor frame"), std::string::npos);
}

TEST_F(FrameAuthRelay, AlteredHeaderIsRefused) {
  auto frame = client_sends(1);
  frame[6] = static_cast<uint8_t>(MessageType::kActivations);  // another bulk type
  EXPECT_NE(server_refuses(frame).find("wrong MAC on a activations frame"), std::string::npos);
}

TEST_F(FrameAuthRelay, ReplayedFrameIsRefused) {
  const auto frame = client_sends(1);
  write_raw(*to_server, frame);
  EXPECT_EQ(server->receive_message<TensorMessage>(kTimeout).tag, 1u);
  EXPECT_NE(server_refuses(frame).find("sequence 0, expected 1 (replayed)"), std::string::npos);
}

TEST_F(FrameAuthRelay, ReorderedFramesAreRefused) {
  client_sends(1);  // held back
  const auto second = client_sends(2);
  EXPECT_NE(server_refuses(second).find("sequence 1, expected 0"), std::string::npos);
}

TEST_F(FrameAuthRelay, WrongSequenceIsRefusedEvenWithItsOwnValidMac) {
  // Forged with the real key: only the sequence number is wrong.
  auto frame = client_sends(1);
  const auto header = std::span<const uint8_t, kFrameHeaderSize>(frame.data(), 16);
  const auto payload = std::span<const uint8_t>(frame).subspan(kFrameHeaderSize + kFrameTagSize);
  const FrameTag forged{5, FrameMac(client_keys.send).compute(header, 5, payload)};
  const auto tag = encode_frame_tag(forged);
  std::copy(tag.begin(), tag.end(), frame.begin() + kFrameHeaderSize);
  EXPECT_NE(server_refuses(frame).find("sequence 5, expected 0"), std::string::npos);
}

TEST_F(FrameAuthRelay, AlteredSequenceFieldIsRefused) {
  auto frame = client_sends(1);
  frame[kFrameHeaderSize] ^= 1;  // sequence 0 -> 1, MAC left as it was
  EXPECT_NE(server_refuses(frame).find("wrong MAC"), std::string::npos);
}

TEST_F(FrameAuthRelay, FrameOfTheOtherDirectionIsRefused) {
  // The server's own first frame (sequence 0, as the server expects next) reflected back.
  server->send_message(TensorMessage{7, 1, pattern(16 << 10, 1)});
  const auto reflected = read_raw_frame(*to_server);
  EXPECT_NE(server_refuses(reflected).find("wrong MAC"), std::string::npos);
}

TEST_F(FrameAuthRelay, FrameMacdWithTheOtherDirectionsKeyIsRefused) {
  auto frame = client_sends(1);
  const auto header = std::span<const uint8_t, kFrameHeaderSize>(frame.data(), 16);
  const auto payload = std::span<const uint8_t>(frame).subspan(kFrameHeaderSize + kFrameTagSize);
  ASSERT_EQ(server_keys.send, client_keys.receive);
  const auto tag = encode_frame_tag({0, FrameMac(server_keys.send).compute(header, 0, payload)});
  std::copy(tag.begin(), tag.end(), frame.begin() + kFrameHeaderSize);
  EXPECT_NE(server_refuses(frame).find("wrong MAC"), std::string::npos);
}

TEST_F(FrameAuthRelay, UntaggedFrameAfterTheHandshakeIsRefused) {
  const auto untagged = encode_frame(to_frame(Ping{3}));
  EXPECT_NE(server_refuses(untagged).find("ping frame without a MAC"), std::string::npos);
}

TEST_F(FrameAuthRelay, LengthBoundIsCheckedBeforeTheMac) {
  // A header alone: refused on its length without waiting for a tag or a payload.
  const auto header = encode_frame_header({MessageType::kTensor, kFlagAuthenticated, 1u << 20});
  write_raw(*to_server, header);
  const auto start = Clock::now();
  const std::string error = error_of([&] { server->receive(kTimeout, kMaxControlPayload); });
  EXPECT_NE(error.find("exceeds the limit of 65536"), std::string::npos) << error;
  EXPECT_LT(Clock::now() - start, Milliseconds(500));
}

TEST(FrameAuth, OldProtocolPeerIsRefusedWithTheVersion) {
  TcpTransport transport{TcpOptions{kTimeout}};
  auto listener = transport.listen({"127.0.0.1", 0});
  const Socket old_peer = tcp_connect(listener->address(), kTimeout);
  auto server = listener->accept(kTimeout);
  ASSERT_TRUE(server);
  auto served = std::async(std::launch::async, [&] {
    return error_of([&] { authenticate_server(*server, Secret::from_string("k"), "s", kTimeout); });
  });
  // A version 1 hello, written by hand: header, then node id "old" and a zero nonce.
  std::vector<uint8_t> hello = {'T', 'N', 'D', 'M', 1, 0, 1, 0, 0,   0,   0,  0,
                                39,  0,   0,   0,   3, 0, 0, 0, 'o', 'l', 'd'};
  hello.resize(16 + 39);
  write_raw(old_peer, hello);
  const auto reply = read_raw_frame(old_peer);
  const auto refusal = from_frame<ErrorMessage>(decode_frame(reply));
  EXPECT_NE(refusal.message.find("protocol version 1, this node speaks 2"), std::string::npos)
      << refusal.message;
  const std::string error = served.get();
  EXPECT_NE(error.find("authentication failed"), std::string::npos) << error;
  EXPECT_NE(error.find("protocol version 1"), std::string::npos) << error;
}

TEST(FrameAuth, TaggedFrameBeforeTheHandshakeIsRefused) {
  TcpTransport transport{TcpOptions{kTimeout}};
  auto listener = transport.listen({"127.0.0.1", 0});
  const Socket peer = tcp_connect(listener->address(), kTimeout);
  auto server = listener->accept(kTimeout);
  ASSERT_TRUE(server);
  const auto header = encode_frame_header({MessageType::kPing, kFlagAuthenticated, 8});
  write_raw(peer,
            concat(concat(header, std::array<uint8_t, kFrameTagSize>{}), std::array<uint8_t, 8>{}));
  const std::string error = error_of([&] { server->receive(kTimeout); });
  EXPECT_NE(error.find("authenticated frame before the handshake"), std::string::npos) << error;
}

TEST(FrameAuth, CostOfOneMacOnAnActivationFrame) {
  // The added work per frame and hop: one MAC on each side over a 16 KiB payload.
  Mac key{};
  key[0] = 1;
  FrameSealer sealer(key);
  const auto header = encode_frame_header({MessageType::kActivations, kFlagAuthenticated, 16384});
  const auto payload = pattern(16 << 10, 3);
  constexpr int kFrames = 2000;
  uint8_t sink = 0;
  const auto start = Clock::now();
  for (int i = 0; i < kFrames; ++i) sink ^= sealer.seal(header, payload).mac[0];
  const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  std::printf("[ frame MAC ] 16 KiB payload: %.2f us per frame (%.2f GB/s), sink %u\n",
              us / kFrames, kFrames * 16384.0 / us / 1e3, sink);
  RecordProperty("mac_us_per_16k_frame", std::to_string(us / kFrames));
  EXPECT_EQ(sealer.seal(header, payload).sequence, static_cast<uint64_t>(kFrames));
}

}  // namespace
}  // namespace tandem::cluster
