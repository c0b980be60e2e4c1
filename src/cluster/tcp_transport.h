#pragma once
// Transport over TCP (platform/socket.h): TCP_NODELAY, non-blocking sockets polled
// against a deadline, so a vanished or silent peer ends in an Error, never a hang.

#include <memory>

#include "cluster/transport.h"

namespace tandem::cluster {

struct TcpOptions {
  // Limit on sending one frame, and on the rest of a frame once its first byte arrived.
  Milliseconds io_timeout{10'000};
};

class TcpConnection final : public Connection {
 public:
  TcpConnection(Socket socket, TcpOptions options);
  bool wait_readable(Milliseconds timeout) override;
  void shutdown() override { socket_.shutdown(); }
  std::string peer() const override { return peer_; }

 protected:
  void send_frame(MessageType type, std::span<const uint8_t> prefix,
                  std::span<const uint8_t> payload) override;
  Frame receive_frame(Milliseconds timeout, uint32_t payload_limit, FrameTag& tag) override;

 private:
  Socket socket_;
  TcpOptions options_;
  std::string peer_;
};

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(TcpOptions options = {}) : options_(options) {}
  std::unique_ptr<Connection> connect(const HostPort& address, Milliseconds timeout) override;
  std::unique_ptr<Listener> listen(const HostPort& address) override;

 private:
  TcpOptions options_;
};

}  // namespace tandem::cluster
