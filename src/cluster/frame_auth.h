#pragma once
// Integrity of every frame after the handshake (auth.h). Each direction of a link has its
// own key, derived in the handshake from the secret and both nonces; every frame carries
// a FrameTag between its header and its payload (wire.h):
//
//   sequence  u64, per direction, 0 for the first frame after the handshake, +1 each frame
//   mac       HMAC-SHA256(direction key, header (16 bytes) | sequence (u64 LE) | payload),
//             the first kFrameMacSize bytes
//
// The receiver accepts a frame only when its MAC is right and its sequence is the next
// one expected, so a frame cannot be altered, injected, replayed, reordered, dropped
// unnoticed or reflected back to its sender (the other direction's key does not fit).
// Frames are not encrypted: anyone on the path can read them.

#include <openssl/evp.h>

#include <memory>
#include <span>
#include <string>

#include "cluster/wire.h"

namespace tandem::cluster {

// The two keys of one end of a link.
struct LinkKeys {
  Mac send{};
  Mac receive{};
};

// HMAC-SHA256 with one key, set once: each frame only re-initialises the context (no
// key schedule, no buffer of ours; OpenSSL 3.0 still makes two small allocations inside,
// well under 1% of hashing a 16 KiB activation frame).
class FrameMac {
 public:
  explicit FrameMac(const Mac& key);
  FrameMac(const FrameMac&) = delete;
  FrameMac& operator=(const FrameMac&) = delete;

  FrameMacBytes compute(std::span<const uint8_t, kFrameHeaderSize> header, uint64_t sequence,
                        std::span<const uint8_t> payload);

 private:
  struct FreeContext {
    void operator()(EVP_MAC_CTX* context) const { EVP_MAC_CTX_free(context); }
  };
  std::unique_ptr<EVP_MAC_CTX, FreeContext> context_;
};

// The sending half: tags frames with consecutive sequence numbers.
class FrameSealer {
 public:
  explicit FrameSealer(const Mac& key) : mac_(key) {}
  // `header` must carry kFlagAuthenticated. Not thread-safe (Connection serialises sends).
  FrameTag seal(std::span<const uint8_t, kFrameHeaderSize> header,
                std::span<const uint8_t> payload);

 private:
  FrameMac mac_;
  uint64_t next_sequence_ = 0;
};

// The receiving half. check() returns why a frame is refused, or an empty string; the
// expected sequence advances only on success.
class FrameOpener {
 public:
  explicit FrameOpener(const Mac& key) : mac_(key) {}
  std::string check(const FrameHeader& header, const FrameTag& tag,
                    std::span<const uint8_t> payload);

 private:
  FrameMac mac_;
  uint64_t next_sequence_ = 0;
};

}  // namespace tandem::cluster
