#pragma once
// The cluster wire protocol. Every message, on TCP and in UDP beacons, is one frame:
//
//   offset size  field
//   0      4     magic "TNDM" (bytes 'T','N','D','M')
//   4      2     protocol version (kProtocolVersion)
//   6      2     message type (MessageType)
//   8      4     flags (kFlagAuthenticated; unknown bits are refused)
//   12     4     payload length in bytes, at most max_payload(type)
//   16     24    FrameTag, only with kFlagAuthenticated: sequence (u64) then MAC (16 bytes)
//   16/40  len   payload
//
// Frames after the handshake of a link carry kFlagAuthenticated and a FrameTag
// (frame_auth.h); the handshake itself and UDP beacons do not.
// All integers are little-endian, whatever the host. Payload fields are written in
// declaration order: integers fixed width, doubles as IEEE-754 bits in a u64, strings
// and byte strings as a u32 length then the bytes, lists as a u32 count then items.
// Readers check every length against the bytes actually present before allocating, so
// a hostile peer can make a reader allocate at most the payload bound of the type.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cluster/node_info.h"

namespace tandem::cluster {

inline constexpr std::array<uint8_t, 4> kMagic = {'T', 'N', 'D', 'M'};
// 2: frames after the handshake are authenticated (FrameTag).
inline constexpr uint16_t kProtocolVersion = 2;
inline constexpr size_t kFrameHeaderSize = 16;
inline constexpr uint32_t kMaxControlPayload = 64u << 10;  // 64 KiB
inline constexpr uint32_t kMaxBulkPayload = 256u << 20;    // 256 MiB: tensors, probes
inline constexpr uint32_t kFlagAuthenticated = 1;          // a FrameTag follows the header
inline constexpr uint32_t kKnownFlags = kFlagAuthenticated;
inline constexpr size_t kFrameMacSize = 16;
inline constexpr size_t kFrameTagSize = 8 + kFrameMacSize;

enum class MessageType : uint16_t {
  kHello = 1,
  kChallenge = 2,
  kProof = 3,
  kError = 4,
  kInfoRequest = 10,
  kNodeInfo = 11,
  kPing = 12,
  kPong = 13,
  kLinkProbe = 14,
  kLinkProbeAck = 15,
  kLinkMeasureRequest = 16,
  kLinkReport = 17,
  kJoin = 20,
  kMembership = 21,
  kBeacon = 22,
  kMembershipRequest = 23,
  kModelFileRequest = 24,
  kModelFileReport = 25,
  kTensor = 30,
  // Pipeline stages (stage_wire.h).
  kLoadStage = 40,
  kStageReady = 41,
  kLinkStage = 42,
  kStageConnect = 43,
  kRunStep = 44,
  kActivations = 45,
  kSampledTokens = 46,
  kStepLogits = 47,
  kShardRequest = 48,
  kShardChunk = 49,
};

bool is_known_type(uint16_t type);
const char* type_name(MessageType type);
// The payload bound of a type: kMaxBulkPayload for kTensor, kLinkProbe, kLoadStage,
// kRunStep, kActivations, kStepLogits and kShardChunk, else control.
uint32_t max_payload(MessageType type);

struct FrameHeader {
  MessageType type{};
  uint32_t flags = 0;
  uint32_t payload_length = 0;
};

struct Frame {
  MessageType type{};
  uint32_t flags = 0;
  std::vector<uint8_t> payload;
};

// Validates magic, version, type, flags and the length bound; throws Error naming the
// field otherwise.
FrameHeader decode_frame_header(std::span<const uint8_t, kFrameHeaderSize> bytes);
std::array<uint8_t, kFrameHeaderSize> encode_frame_header(const FrameHeader& header);

using FrameMacBytes = std::array<uint8_t, kFrameMacSize>;

struct FrameTag {
  uint64_t sequence = 0;
  FrameMacBytes mac{};
};
std::array<uint8_t, kFrameTagSize> encode_frame_tag(const FrameTag& tag);
FrameTag decode_frame_tag(std::span<const uint8_t, kFrameTagSize> bytes);

// A whole unauthenticated frame in one buffer (header + payload), as sent in a UDP
// datagram.
std::vector<uint8_t> encode_frame(const Frame& frame);
// Decodes exactly one unauthenticated frame filling all of `bytes`; throws on truncation,
// extra bytes or kFlagAuthenticated.
Frame decode_frame(std::span<const uint8_t> bytes);

// Little-endian payload writer.
class WireWriter {
 public:
  void u8(uint8_t value) { bytes_.push_back(value); }
  void u16(uint16_t value);
  void u32(uint32_t value);
  void u64(uint64_t value);
  void i64(int64_t value) { u64(static_cast<uint64_t>(value)); }
  void f64(double value);
  void bytes(std::span<const uint8_t> value);  // u32 length + bytes
  void string(const std::string& value);
  template <size_t N>
  void fixed(const std::array<uint8_t, N>& value) {
    bytes_.insert(bytes_.end(), value.begin(), value.end());
  }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

// Little-endian payload reader over a view; every read checks the remaining length.
class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint8_t u8();
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64();
  std::vector<uint8_t> bytes();
  std::string string();
  template <size_t N>
  std::array<uint8_t, N> fixed() {
    std::array<uint8_t, N> out{};
    const auto view = take(N);
    std::copy(view.begin(), view.end(), out.begin());
    return out;
  }
  // A list count, refused when `count * min_item_bytes` exceeds what is left.
  uint32_t count(size_t min_item_bytes);
  size_t remaining() const { return bytes_.size() - offset_; }
  // Throws when bytes are left over: a message must fill its payload exactly.
  void expect_end() const;

 private:
  std::span<const uint8_t> take(size_t n);
  std::span<const uint8_t> bytes_;
  size_t offset_ = 0;
};

using Nonce = std::array<uint8_t, 32>;
using Mac = std::array<uint8_t, 32>;
using ClusterId = std::array<uint8_t, 16>;

// --- messages ---------------------------------------------------------------------

struct Hello {  // client -> server, opens the handshake
  static constexpr MessageType kType = MessageType::kHello;
  std::string node_id;
  Nonce nonce{};
  bool operator==(const Hello&) const = default;
};

struct Challenge {  // server -> client
  static constexpr MessageType kType = MessageType::kChallenge;
  std::string node_id;
  Nonce nonce{};
  bool operator==(const Challenge&) const = default;
};

struct Proof {  // both ways: HMAC over the handshake transcript (see auth.h)
  static constexpr MessageType kType = MessageType::kProof;
  Mac mac{};
  bool operator==(const Proof&) const = default;
};

struct ErrorMessage {
  static constexpr MessageType kType = MessageType::kError;
  uint32_t code = 0;  // ErrorCode
  std::string message;
  bool operator==(const ErrorMessage&) const = default;
};

enum class ErrorCode : uint32_t {
  kAuthenticationFailed = 1,
  kUnexpectedMessage = 2,
  kLinkFailed = 3,
  kStageFailed = 4,  // a pipeline stage could not load or run a step
};

struct InfoRequest {
  static constexpr MessageType kType = MessageType::kInfoRequest;
  bool operator==(const InfoRequest&) const = default;
};

struct NodeInfoMessage {
  static constexpr MessageType kType = MessageType::kNodeInfo;
  NodeInfo info;
  bool operator==(const NodeInfoMessage&) const = default;
};

struct Ping {
  static constexpr MessageType kType = MessageType::kPing;
  uint64_t sequence = 0;
  bool operator==(const Ping&) const = default;
};

struct Pong {
  static constexpr MessageType kType = MessageType::kPong;
  uint64_t sequence = 0;
  int64_t clock_unix_ns = 0;  // responder's wall clock, for skew estimates
  bool operator==(const Pong&) const = default;
};

struct LinkProbe {  // bulk bytes for a bandwidth measurement
  static constexpr MessageType kType = MessageType::kLinkProbe;
  uint64_t probe_id = 0;
  std::vector<uint8_t> data;
  bool operator==(const LinkProbe&) const = default;
};

struct LinkProbeAck {
  static constexpr MessageType kType = MessageType::kLinkProbeAck;
  uint64_t probe_id = 0;
  uint64_t bytes_received = 0;
  bool operator==(const LinkProbeAck&) const = default;
};

// Asks a node to measure its own link to `target` and answer with a LinkReport.
struct LinkMeasureRequest {
  static constexpr MessageType kType = MessageType::kLinkMeasureRequest;
  std::string target;  // HOST:PORT
  uint32_t ping_count = 0;
  uint64_t bulk_bytes = 0;
  bool operator==(const LinkMeasureRequest&) const = default;
};

struct LinkReport {
  static constexpr MessageType kType = MessageType::kLinkReport;
  std::string from_node;
  std::string to_node;
  double latency_median_us = 0;
  double latency_min_us = 0;
  double bandwidth_bytes_per_s = 0;
  double clock_offset_us = 0;  // to_node's clock minus from_node's, estimated
  std::string error;           // empty when the measurement succeeded
  bool operator==(const LinkReport&) const = default;
};

struct Member {
  std::string node_id;
  std::string name;
  std::string address;  // HOST:PORT
  bool operator==(const Member&) const = default;
};

struct Join {  // "I am here": sent on joining and as a heartbeat
  static constexpr MessageType kType = MessageType::kJoin;
  Member self;
  bool operator==(const Join&) const = default;
};

struct Membership {
  static constexpr MessageType kType = MessageType::kMembership;
  std::vector<Member> members;
  bool operator==(const Membership&) const = default;
};

struct MembershipRequest {  // asks for the member list without joining
  static constexpr MessageType kType = MessageType::kMembershipRequest;
  bool operator==(const MembershipRequest&) const = default;
};

struct Beacon {  // UDP discovery datagram
  static constexpr MessageType kType = MessageType::kBeacon;
  ClusterId cluster_id{};
  Member self;
  bool operator==(const Beacon&) const = default;
};

// "Do you have this model file?": asked by `tandem doctor` before anything is loaded.
// `file_name` is a bare file name (no directory part), looked up in the node's models
// directory; the node hashes it (cached, see model_hash.h) when `want_hash` is set.
struct ModelFileRequest {
  static constexpr MessageType kType = MessageType::kModelFileRequest;
  std::string file_name;
  bool want_hash = false;
  bool operator==(const ModelFileRequest&) const = default;
};

struct ModelFileReport {
  static constexpr MessageType kType = MessageType::kModelFileReport;
  std::string path;  // where the node looked
  bool present = false;
  uint64_t size_bytes = 0;
  std::string sha256;       // lower-case hex of the whole file; empty when not hashed
  double hash_seconds = 0;  // time spent hashing now (0 when the cached hash was used)
  std::string error;        // empty when the look-up succeeded
  bool operator==(const ModelFileReport&) const = default;
};

// Opaque activations or tensors for a pipeline step; the engine defines `data`.
struct TensorMessage {
  static constexpr MessageType kType = MessageType::kTensor;
  uint64_t step_id = 0;
  uint32_t tag = 0;
  std::vector<uint8_t> data;
  bool operator==(const TensorMessage&) const = default;
};

// Payload codecs, one pair per message.
void encode_payload(WireWriter& out, const Hello& message);
void decode_payload(WireReader& in, Hello& message);
void encode_payload(WireWriter& out, const Challenge& message);
void decode_payload(WireReader& in, Challenge& message);
void encode_payload(WireWriter& out, const Proof& message);
void decode_payload(WireReader& in, Proof& message);
void encode_payload(WireWriter& out, const ErrorMessage& message);
void decode_payload(WireReader& in, ErrorMessage& message);
void encode_payload(WireWriter& out, const InfoRequest& message);
void decode_payload(WireReader& in, InfoRequest& message);
void encode_payload(WireWriter& out, const NodeInfoMessage& message);
void decode_payload(WireReader& in, NodeInfoMessage& message);
void encode_payload(WireWriter& out, const Ping& message);
void decode_payload(WireReader& in, Ping& message);
void encode_payload(WireWriter& out, const Pong& message);
void decode_payload(WireReader& in, Pong& message);
void encode_payload(WireWriter& out, const LinkProbe& message);
void decode_payload(WireReader& in, LinkProbe& message);
void encode_payload(WireWriter& out, const LinkProbeAck& message);
void decode_payload(WireReader& in, LinkProbeAck& message);
void encode_payload(WireWriter& out, const LinkMeasureRequest& message);
void decode_payload(WireReader& in, LinkMeasureRequest& message);
void encode_payload(WireWriter& out, const LinkReport& message);
void decode_payload(WireReader& in, LinkReport& message);
void encode_payload(WireWriter& out, const Join& message);
void decode_payload(WireReader& in, Join& message);
void encode_payload(WireWriter& out, const Membership& message);
void decode_payload(WireReader& in, Membership& message);
void encode_payload(WireWriter& out, const MembershipRequest& message);
void decode_payload(WireReader& in, MembershipRequest& message);
void encode_payload(WireWriter& out, const Beacon& message);
void decode_payload(WireReader& in, Beacon& message);
void encode_payload(WireWriter& out, const ModelFileRequest& message);
void decode_payload(WireReader& in, ModelFileRequest& message);
void encode_payload(WireWriter& out, const ModelFileReport& message);
void decode_payload(WireReader& in, ModelFileReport& message);
void encode_payload(WireWriter& out, const TensorMessage& message);
void decode_payload(WireReader& in, TensorMessage& message);

void throw_type_mismatch(MessageType expected, const Frame& frame);

template <typename Message>
Frame to_frame(const Message& message) {
  WireWriter out;
  encode_payload(out, message);
  return Frame{Message::kType, 0, out.take()};
}

// Decodes `frame` as a Message; throws Error on a different type, a short payload or
// trailing bytes. A kError frame becomes an Error carrying the peer's message.
template <typename Message>
Message from_frame(const Frame& frame) {
  if (frame.type != Message::kType) throw_type_mismatch(Message::kType, frame);
  WireReader in(frame.payload);
  Message message;
  decode_payload(in, message);
  in.expect_end();
  return message;
}

}  // namespace tandem::cluster
