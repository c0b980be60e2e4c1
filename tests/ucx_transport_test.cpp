// The UCX transport in one process, over two workers (as two processes would have):
// frames of every size class both ways, the payload bound, timeouts, shutdown waking a
// blocked reader, a closed peer, and the authenticated handshake and frames on top.

#include <gtest/gtest.h>

#include <future>
#include <numeric>
#include <thread>

#include "cluster/auth.h"
#include "cluster/ucx_transport.h"
#include "error_text.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

using testing::error_of;

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(seed + i * 131 + (i >> 12));
  return out;
}

// connect() returns once the other side accepted (unlike TCP there is no kernel
// backlog), so the two run at once.
struct UcxPair {
  UcxPair() {
    auto connecting = std::async(std::launch::async, [this] {
      return client_side.connect(listener->address(), Milliseconds(5000));
    });
    server = listener->accept(Milliseconds(5000));
    client = connecting.get();
  }
  UcxTransport server_side{UcxOptions{Milliseconds(5000)}};
  UcxTransport client_side{UcxOptions{Milliseconds(5000)}};
  std::unique_ptr<Listener> listener = server_side.listen({"127.0.0.1", 0});
  std::unique_ptr<Connection> server;
  std::unique_ptr<Connection> client;
};

TEST(UcxTransport, ListenerReportsItsPort) {
  UcxTransport transport;
  auto listener = transport.listen({"127.0.0.1", 0});
  EXPECT_EQ(listener->address().host, "127.0.0.1");
  EXPECT_NE(listener->address().port, 0);
  EXPECT_EQ(listener->accept(Milliseconds(50)), nullptr);
  EXPECT_FALSE(transport.transports().empty());
}

TEST(UcxTransport, FramesOfManySizesBothWays) {
  UcxPair pair;
  ASSERT_NE(pair.server, nullptr);
  // Empty, tiny, around the header size, eager sizes, and sizes that go by rendezvous.
  const std::vector<size_t> sizes = {0,        1,    15,     16,     17,     1000,    4096,
                                     8191,     8192, 65'535, 65'536, 65'537, 1 << 20, (1 << 20) + 3,
                                     16u << 20};
  for (size_t size : sizes) {
    SCOPED_TRACE(size);
    const auto there = pattern(size, static_cast<uint8_t>(size));
    pair.client->send(MessageType::kTensor, there);
    const Frame got = pair.server->receive(Milliseconds(5000), kMaxBulkPayload);
    EXPECT_EQ(got.type, MessageType::kTensor);
    EXPECT_EQ(got.payload, there);
    const auto back = pattern(size, static_cast<uint8_t>(size + 7));
    pair.server->send(MessageType::kActivations, back);
    const Frame answer = pair.client->receive(Milliseconds(5000), kMaxBulkPayload);
    EXPECT_EQ(answer.type, MessageType::kActivations);
    EXPECT_EQ(answer.payload, back);
  }
}

TEST(UcxTransport, FramesKeepTheirOrderWhenSentAhead) {
  UcxPair pair;
  // Sent before anything is read: eager and rendezvous frames interleaved.
  std::vector<std::vector<uint8_t>> sent;
  for (size_t i = 0; i < 12; ++i) {
    sent.push_back(pattern(i % 3 == 0 ? (2u << 20) + i : 100 + i, static_cast<uint8_t>(i)));
    pair.client->send(MessageType::kTensor, sent.back());
  }
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(pair.server->receive(Milliseconds(5000), kMaxBulkPayload).payload, sent[i]) << i;
  }
}

TEST(UcxTransport, FrameAtTheBulkLimit) {
  UcxPair pair;
  const auto big = pattern(kMaxBulkPayload, 3);
  auto sender =
      std::async(std::launch::async, [&] { pair.client->send(MessageType::kTensor, big); });
  const Frame got = pair.server->receive(Milliseconds(20'000), kMaxBulkPayload);
  sender.get();
  ASSERT_EQ(got.payload.size(), big.size());
  EXPECT_TRUE(got.payload == big);
}

TEST(UcxTransport, PayloadOverTheCallersLimitIsRefused) {
  UcxPair pair;
  pair.client->send(MessageType::kTensor, pattern(kMaxControlPayload + 1, 1));
  const std::string error =
      error_of([&] { (void)pair.server->receive(Milliseconds(5000), kMaxControlPayload); });
  EXPECT_NE(error.find("exceeds the limit of 65536"), std::string::npos) << error;
  // The connection is unusable afterwards.
  EXPECT_NE(error_of([&] { (void)pair.server->receive(Milliseconds(100)); }), "");
}

TEST(UcxTransport, ReceiveTimesOut) {
  UcxPair pair;
  const auto start = Clock::now();
  const std::string error = error_of([&] { (void)pair.server->receive(Milliseconds(200)); });
  const auto waited = Clock::now() - start;
  EXPECT_NE(error.find("no message within 200 ms"), std::string::npos) << error;
  EXPECT_GE(waited, Milliseconds(190));
  EXPECT_LT(waited, Milliseconds(2000));
  EXPECT_FALSE(pair.client->wait_readable(Milliseconds(50)));
}

TEST(UcxTransport, ShutdownWakesABlockedReader) {
  UcxPair pair;
  auto reader = std::async(std::launch::async, [&] {
    return error_of([&] { (void)pair.server->receive(Milliseconds(30'000)); });
  });
  std::this_thread::sleep_for(Milliseconds(100));
  const auto start = Clock::now();
  pair.server->shutdown();
  ASSERT_EQ(reader.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_LT(Clock::now() - start, Milliseconds(2000));
  EXPECT_NE(reader.get().find("shut down"), std::string::npos);
  EXPECT_NE(error_of([&] { pair.server->send(MessageType::kPing, {}); }), "");
}

TEST(UcxTransport, ClosedPeerEndsTheWaitWithAnError) {
  UcxPair pair;
  pair.server->send(MessageType::kPing, pattern(8, 1));
  pair.server.reset();  // the peer closes; the frame sent before still arrives
  EXPECT_EQ(pair.client->receive(Milliseconds(5000)).payload, pattern(8, 1));
  const auto start = Clock::now();
  const std::string error = error_of([&] { (void)pair.client->receive(Milliseconds(20'000)); });
  EXPECT_NE(error, "");
  EXPECT_LT(Clock::now() - start, Milliseconds(10'000)) << error;
}

TEST(UcxTransport, NobodyListeningIsAnError) {
  UcxTransport transport;
  HostPort unused;
  {
    auto listener = transport.listen({"127.0.0.1", 0});
    unused = listener->address();
  }
  const auto start = Clock::now();
  const std::string error = error_of([&] { (void)transport.connect(unused, Milliseconds(3000)); });
  EXPECT_NE(error.find("cannot connect to 127.0.0.1"), std::string::npos) << error;
  EXPECT_LT(Clock::now() - start, Milliseconds(5000));
}

TEST(UcxTransport, HandshakeOverUcx) {
  for (const bool same_secret : {true, false}) {
    UcxPair pair;
    const Secret server_secret = Secret::from_string("cluster secret");
    const Secret client_secret = Secret::from_string(same_secret ? "cluster secret" : "other");
    auto server = std::async(std::launch::async, [&] {
      return error_of([&] {
        EXPECT_EQ(
            authenticate_server(*pair.server, server_secret, "srv", Milliseconds(5000)).peer_id,
            "cli");
      });
    });
    const std::string client_error = error_of([&] {
      EXPECT_EQ(authenticate_client(*pair.client, client_secret, "cli", Milliseconds(5000)).peer_id,
                "srv");
    });
    const std::string server_error = server.get();
    if (same_secret) {
      EXPECT_EQ(client_error, "");
      EXPECT_EQ(server_error, "");
    } else {
      EXPECT_NE(client_error, "");
      EXPECT_NE(server_error, "");
    }
  }
}

// Both ends authenticated: eager and rendezvous frames, sent ahead, keep passing.
TEST(UcxTransport, AuthenticatedFramesOverUcx) {
  UcxPair pair;
  const Secret secret = Secret::from_string("cluster secret");
  auto server = std::async(std::launch::async, [&] {
    return authenticate_server(*pair.server, secret, "srv", Milliseconds(5000));
  });
  authenticate_client(*pair.client, secret, "cli", Milliseconds(5000));
  server.get();
  ASSERT_TRUE(pair.client->frames_authenticated());
  ASSERT_TRUE(pair.server->frames_authenticated());
  std::vector<std::vector<uint8_t>> sent;
  for (size_t i = 0; i < 8; ++i) {
    sent.push_back(pattern(i % 3 == 0 ? (2u << 20) + i : (16u << 10) + i, static_cast<uint8_t>(i)));
    pair.client->send(MessageType::kActivations, sent.back());
  }
  for (size_t i = 0; i < sent.size(); ++i) {
    const Frame got = pair.server->receive(Milliseconds(5000), kMaxBulkPayload);
    EXPECT_EQ(got.flags, 0u) << i;  // the tag is the connection's business
    EXPECT_EQ(got.payload, sent[i]) << i;
    pair.server->send(MessageType::kTensor, got.payload);
    EXPECT_EQ(pair.client->receive(Milliseconds(5000), kMaxBulkPayload).payload, sent[i]) << i;
  }
}

// The client half of the handshake done by hand, leaving the client's frames untagged;
// returns the keys authenticate_client would have put in force (derived independently).
LinkKeys handshake_by_hand(Connection& connection, const Secret& secret) {
  const Nonce nonce = random_nonce();
  connection.send_message(Hello{"cli", nonce});
  const auto challenge = connection.receive_message<Challenge>(Milliseconds(5000));
  connection.send_message(
      Proof{transcript_mac(secret, "client", "cli", challenge.node_id, nonce, challenge.nonce)});
  (void)connection.receive_message<Proof>(Milliseconds(5000));
  return {
      transcript_mac(secret, "client-to-server", "cli", challenge.node_id, nonce, challenge.nonce),
      transcript_mac(secret, "server-to-client", "cli", challenge.node_id, nonce, challenge.nonce)};
}

TEST(UcxTransport, FramesWithoutTheRightTagAreRefusedOverUcx) {
  const Secret secret = Secret::from_string("cluster secret");
  // untagged: no MAC at all; swapped: each direction keyed with the other's key;
  // right: the keys derived by hand, which must be the server's.
  for (const std::string variant : {"untagged", "swapped", "right"}) {
    SCOPED_TRACE(variant);
    UcxPair pair;
    auto server = std::async(std::launch::async, [&] {
      return authenticate_server(*pair.server, secret, "srv", Milliseconds(5000));
    });
    const LinkKeys keys = handshake_by_hand(*pair.client, secret);
    const LinkKeys served = server.get().keys;
    EXPECT_EQ(keys.send, served.receive);
    EXPECT_EQ(keys.receive, served.send);
    if (variant == "swapped") pair.client->authenticate_frames({keys.receive, keys.send});
    if (variant == "right") pair.client->authenticate_frames(keys);
    pair.client->send(MessageType::kActivations, pattern(16u << 10, 1));
    const std::string error =
        error_of([&] { pair.server->receive(Milliseconds(5000), kMaxBulkPayload); });
    if (variant == "right") {
      EXPECT_EQ(error, "");
      continue;
    }
    const std::string expected =
        variant == "untagged" ? "activations frame without a MAC" : "wrong MAC on a activations";
    EXPECT_NE(error.find(expected), std::string::npos) << error;
    EXPECT_NE(error.find(pair.server->peer()), std::string::npos) << error;
    // The link is closed: the next receive fails at once.
    const auto start = Clock::now();
    EXPECT_NE(error_of([&] { pair.server->receive(Milliseconds(5000)); }), "");
    EXPECT_LT(Clock::now() - start, Milliseconds(1000));
  }
}

}  // namespace
}  // namespace tandem::cluster
