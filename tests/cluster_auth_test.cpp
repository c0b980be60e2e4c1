// Authentication and the TCP transport over loopback: right and wrong secrets, silent
// peers, hostile headers, and the secret-file rules.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "cluster/auth.h"
#include "cluster/tcp_transport.h"
#include "error_text.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

using testing::error_of;

std::string hex(std::span<const uint8_t> bytes) {
  std::string out;
  char two[3];
  for (uint8_t b : bytes) {
    std::snprintf(two, sizeof(two), "%02x", b);
    out += two;
  }
  return out;
}

// A connected pair over loopback.
struct Pair {
  TcpTransport transport{TcpOptions{Milliseconds(2000)}};
  std::unique_ptr<Listener> listener = transport.listen({"127.0.0.1", 0});
  std::unique_ptr<Connection> client = transport.connect(listener->address(), Milliseconds(2000));
  std::unique_ptr<Connection> server = listener->accept(Milliseconds(2000));
};

TEST(ClusterAuth, HmacSha256KnownAnswer) {
  // RFC 4231, test case 2.
  const std::string key = "Jefe";
  const std::string data = "what do ya want for nothing?";
  const Mac mac = hmac_sha256({reinterpret_cast<const uint8_t*>(key.data()), key.size()},
                              {reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  EXPECT_EQ(hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(ClusterAuth, TranscriptBindsEveryInput) {
  const Secret secret = Secret::from_string("s");
  Nonce a{}, b{};
  a[0] = 1;
  b[0] = 2;
  const Mac base = transcript_mac(secret, "client", "x", "y", a, b);
  EXPECT_FALSE(macs_equal(base, transcript_mac(secret, "server", "x", "y", a, b)));
  EXPECT_FALSE(macs_equal(base, transcript_mac(secret, "client", "y", "x", a, b)));
  EXPECT_FALSE(macs_equal(base, transcript_mac(secret, "client", "x", "y", b, a)));
  EXPECT_FALSE(
      macs_equal(base, transcript_mac(Secret::from_string("t"), "client", "x", "y", a, b)));
  EXPECT_TRUE(macs_equal(base, transcript_mac(secret, "client", "x", "y", a, b)));
  EXPECT_NE(cluster_id(secret), cluster_id(Secret::from_string("t")));
}

TEST(ClusterAuth, MutualHandshakeWithTheSameSecret) {
  Pair pair;
  ASSERT_TRUE(pair.server);
  const Secret client_secret = Secret::from_string("shared\n");
  const Secret server_secret = Secret::from_string("shared");
  auto server = std::async(std::launch::async, [&] {
    return authenticate_server(*pair.server, server_secret, "server-1", Milliseconds(2000));
  });
  const AuthResult client =
      authenticate_client(*pair.client, client_secret, "client-1", Milliseconds(2000));
  const AuthResult served = server.get();
  EXPECT_EQ(client.peer_id, "server-1");
  EXPECT_EQ(served.peer_id, "client-1");
  // One key per direction, the same at both ends, and in force on both connections.
  EXPECT_TRUE(macs_equal(client.keys.send, served.keys.receive));
  EXPECT_TRUE(macs_equal(client.keys.receive, served.keys.send));
  EXPECT_FALSE(macs_equal(client.keys.send, client.keys.receive));
  EXPECT_TRUE(pair.client->frames_authenticated());
  EXPECT_TRUE(pair.server->frames_authenticated());
  // After the handshake the connection carries ordinary frames, both ways.
  pair.client->send_message(Ping{5});
  EXPECT_EQ(pair.server->receive_message<Ping>(Milliseconds(1000)).sequence, 5u);
  pair.server->send_message(Pong{5, 7});
  EXPECT_EQ(pair.client->receive_message<Pong>(Milliseconds(1000)).clock_unix_ns, 7);
}

TEST(ClusterAuth, WrongSecretIsRefusedOnBothSides) {
  Pair pair;
  const Secret right = Secret::from_string("right");
  const Secret wrong = Secret::from_string("wrong");
  auto server = std::async(std::launch::async, [&] {
    return error_of([&] { authenticate_server(*pair.server, right, "s", Milliseconds(2000)); });
  });
  const std::string client_error =
      error_of([&] { authenticate_client(*pair.client, wrong, "c", Milliseconds(2000)); });
  EXPECT_NE(client_error.find("refused: wrong cluster secret"), std::string::npos) << client_error;
  EXPECT_NE(server.get().find("does not know the cluster secret"), std::string::npos);
}

TEST(ClusterAuth, ClientRefusesAServerWithoutTheSecret) {
  // A server that answers the client's proof with a made-up proof.
  Pair pair;
  auto fake = std::async(std::launch::async, [&] {
    (void)pair.server->receive_message<Hello>(Milliseconds(2000));
    pair.server->send_message(Challenge{"impostor", random_nonce()});
    (void)pair.server->receive_message<Proof>(Milliseconds(2000));
    pair.server->send_message(Proof{});
  });
  const std::string error = error_of([&] {
    authenticate_client(*pair.client, Secret::from_string("k"), "c", Milliseconds(2000));
  });
  fake.get();
  EXPECT_NE(error.find("does not know the cluster secret"), std::string::npos) << error;
}

TEST(ClusterAuth, SilentServerTimesOut) {
  Pair pair;  // the server side accepts and never writes
  const auto start = Clock::now();
  const std::string error = error_of(
      [&] { authenticate_client(*pair.client, Secret::from_string("k"), "c", Milliseconds(300)); });
  const auto elapsed = Clock::now() - start;
  EXPECT_NE(error.find("no message within"), std::string::npos) << error;
  EXPECT_GE(elapsed, Milliseconds(250));
  EXPECT_LT(elapsed, Milliseconds(2000));
}

TEST(ClusterAuth, SilentClientTimesOut) {
  Pair pair;
  const auto start = Clock::now();
  const std::string error = error_of(
      [&] { authenticate_server(*pair.server, Secret::from_string("k"), "s", Milliseconds(300)); });
  EXPECT_NE(error.find("authentication failed"), std::string::npos) << error;
  EXPECT_LT(Clock::now() - start, Milliseconds(2000));
}

TEST(ClusterAuth, ServerReadsNothingBeyondABadFirstMessage) {
  Pair pair;
  // Something that is not a tandem peer at all.
  const std::string http = "GET / HTTP/1.1\r\n\r\n";
  pair.client->send(MessageType::kPing, {});  // a well-formed frame of the wrong type
  std::string error = error_of([&] {
    authenticate_server(*pair.server, Secret::from_string("k"), "s", Milliseconds(1000));
  });
  EXPECT_NE(error.find("unexpected ping"), std::string::npos) << error;

  Pair raw;
  const Socket socket = tcp_connect(raw.listener->address(), Milliseconds(1000));
  auto accepted = raw.listener->accept(Milliseconds(1000));
  send_all(socket, {reinterpret_cast<const uint8_t*>(http.data()), http.size()},
           deadline_after(Milliseconds(1000)));
  error = error_of(
      [&] { authenticate_server(*accepted, Secret::from_string("k"), "s", Milliseconds(1000)); });
  EXPECT_NE(error.find("wrong magic"), std::string::npos) << error;
}

TEST(ClusterTransport, UnauthenticatedPeerCannotAnnounceABulkFrame) {
  Pair pair;
  pair.client->send(MessageType::kTensor, std::vector<uint8_t>(kMaxControlPayload + 1));
  const std::string error =
      error_of([&] { (void)pair.server->receive(Milliseconds(1000), kMaxControlPayload); });
  EXPECT_NE(error.find("exceeds the limit"), std::string::npos) << error;
}

TEST(ClusterTransport, PeerThatStallsMidFrameTimesOut) {
  TcpTransport transport{TcpOptions{Milliseconds(300)}};
  auto listener = transport.listen({"127.0.0.1", 0});
  const Socket socket = tcp_connect(listener->address(), Milliseconds(1000));
  auto server = listener->accept(Milliseconds(1000));
  // A header announcing 200 MiB, then silence.
  const auto header = encode_frame_header({MessageType::kTensor, 0, 200u << 20});
  send_all(socket, header, deadline_after(Milliseconds(1000)));
  const auto start = Clock::now();
  const std::string error = error_of([&] { (void)server->receive(Milliseconds(1000)); });
  EXPECT_NE(error.find("timed out"), std::string::npos) << error;
  EXPECT_LT(Clock::now() - start, Milliseconds(2000));
}

TEST(ClusterTransport, ClosedPeerAndRefusedConnect) {
  Pair pair;
  pair.client.reset();
  const std::string error = error_of([&] { (void)pair.server->receive(Milliseconds(1000)); });
  EXPECT_NE(error.find("closed by peer"), std::string::npos) << error;

  const HostPort closed = pair.listener->address();
  pair.listener.reset();
  EXPECT_THROW(pair.transport.connect(closed, Milliseconds(1000)), Error);
}

TEST(ClusterTransport, ParsesHostPort) {
  EXPECT_EQ(parse_host_port("127.0.0.1:7700"), (HostPort{"127.0.0.1", 7700}));
  EXPECT_EQ(parse_host_port("node-a:0"), (HostPort{"node-a", 0}));
  EXPECT_THROW(parse_host_port("127.0.0.1"), Error);
  EXPECT_THROW(parse_host_port("127.0.0.1:"), Error);
  EXPECT_THROW(parse_host_port(":7700"), Error);
  EXPECT_THROW(parse_host_port("host:70000"), Error);
  EXPECT_THROW(parse_host_port("host:12x"), Error);
}

class ClusterSecretFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tandem-secret-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& text, mode_t mode) {
    const std::string path = dir_ + "/secret";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(ClusterSecretFile, AcceptsAPrivateFileAndDropsTheFinalNewline) {
  const Secret secret = Secret::load_file(write("abc\n", 0600));
  EXPECT_EQ(std::string(secret.bytes().begin(), secret.bytes().end()), "abc");
}

TEST_F(ClusterSecretFile, RefusesGroupOrOtherAccess) {
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    const std::string path = write("abc", mode);
    const std::string error = error_of([&] { (void)Secret::load_file(path); });
    EXPECT_NE(error.find("chmod 600"), std::string::npos) << mode << ": " << error;
  }
}

TEST_F(ClusterSecretFile, RefusesEmptyAndMissingFiles) {
  EXPECT_NE(error_of([&] { (void)Secret::load_file(write("\n", 0600)); }).find("empty"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)Secret::load_file(dir_ + "/absent"); }).find("not found"),
            std::string::npos);
}

}  // namespace
}  // namespace tandem::cluster
