#include "platform/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "platform/error.h"

namespace tandem {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

sockaddr_in resolve(const HostPort& address) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string host = address.host.empty() ? "0.0.0.0" : address.host;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    throw Error(str_cat("cannot resolve ", host, ": ", ::gai_strerror(rc)));
  }
  sockaddr_in out{};
  std::memcpy(&out, found->ai_addr, sizeof(out));
  ::freeaddrinfo(found);
  out.sin_port = htons(address.port);
  return out;
}

HostPort to_host_port(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address.sin_addr, text, sizeof(text));
  return {text, ntohs(address.sin_port)};
}

int remaining_ms(Deadline deadline) {
  const auto left = std::chrono::duration_cast<Milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 60'000 ? 60'000 : static_cast<int>(left);
}

// Polls for `events` until the deadline; false on timeout.
bool poll_until(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int wait = remaining_ms(deadline);
    const int rc = ::poll(&entry, 1, wait);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) throw Error(str_cat("poll failed: ", errno_text(errno)));
    if (rc == 0 && Clock::now() >= deadline) return false;
  }
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

std::string HostPort::to_string() const { return str_cat(host, ":", port); }

HostPort parse_host_port(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    throw Error(str_cat("expected HOST:PORT, got '", text, "'"));
  }
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    throw Error(str_cat("bad port in '", text, "'"));
  }
  return {std::string(text.substr(0, colon)), static_cast<uint16_t>(port)};
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void Socket::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void Socket::shutdown() const {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

Socket tcp_connect(const HostPort& address, Milliseconds timeout) {
  const sockaddr_in target = resolve(address);
  Socket socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket.valid()) throw Error(str_cat("socket: ", errno_text(errno)));
  const int rc = ::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&target), sizeof(target));
  if (rc != 0 && errno != EINPROGRESS) {
    throw Error(str_cat("cannot connect to ", address.to_string(), ": ", errno_text(errno)));
  }
  if (rc != 0) {
    if (!poll_until(socket.fd(), POLLOUT, deadline_after(timeout))) {
      throw Error(str_cat("cannot connect to ", address.to_string(), ": timed out after ",
                          timeout.count(), " ms"));
    }
    int err = 0;
    socklen_t length = sizeof(err);
    ::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &err, &length);
    if (err != 0) {
      throw Error(str_cat("cannot connect to ", address.to_string(), ": ", errno_text(err)));
    }
  }
  set_nodelay(socket.fd());
  return socket;
}

Socket tcp_listen(const HostPort& address, int backlog) {
  const sockaddr_in local = resolve(address);
  Socket socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket.valid()) throw Error(str_cat("socket: ", errno_text(errno)));
  int one = 1;
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(socket.fd(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
    throw Error(str_cat("cannot listen on ", address.to_string(), ": ", errno_text(errno)));
  }
  if (::listen(socket.fd(), backlog) != 0) {
    throw Error(str_cat("cannot listen on ", address.to_string(), ": ", errno_text(errno)));
  }
  return socket;
}

std::optional<Socket> tcp_accept(const Socket& listener, Milliseconds timeout) {
  if (!poll_until(listener.fd(), POLLIN, deadline_after(timeout))) return std::nullopt;
  Socket socket(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!socket.valid()) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
      return std::nullopt;
    }
    throw Error(str_cat("accept failed: ", errno_text(errno)));
  }
  set_nodelay(socket.fd());
  return socket;
}

HostPort local_address(const Socket& socket) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  ::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&address), &length);
  return to_host_port(address);
}

HostPort peer_address(const Socket& socket) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  ::getpeername(socket.fd(), reinterpret_cast<sockaddr*>(&address), &length);
  return to_host_port(address);
}

void send_all(const Socket& socket, std::span<const uint8_t> bytes, Deadline deadline) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(socket.fd(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!poll_until(socket.fd(), POLLOUT, deadline)) {
        throw Error(str_cat("send timed out (", sent, " of ", bytes.size(), " bytes sent)"));
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    throw Error(str_cat("send failed: ", errno_text(errno)));
  }
}

void receive_all(const Socket& socket, std::span<uint8_t> bytes, Deadline deadline) {
  size_t received = 0;
  while (received < bytes.size()) {
    const ssize_t n = ::recv(socket.fd(), bytes.data() + received, bytes.size() - received, 0);
    if (n > 0) {
      received += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      throw Error(str_cat("connection closed by peer (", received, " of ", bytes.size(),
                          " bytes received)"));
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!poll_until(socket.fd(), POLLIN, deadline)) {
        throw Error(
            str_cat("receive timed out (", received, " of ", bytes.size(), " bytes received)"));
      }
      continue;
    }
    if (errno == EINTR) continue;
    throw Error(str_cat("receive failed: ", errno_text(errno)));
  }
}

bool wait_readable(const Socket& socket, Milliseconds timeout) {
  return poll_until(socket.fd(), POLLIN, deadline_after(timeout));
}

Socket udp_bind(const HostPort& address, bool broadcast) {
  const sockaddr_in local = resolve(address);
  Socket socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket.valid()) throw Error(str_cat("socket: ", errno_text(errno)));
  int one = 1;
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (broadcast) ::setsockopt(socket.fd(), SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
  if (::bind(socket.fd(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
    throw Error(str_cat("cannot bind UDP ", address.to_string(), ": ", errno_text(errno)));
  }
  return socket;
}

void udp_send_to(const Socket& socket, const HostPort& to, std::span<const uint8_t> bytes) {
  const sockaddr_in target = resolve(to);
  const ssize_t n = ::sendto(socket.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&target), sizeof(target));
  if (n < 0) throw Error(str_cat("UDP send to ", to.to_string(), " failed: ", errno_text(errno)));
}

std::optional<size_t> udp_receive(const Socket& socket, std::span<uint8_t> buffer, HostPort* from,
                                  Milliseconds timeout) {
  if (!poll_until(socket.fd(), POLLIN, deadline_after(timeout))) return std::nullopt;
  sockaddr_in source{};
  socklen_t length = sizeof(source);
  const ssize_t n = ::recvfrom(socket.fd(), buffer.data(), buffer.size(), 0,
                               reinterpret_cast<sockaddr*>(&source), &length);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return std::nullopt;
    throw Error(str_cat("UDP receive failed: ", errno_text(errno)));
  }
  if (from != nullptr) *from = to_host_port(source);
  return static_cast<size_t>(n);
}

}  // namespace tandem
