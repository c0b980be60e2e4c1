#include "cluster/transport.h"

#include <cstring>

#include "cluster/frame_auth.h"
#include "platform/error.h"

namespace tandem::cluster {

Connection::Connection() = default;
Connection::~Connection() = default;

void Connection::authenticate_frames(const LinkKeys& keys) {
  std::lock_guard lock(send_mutex_);
  TANDEM_CHECK(opener_ == nullptr, "frames are already authenticated");
  sealer_ = std::make_unique<FrameSealer>(keys.send);
  opener_ = std::make_unique<FrameOpener>(keys.receive);
}

void Connection::send(MessageType type, std::span<const uint8_t> payload) {
  TANDEM_CHECK(payload.size() <= max_payload(type), "frame payload over its bound");
  const auto length = static_cast<uint32_t>(payload.size());
  std::lock_guard lock(send_mutex_);
  if (sealer_ == nullptr) {
    send_frame(type, encode_frame_header({type, 0, length}), payload);
    return;
  }
  // prefix: header (16 bytes) | FrameTag (24 bytes)
  std::array<uint8_t, kFrameHeaderSize + kFrameTagSize> prefix{};
  const auto header = encode_frame_header({type, kFlagAuthenticated, length});
  const auto tag = encode_frame_tag(sealer_->seal(header, payload));
  std::memcpy(prefix.data(), header.data(), header.size());
  std::memcpy(prefix.data() + header.size(), tag.data(), tag.size());
  send_frame(type, prefix, payload);
}

Frame Connection::receive(Milliseconds timeout, uint32_t payload_limit) {
  if (!refused_.empty()) throw Error(str_cat("receiving from ", peer(), ": ", refused_));
  FrameTag tag;
  Frame frame = receive_frame(timeout, payload_limit, tag);
  const bool tagged = (frame.flags & kFlagAuthenticated) != 0;
  if (opener_ == nullptr) {
    if (tagged) fail_receive("an authenticated frame before the handshake ended");
    return frame;
  }
  if (!tagged) {
    fail_receive(str_cat("frame authentication failed: ", type_name(frame.type),
                         " frame without a MAC after the handshake"));
  }
  const std::string why = opener_->check(
      {frame.type, frame.flags, static_cast<uint32_t>(frame.payload.size())}, tag, frame.payload);
  if (!why.empty()) fail_receive(why);
  frame.flags &= ~kFlagAuthenticated;
  return frame;
}

void Connection::fail_receive(const std::string& why) {
  // Nothing more is read from a peer that sent one bad frame: the link is closed.
  refused_ = why;
  shutdown();
  throw Error(str_cat("receiving from ", peer(), ": ", why));
}

}  // namespace tandem::cluster
