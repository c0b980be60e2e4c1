#include "cluster/tcp_transport.h"

#include <algorithm>

#include "platform/error.h"

namespace tandem::cluster {
namespace {

class TcpListener final : public Listener {
 public:
  TcpListener(Socket socket, TcpOptions options)
      : socket_(std::move(socket)), options_(options), address_(local_address(socket_)) {}

  std::unique_ptr<Connection> accept(Milliseconds timeout) override {
    std::optional<Socket> socket = tcp_accept(socket_, timeout);
    if (!socket) return nullptr;
    return std::make_unique<TcpConnection>(std::move(*socket), options_);
  }
  HostPort address() const override { return address_; }

 private:
  Socket socket_;
  TcpOptions options_;
  HostPort address_;
};

}  // namespace

TcpConnection::TcpConnection(Socket socket, TcpOptions options)
    : socket_(std::move(socket)), options_(options), peer_(peer_address(socket_).to_string()) {}

void TcpConnection::send_frame(MessageType type, std::span<const uint8_t> prefix,
                               std::span<const uint8_t> payload) {
  const Deadline deadline = deadline_after(options_.io_timeout);
  try {
    send_all(socket_, prefix, deadline);
    send_all(socket_, payload, deadline);
  } catch (const Error& e) {
    throw Error(str_cat("sending ", type_name(type), " to ", peer_, ": ", e.what()));
  }
}

Frame TcpConnection::receive_frame(Milliseconds timeout, uint32_t payload_limit, FrameTag& tag) {
  try {
    if (!tandem::wait_readable(socket_, timeout)) {
      throw Error(str_cat("no message within ", timeout.count(), " ms"));
    }
    // Once the first byte is here the rest of the frame must follow within io_timeout.
    const Deadline deadline = deadline_after(options_.io_timeout);
    std::array<uint8_t, kFrameHeaderSize> header_bytes{};
    receive_all(socket_, header_bytes, deadline);
    const FrameHeader header = decode_frame_header(header_bytes);
    if (header.payload_length > payload_limit) {
      throw Error(str_cat("bad frame: ", type_name(header.type), " payload of ",
                          header.payload_length, " bytes exceeds the limit of ", payload_limit));
    }
    if ((header.flags & kFlagAuthenticated) != 0) {
      std::array<uint8_t, kFrameTagSize> tag_bytes{};
      receive_all(socket_, tag_bytes, deadline);
      tag = decode_frame_tag(tag_bytes);
    }
    // The buffer grows with the bytes that actually arrive, so a peer that announces a
    // large payload and then stalls costs at most one chunk beyond what it sent.
    constexpr size_t kChunk = 1u << 20;
    Frame frame{header.type, header.flags, {}};
    size_t received = 0;
    while (received < header.payload_length) {
      const size_t chunk = std::min<size_t>(kChunk, header.payload_length - received);
      frame.payload.resize(received + chunk);
      receive_all(socket_, std::span(frame.payload).subspan(received, chunk), deadline);
      received += chunk;
    }
    return frame;
  } catch (const Error& e) {
    throw Error(str_cat("receiving from ", peer_, ": ", e.what()));
  }
}

bool TcpConnection::wait_readable(Milliseconds timeout) {
  return tandem::wait_readable(socket_, timeout);
}

std::unique_ptr<Connection> TcpTransport::connect(const HostPort& address, Milliseconds timeout) {
  return std::make_unique<TcpConnection>(tcp_connect(address, timeout), options_);
}

std::unique_ptr<Listener> TcpTransport::listen(const HostPort& address) {
  return std::make_unique<TcpListener>(tcp_listen(address), options_);
}

}  // namespace tandem::cluster
