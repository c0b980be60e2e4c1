#include "cluster/frame_auth.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include <algorithm>
#include <limits>

#include "platform/error.h"

namespace tandem::cluster {
namespace {

std::array<uint8_t, 8> little_endian(uint64_t value) {
  std::array<uint8_t, 8> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
  return out;
}

}  // namespace

FrameMac::FrameMac(const Mac& key) {
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  TANDEM_CHECK(hmac != nullptr, "OpenSSL has no HMAC");
  context_.reset(EVP_MAC_CTX_new(hmac));
  EVP_MAC_free(hmac);  // the context keeps its own reference
  TANDEM_CHECK(context_ != nullptr, "cannot allocate an HMAC context");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  TANDEM_CHECK(EVP_MAC_init(context_.get(), key.data(), key.size(), params) == 1,
               "cannot key HMAC-SHA256");
}

FrameMacBytes FrameMac::compute(std::span<const uint8_t, kFrameHeaderSize> header,
                                uint64_t sequence, std::span<const uint8_t> payload) {
  // A null key re-initialises with the key given at construction.
  EVP_MAC_CTX* context = context_.get();
  const auto sequence_bytes = little_endian(sequence);
  Mac full{};
  size_t length = 0;
  const bool ok = EVP_MAC_init(context, nullptr, 0, nullptr) == 1 &&
                  EVP_MAC_update(context, header.data(), header.size()) == 1 &&
                  EVP_MAC_update(context, sequence_bytes.data(), sequence_bytes.size()) == 1 &&
                  EVP_MAC_update(context, payload.data(), payload.size()) == 1 &&
                  EVP_MAC_final(context, full.data(), &length, full.size()) == 1;
  TANDEM_CHECK(ok && length == full.size(), "HMAC-SHA256 failed");
  FrameMacBytes out{};
  std::copy_n(full.begin(), out.size(), out.begin());
  return out;
}

FrameTag FrameSealer::seal(std::span<const uint8_t, kFrameHeaderSize> header,
                           std::span<const uint8_t> payload) {
  // 2^64 frames will not be sent; reusing a sequence number would allow a replay.
  TANDEM_CHECK(next_sequence_ != std::numeric_limits<uint64_t>::max(), "sequence exhausted");
  FrameTag tag;
  tag.sequence = next_sequence_++;
  tag.mac = mac_.compute(header, tag.sequence, payload);
  return tag;
}

std::string FrameOpener::check(const FrameHeader& header, const FrameTag& tag,
                               std::span<const uint8_t> payload) {
  const auto header_bytes = encode_frame_header(header);
  const FrameMacBytes expected = mac_.compute(header_bytes, tag.sequence, payload);
  if (CRYPTO_memcmp(expected.data(), tag.mac.data(), expected.size()) != 0) {
    return str_cat("frame authentication failed: wrong MAC on a ", type_name(header.type),
                   " frame (altered, forged or keyed for the other direction)");
  }
  if (tag.sequence != next_sequence_) {
    return str_cat("frame authentication failed: ", type_name(header.type), " frame has sequence ",
                   tag.sequence, ", expected ", next_sequence_,
                   tag.sequence < next_sequence_ ? " (replayed)" : " (frames lost or reordered)");
  }
  ++next_sequence_;
  return "";
}

}  // namespace tandem::cluster
