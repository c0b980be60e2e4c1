#include "cluster/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "platform/error.h"

namespace tandem::cluster {
namespace {

constexpr uint32_t kMaxNodeIdBytes = 256;

Milliseconds remaining(Deadline deadline) {
  const auto left = std::chrono::duration_cast<Milliseconds>(deadline - Clock::now());
  return std::max(left, Milliseconds(0));
}

void check_node_id(const std::string& id) {
  if (id.empty() || id.size() > kMaxNodeIdBytes) {
    throw Error(str_cat("authentication failed: bad node id of ", id.size(), " bytes"));
  }
}

// Tells the peer why before the caller drops the connection; a failure to send that is
// not worth reporting over the original error.
void send_refusal(Connection& connection, const std::string& why) {
  try {
    connection.send_message(
        ErrorMessage{static_cast<uint32_t>(ErrorCode::kAuthenticationFailed), why});
  } catch (const Error&) {
  }
}

}  // namespace

Secret Secret::load_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw Error(str_cat("secret file ", path, ": not found"));
  if (!S_ISREG(info.st_mode)) throw Error(str_cat("secret file ", path, ": not a regular file"));
  if ((info.st_mode & 077) != 0) {
    throw Error(str_cat("secret file ", path, " is accessible by group or others (mode ", std::oct,
                        (info.st_mode & 0777), "); run chmod 600 ", path));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(str_cat("secret file ", path, ": cannot read"));
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(file),
                             std::istreambuf_iterator<char>()};
  Secret secret = from_bytes(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return secret;
}

Secret Secret::from_bytes(std::span<const uint8_t> bytes) {
  size_t length = bytes.size();
  while (length > 0 && (bytes[length - 1] == '\n' || bytes[length - 1] == '\r' ||
                        bytes[length - 1] == ' ' || bytes[length - 1] == '\t')) {
    --length;
  }
  if (length == 0) throw Error("the cluster secret is empty");
  Secret secret;
  secret.bytes_.assign(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(length));
  return secret;
}

Secret Secret::from_string(const std::string& text) {
  return from_bytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

Secret::~Secret() {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

Mac hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  Mac out{};
  unsigned int length = 0;
  const uint8_t* result = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(),
                               data.size(), out.data(), &length);
  TANDEM_CHECK(result != nullptr && length == out.size(), "HMAC-SHA256 failed");
  return out;
}

Nonce random_nonce() {
  Nonce nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    throw Error("cannot draw random bytes for a nonce");
  }
  return nonce;
}

bool macs_equal(const Mac& a, const Mac& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

ClusterId cluster_id(const Secret& secret) {
  const std::string label = "tandem-cluster-id";
  const Mac mac =
      hmac_sha256(secret.bytes(), {reinterpret_cast<const uint8_t*>(label.data()), label.size()});
  ClusterId id{};
  std::copy_n(mac.begin(), id.size(), id.begin());
  return id;
}

Mac transcript_mac(const Secret& secret, const std::string& role, const std::string& client_id,
                   const std::string& server_id, const Nonce& client_nonce,
                   const Nonce& server_nonce) {
  WireWriter transcript;
  transcript.string("tandem-auth");
  transcript.string(role);
  transcript.u16(kProtocolVersion);
  transcript.string(client_id);
  transcript.string(server_id);
  transcript.fixed(client_nonce);
  transcript.fixed(server_nonce);
  const std::vector<uint8_t> bytes = transcript.take();
  return hmac_sha256(secret.bytes(), bytes);
}

AuthResult authenticate_client(Connection& connection, const Secret& secret,
                               const std::string& self_id, Milliseconds timeout) {
  const Deadline deadline = deadline_after(timeout);
  const Nonce client_nonce = random_nonce();
  connection.send_message(Hello{self_id, client_nonce});
  const auto challenge =
      connection.receive_message<Challenge>(remaining(deadline), kMaxControlPayload);
  check_node_id(challenge.node_id);
  connection.send_message(Proof{
      transcript_mac(secret, "client", self_id, challenge.node_id, client_nonce, challenge.nonce)});
  const Frame reply = connection.receive(remaining(deadline), kMaxControlPayload);
  if (reply.type == MessageType::kError) {
    throw Error(str_cat("authentication with ", connection.peer(),
                        " refused: ", from_frame<ErrorMessage>(reply).message));
  }
  const auto server_proof = from_frame<Proof>(reply);
  const Mac expected =
      transcript_mac(secret, "server", self_id, challenge.node_id, client_nonce, challenge.nonce);
  if (!macs_equal(expected, server_proof.mac)) {
    throw Error(
        str_cat("authentication failed: ", connection.peer(), " does not know the cluster secret"));
  }
  AuthResult result{challenge.node_id, {}};
  result.keys.send = transcript_mac(secret, "client-to-server", self_id, challenge.node_id,
                                    client_nonce, challenge.nonce);
  result.keys.receive = transcript_mac(secret, "server-to-client", self_id, challenge.node_id,
                                       client_nonce, challenge.nonce);
  connection.authenticate_frames(result.keys);
  return result;
}

AuthResult authenticate_server(Connection& connection, const Secret& secret,
                               const std::string& self_id, Milliseconds timeout) {
  const Deadline deadline = deadline_after(timeout);
  bool refused = false;
  try {
    const auto hello = connection.receive_message<Hello>(remaining(deadline), kMaxControlPayload);
    check_node_id(hello.node_id);
    const Nonce server_nonce = random_nonce();
    connection.send_message(Challenge{self_id, server_nonce});
    const auto proof = connection.receive_message<Proof>(remaining(deadline), kMaxControlPayload);
    const Mac expected =
        transcript_mac(secret, "client", hello.node_id, self_id, hello.nonce, server_nonce);
    if (!macs_equal(expected, proof.mac)) {
      refused = true;
      send_refusal(connection, "wrong cluster secret");
      throw Error(str_cat("authentication failed: ", connection.peer(), " (", hello.node_id,
                          ") does not know the cluster secret"));
    }
    AuthResult result{hello.node_id, {}};
    result.keys.send = transcript_mac(secret, "server-to-client", hello.node_id, self_id,
                                      hello.nonce, server_nonce);
    result.keys.receive = transcript_mac(secret, "client-to-server", hello.node_id, self_id,
                                         hello.nonce, server_nonce);
    connection.send_message(
        Proof{transcript_mac(secret, "server", hello.node_id, self_id, hello.nonce, server_nonce)});
    connection.authenticate_frames(result.keys);
    return result;
  } catch (const Error& e) {
    const std::string what = e.what();
    // The peer learns why; one of another protocol version also refuses our frame's
    // header, which names both versions.
    if (!refused) send_refusal(connection, what);
    if (what.rfind("authentication failed", 0) == 0) throw;
    throw Error(str_cat("authentication failed: ", what));
  }
}

}  // namespace tandem::cluster
