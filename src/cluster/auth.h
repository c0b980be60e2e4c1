#pragma once
// Mutual authentication of two nodes that share a secret (HMAC-SHA256, OpenSSL).
//
//   client -> server  Hello     {client_id, client_nonce}
//   server -> client  Challenge {server_id, server_nonce}
//   client -> server  Proof     {HMAC(secret, transcript("client"))}
//   server -> client  Proof     {HMAC(secret, transcript("server"))}
//
// transcript(role) = "tandem-auth" | role | protocol version (u16) | client_id |
// server_id | client_nonce | server_nonce, strings length-prefixed (wire.h encoding).
// Both nonces are fresh random 32 bytes, so a recorded proof is useless later, and the
// role label stops a proof being reflected back. The server proves itself only after
// the client did, so an outsider learns nothing. Proofs are compared in constant time.
// Any failure throws Error; the server sends an Error frame first (naming the cause, a
// protocol version for instance), and the caller closes the connection without reading
// anything else. The whole handshake runs
// against one deadline.
//
// Both sides then derive one key per direction, HMAC(secret, transcript("client-to-server"))
// and HMAC(secret, transcript("server-to-client")), and every later frame on the
// connection is authenticated with them (frame_auth.h): no extra round trip, and keys
// that no other link shares because the nonces are fresh. The client switches after it
// checked the server's proof, the server right after sending it, so the first frame
// after the handshake is the first one authenticated in either direction.

#include <span>
#include <string>
#include <vector>

#include "cluster/frame_auth.h"
#include "cluster/transport.h"
#include "cluster/wire.h"

namespace tandem::cluster {

// The shared cluster secret. Wiped from memory on destruction; move-only.
class Secret {
 public:
  // Reads `path`; trailing whitespace (a final newline) is dropped. Throws Error when the
  // file is missing, readable or writable by group or others (like ssh: chmod 600), or
  // empty.
  static Secret load_file(const std::string& path);
  static Secret from_bytes(std::span<const uint8_t> bytes);
  static Secret from_string(const std::string& text);

  Secret(Secret&& other) noexcept = default;
  Secret& operator=(Secret&& other) noexcept = default;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret();

  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  Secret() = default;
  std::vector<uint8_t> bytes_;
};

Mac hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> data);
Nonce random_nonce();
// Constant-time equality of two MACs.
bool macs_equal(const Mac& a, const Mac& b);

// HMAC(secret, "tandem-cluster-id") truncated to 16 bytes: put in beacons so that
// clusters with different secrets ignore each other, without revealing the secret.
ClusterId cluster_id(const Secret& secret);

// The MAC each side sends (role "client" or "server") or a direction's key (role
// "client-to-server" or "server-to-client").
Mac transcript_mac(const Secret& secret, const std::string& role, const std::string& client_id,
                   const std::string& server_id, const Nonce& client_nonce,
                   const Nonce& server_nonce);

struct AuthResult {
  std::string peer_id;
  LinkKeys keys;  // this end's, already in force on the connection
};

AuthResult authenticate_client(Connection& connection, const Secret& secret,
                               const std::string& self_id, Milliseconds timeout);
AuthResult authenticate_server(Connection& connection, const Secret& secret,
                               const std::string& self_id, Milliseconds timeout);

}  // namespace tandem::cluster
