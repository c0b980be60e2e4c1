#pragma once
// The byte transport between nodes, abstract so that other fabrics (UCX, RDMA) can sit
// beside TCP. A Connection carries whole frames (wire.h); every blocking call has a
// timeout and throws tandem::Error when the peer is gone, silent or malformed.

#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "cluster/wire.h"
#include "platform/socket.h"

namespace tandem::cluster {

class FrameSealer;
class FrameOpener;
struct LinkKeys;

// Frames pass through the non-virtual send() / receive(), which authenticate them once
// authenticate_frames() was called (frame_auth.h), so every fabric shares one integrity
// layer; a fabric implements only send_frame() / receive_frame().
class Connection {
 public:
  Connection();
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one frame: header, FrameTag once authenticated, payload. Throws Error on
  // failure or send timeout. Safe to call from several threads.
  void send(MessageType type, std::span<const uint8_t> payload);
  // Receives one whole frame within `timeout`; throws Error on timeout, end of stream,
  // a malformed header or a payload over `payload_limit` (below the type's own bound:
  // unauthenticated peers get kMaxControlPayload), and once authenticated on a frame
  // whose MAC or sequence number is wrong. The connection is then unusable.
  Frame receive(Milliseconds timeout, uint32_t payload_limit = kMaxBulkPayload);
  // True when a frame (or end of stream) is waiting, within `timeout`.
  virtual bool wait_readable(Milliseconds timeout) = 0;
  // Wakes any thread blocked on this connection; later calls fail.
  virtual void shutdown() = 0;
  virtual std::string peer() const = 0;

  // From now on every frame sent is tagged with `keys.send` and every frame received
  // must carry a valid tag under `keys.receive`. Called once, by the handshake.
  void authenticate_frames(const LinkKeys& keys);
  bool frames_authenticated() const { return opener_ != nullptr; }

  template <typename Message>
  void send_message(const Message& message) {
    const Frame frame = to_frame(message);
    send(frame.type, frame.payload);
  }
  template <typename Message>
  Message receive_message(Milliseconds timeout, uint32_t payload_limit = kMaxBulkPayload) {
    return from_frame<Message>(receive(timeout, payload_limit));
  }

 protected:
  // Puts one frame on the fabric: `prefix` is the encoded header, followed by the
  // encoded FrameTag when the header has kFlagAuthenticated (16 or 40 bytes).
  virtual void send_frame(MessageType type, std::span<const uint8_t> prefix,
                          std::span<const uint8_t> payload) = 0;
  // Takes one frame off the fabric, after checking its header and its length against
  // `payload_limit` before any payload byte is read; fills `tag` when the header has
  // kFlagAuthenticated. Errors name the peer.
  virtual Frame receive_frame(Milliseconds timeout, uint32_t payload_limit, FrameTag& tag) = 0;

 private:
  [[noreturn]] void fail_receive(const std::string& why);

  std::mutex send_mutex_;  // keeps sequence order equal to the order frames leave
  std::unique_ptr<FrameSealer> sealer_;
  std::unique_ptr<FrameOpener> opener_;
  std::string refused_;  // why a received frame was refused; later receives fail too
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
