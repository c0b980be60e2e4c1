#pragma once
// Thin POSIX socket helpers: an owning socket handle, TCP connect/listen/accept and
// UDP datagrams, with a deadline on every blocking call so a silent peer gives an
// error, not a hang. IPv4 only (addresses are dotted quads or names resolved with
// getaddrinfo). Every failure throws tandem::Error naming the address.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tandem {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
using Milliseconds = std::chrono::milliseconds;

inline Deadline deadline_after(Milliseconds timeout) { return Clock::now() + timeout; }

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const;
  bool operator==(const HostPort&) const = default;
};

// Parses "HOST:PORT" (PORT 0..65535). Throws Error on a malformed text.
HostPort parse_host_port(std::string_view text);

// An owned file descriptor of a socket; move-only, closed on destruction.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { close(); }
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void close();
  // Shuts both directions down without closing: a thread polling this socket wakes up.
  void shutdown() const;

 private:
  int fd_ = -1;
};

// Connects within `timeout`; sets TCP_NODELAY.
Socket tcp_connect(const HostPort& address, Milliseconds timeout);
// Listens on `address` (port 0 picks a free port; see local_address).
Socket tcp_listen(const HostPort& address, int backlog = 64);
// Accepts one connection, or nullopt when none arrives within `timeout`. Sets TCP_NODELAY.
std::optional<Socket> tcp_accept(const Socket& listener, Milliseconds timeout);

HostPort local_address(const Socket& socket);
HostPort peer_address(const Socket& socket);

// Sends all of `bytes`; throws Error when the peer is gone or the deadline passes.
void send_all(const Socket& socket, std::span<const uint8_t> bytes, Deadline deadline);
// Fills all of `bytes`; throws Error on end of stream, reset or deadline.
void receive_all(const Socket& socket, std::span<uint8_t> bytes, Deadline deadline);
// True when the socket is readable (data or end of stream) within `timeout`.
bool wait_readable(const Socket& socket, Milliseconds timeout);

// A UDP socket bound to `address`; `broadcast` allows sending to broadcast addresses.
Socket udp_bind(const HostPort& address, bool broadcast);
void udp_send_to(const Socket& socket, const HostPort& to, std::span<const uint8_t> bytes);
// Receives one datagram into `buffer` (truncating longer ones); nullopt on timeout.
std::optional<size_t> udp_receive(const Socket& socket, std::span<uint8_t> buffer, HostPort* from,
                                  Milliseconds timeout);

}  // namespace tandem
