#pragma once
// The byte transport between nodes, abstract so that other fabrics (UCX, RDMA) can sit
// beside TCP. A Connection carries whole frames (wire.h); every blocking call has a
// timeout and throws tandem::Error when the peer is gone, silent or malformed.

#include <chrono>
#include <memory>
#include <span>
#include <string>

#include "cluster/wire.h"
#include "platform/socket.h"

namespace tandem::cluster {

class Connection {
 public:
  virtual ~Connection() = default;

  // Sends one frame: header + payload. Throws Error on failure or send timeout.
  virtual void send(MessageType type, std::span<const uint8_t> payload) = 0;
  // Receives one whole frame within `timeout`; throws Error on timeout, end of stream,
  // a malformed header or a payload over `payload_limit` (below the type's own bound:
  // unauthenticated peers get kMaxControlPayload). The connection is then unusable.
  virtual Frame receive(Milliseconds timeout, uint32_t payload_limit = kMaxBulkPayload) = 0;
  // True when a frame (or end of stream) is waiting, within `timeout`.
  virtual bool wait_readable(Milliseconds timeout) = 0;
  // Wakes any thread blocked on this connection; later calls fail.
  virtual void shutdown() = 0;
  virtual std::string peer() const = 0;

  template <typename Message>
  void send_message(const Message& message) {
    const Frame frame = to_frame(message);
    send(frame.type, frame.payload);
  }
  template <typename Message>
  Message receive_message(Milliseconds timeout, uint32_t payload_limit = kMaxBulkPayload) {
    return from_frame<Message>(receive(timeout, payload_limit));
  }
};

class Listener {
 public:
  virtual ~Listener() = default;
  // One incoming connection, or nullptr when none arrives within `timeout`.
  virtual std::unique_ptr<Connection> accept(Milliseconds timeout) = 0;
  // The address peers reach this listener at (the real port when 0 was asked for).
  virtual HostPort address() const = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::unique_ptr<Connection> connect(const HostPort& address, Milliseconds timeout) = 0;
  virtual std::unique_ptr<Listener> listen(const HostPort& address) = 0;
};

}  // namespace tandem::cluster
