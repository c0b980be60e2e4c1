#include "cluster/wire.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "platform/error.h"

namespace tandem::cluster {
namespace {

void store_u16(uint8_t* out, uint16_t value) {
  out[0] = static_cast<uint8_t>(value);
  out[1] = static_cast<uint8_t>(value >> 8);
}
void store_u32(uint8_t* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}
uint16_t load_u16(const uint8_t* in) { return static_cast<uint16_t>(in[0] | (in[1] << 8)); }
uint32_t load_u32(const uint8_t* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(in[i]) << (8 * i);
  return value;
}

void encode_member(WireWriter& out, const Member& member) {
  out.string(member.node_id);
  out.string(member.name);
  out.string(member.address);
}
void decode_member(WireReader& in, Member& member) {
  member.node_id = in.string();
  member.name = in.string();
  member.address = in.string();
}

}  // namespace

bool is_known_type(uint16_t type) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::kHello:
    case MessageType::kChallenge:
    case MessageType::kProof:
    case MessageType::kError:
    case MessageType::kInfoRequest:
    case MessageType::kNodeInfo:
    case MessageType::kPing:
    case MessageType::kPong:
    case MessageType::kLinkProbe:
    case MessageType::kLinkProbeAck:
    case MessageType::kLinkMeasureRequest:
    case MessageType::kLinkReport:
    case MessageType::kJoin:
    case MessageType::kMembership:
    case MessageType::kBeacon:
    case MessageType::kMembershipRequest:
    case MessageType::kModelFileRequest:
    case MessageType::kModelFileReport:
    case MessageType::kTensor:
    case MessageType::kLoadStage:
    case MessageType::kStageReady:
    case MessageType::kLinkStage:
    case MessageType::kStageConnect:
    case MessageType::kRunStep:
    case MessageType::kActivations:
    case MessageType::kSampledTokens:
    case MessageType::kStepLogits:
    case MessageType::kShardRequest:
    case MessageType::kShardChunk:
      return true;
  }
  return false;
}

const char* type_name(MessageType type) {
  switch (type) {
    case MessageType::kHello:
      return "hello";
    case MessageType::kChallenge:
      return "challenge";
    case MessageType::kProof:
      return "proof";
    case MessageType::kError:
      return "error";
    case MessageType::kInfoRequest:
      return "info-request";
    case MessageType::kNodeInfo:
      return "node-info";
    case MessageType::kPing:
      return "ping";
    case MessageType::kPong:
      return "pong";
    case MessageType::kLinkProbe:
      return "link-probe";
    case MessageType::kLinkProbeAck:
      return "link-probe-ack";
    case MessageType::kLinkMeasureRequest:
      return "link-measure-request";
    case MessageType::kLinkReport:
      return "link-report";
    case MessageType::kJoin:
      return "join";
    case MessageType::kMembership:
      return "membership";
    case MessageType::kBeacon:
      return "beacon";
    case MessageType::kMembershipRequest:
      return "membership-request";
    case MessageType::kModelFileRequest:
      return "model-file-request";
    case MessageType::kModelFileReport:
      return "model-file-report";
    case MessageType::kTensor:
      return "tensor";
    case MessageType::kLoadStage:
      return "load-stage";
    case MessageType::kStageReady:
      return "stage-ready";
    case MessageType::kLinkStage:
      return "link-stage";
    case MessageType::kStageConnect:
      return "stage-connect";
    case MessageType::kRunStep:
      return "run-step";
    case MessageType::kActivations:
      return "activations";
    case MessageType::kSampledTokens:
      return "sampled-tokens";
    case MessageType::kStepLogits:
      return "step-logits";
    case MessageType::kShardRequest:
      return "shard-request";
    case MessageType::kShardChunk:
      return "shard-chunk";
  }
  return "unknown";
}

uint32_t max_payload(MessageType type) {
  switch (type) {
    case MessageType::kTensor:
    case MessageType::kLinkProbe:
    case MessageType::kLoadStage:  // its tensor list grows with the stage's layers
    case MessageType::kRunStep:
    case MessageType::kActivations:
    case MessageType::kStepLogits:
    case MessageType::kShardChunk:
      return kMaxBulkPayload;
    default:
      return kMaxControlPayload;
  }
}

std::array<uint8_t, kFrameHeaderSize> encode_frame_header(const FrameHeader& header) {
  std::array<uint8_t, kFrameHeaderSize> out{};
  std::copy(kMagic.begin(), kMagic.end(), out.begin());
  store_u16(&out[4], kProtocolVersion);
  store_u16(&out[6], static_cast<uint16_t>(header.type));
  store_u32(&out[8], header.flags);
  store_u32(&out[12], header.payload_length);
  return out;
}

FrameHeader decode_frame_header(std::span<const uint8_t, kFrameHeaderSize> bytes) {
  if (!std::equal(kMagic.begin(), kMagic.end(), bytes.begin())) {
    throw Error("bad frame: wrong magic (not a tandem cluster peer)");
  }
  const uint16_t version = load_u16(&bytes[4]);
  if (version != kProtocolVersion) {
    throw Error(
        str_cat("bad frame: protocol version ", version, ", this node speaks ", kProtocolVersion));
  }
  const uint16_t type = load_u16(&bytes[6]);
  if (!is_known_type(type)) throw Error(str_cat("bad frame: unknown message type ", type));
  FrameHeader header;
  header.type = static_cast<MessageType>(type);
  header.flags = load_u32(&bytes[8]);
  if ((header.flags & ~kKnownFlags) != 0) {
    throw Error(str_cat("bad frame: unknown flags 0x", std::hex, header.flags));
  }
  header.payload_length = load_u32(&bytes[12]);
  if (header.payload_length > max_payload(header.type)) {
    throw Error(str_cat("bad frame: ", type_name(header.type), " payload of ",
                        header.payload_length, " bytes exceeds the bound of ",
                        max_payload(header.type)));
  }
  return header;
}

std::array<uint8_t, kFrameTagSize> encode_frame_tag(const FrameTag& tag) {
  std::array<uint8_t, kFrameTagSize> out{};
  store_u32(&out[0], static_cast<uint32_t>(tag.sequence));
  store_u32(&out[4], static_cast<uint32_t>(tag.sequence >> 32));
  std::copy(tag.mac.begin(), tag.mac.end(), out.begin() + 8);
  return out;
}

FrameTag decode_frame_tag(std::span<const uint8_t, kFrameTagSize> bytes) {
  FrameTag tag;
  tag.sequence = static_cast<uint64_t>(load_u32(&bytes[0])) |
                 (static_cast<uint64_t>(load_u32(&bytes[4])) << 32);
  std::copy(bytes.begin() + 8, bytes.end(), tag.mac.begin());
  return tag;
}

std::vector<uint8_t> encode_frame(const Frame& frame) {
  TANDEM_CHECK(frame.payload.size() <= max_payload(frame.type), "payload too large to send");
  const auto header =
      encode_frame_header({frame.type, frame.flags, static_cast<uint32_t>(frame.payload.size())});
  std::vector<uint8_t> out(kFrameHeaderSize + frame.payload.size());
  std::memcpy(out.data(), header.data(), kFrameHeaderSize);
  if (!frame.payload.empty()) {
    std::memcpy(out.data() + kFrameHeaderSize, frame.payload.data(), frame.payload.size());
  }
  return out;
}

Frame decode_frame(std::span<const uint8_t> bytes) {
  if (bytes.size() < kFrameHeaderSize) {
    throw Error(str_cat("bad frame: truncated header (", bytes.size(), " of ", kFrameHeaderSize,
                        " bytes)"));
  }
  const FrameHeader header = decode_frame_header(bytes.first<kFrameHeaderSize>());
  if ((header.flags & kFlagAuthenticated) != 0) {
    throw Error("bad frame: an authenticated frame outside a link");
  }
  const auto payload = bytes.subspan(kFrameHeaderSize);
  if (payload.size() != header.payload_length) {
    throw Error(str_cat("bad frame: payload of ", payload.size(), " bytes, header says ",
                        header.payload_length));
  }
  return Frame{header.type, header.flags, {payload.begin(), payload.end()}};
}

void WireWriter::u16(uint16_t value) {
  u8(static_cast<uint8_t>(value));
  u8(static_cast<uint8_t>(value >> 8));
}
void WireWriter::u32(uint32_t value) {
  for (int i = 0; i < 4; ++i) u8(static_cast<uint8_t>(value >> (8 * i)));
}
void WireWriter::u64(uint64_t value) {
  for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(value >> (8 * i)));
}
void WireWriter::f64(double value) { u64(std::bit_cast<uint64_t>(value)); }
void WireWriter::bytes(std::span<const uint8_t> value) {
  TANDEM_CHECK(value.size() <= UINT32_MAX);
  u32(static_cast<uint32_t>(value.size()));
  bytes_.insert(bytes_.end(), value.begin(), value.end());
}
void WireWriter::string(const std::string& value) {
  bytes({reinterpret_cast<const uint8_t*>(value.data()), value.size()});
}

std::span<const uint8_t> WireReader::take(size_t n) {
  if (n > remaining()) {
    throw Error(
        str_cat("bad message: truncated (needs ", n, " more bytes, ", remaining(), " left)"));
  }
  const auto view = bytes_.subspan(offset_, n);
  offset_ += n;
  return view;
}
uint8_t WireReader::u8() { return take(1)[0]; }
uint16_t WireReader::u16() { return load_u16(take(2).data()); }
uint32_t WireReader::u32() { return load_u32(take(4).data()); }
uint64_t WireReader::u64() {
  const auto view = take(8);
  return static_cast<uint64_t>(load_u32(view.data())) |
         (static_cast<uint64_t>(load_u32(view.data() + 4)) << 32);
}
double WireReader::f64() { return std::bit_cast<double>(u64()); }
std::vector<uint8_t> WireReader::bytes() {
  const uint32_t length = u32();
  const auto view = take(length);  // checked before anything is allocated
  return {view.begin(), view.end()};
}
std::string WireReader::string() {
  const uint32_t length = u32();
  const auto view = take(length);
  return {reinterpret_cast<const char*>(view.data()), view.size()};
}
uint32_t WireReader::count(size_t min_item_bytes) {
  const uint32_t n = u32();
  if (static_cast<uint64_t>(n) * std::max<size_t>(min_item_bytes, 1) > remaining()) {
    throw Error(
        str_cat("bad message: list of ", n, " items cannot fit in ", remaining(), " bytes"));
  }
  return n;
}
void WireReader::expect_end() const {
  if (remaining() != 0) {
    throw Error(str_cat("bad message: ", remaining(), " unexpected trailing bytes"));
  }
}

void throw_type_mismatch(MessageType expected, const Frame& frame) {
  if (frame.type == MessageType::kError && expected != MessageType::kError) {
    const auto error = from_frame<ErrorMessage>(frame);
    throw Error(str_cat("peer reported an error: ", error.message));
  }
  throw Error(str_cat("unexpected ", type_name(frame.type), " message (expected ",
                      type_name(expected), ")"));
}

void encode_payload(WireWriter& out, const Hello& message) {
  out.string(message.node_id);
  out.fixed(message.nonce);
}
void decode_payload(WireReader& in, Hello& message) {
  message.node_id = in.string();
  message.nonce = in.fixed<32>();
}
void encode_payload(WireWriter& out, const Challenge& message) {
  out.string(message.node_id);
  out.fixed(message.nonce);
}
void decode_payload(WireReader& in, Challenge& message) {
  message.node_id = in.string();
  message.nonce = in.fixed<32>();
}
void encode_payload(WireWriter& out, const Proof& message) { out.fixed(message.mac); }
void decode_payload(WireReader& in, Proof& message) { message.mac = in.fixed<32>(); }
void encode_payload(WireWriter& out, const ErrorMessage& message) {
  out.u32(message.code);
  out.string(message.message);
}
void decode_payload(WireReader& in, ErrorMessage& message) {
  message.code = in.u32();
  message.message = in.string();
}
void encode_payload(WireWriter&, const InfoRequest&) {}
void decode_payload(WireReader&, InfoRequest&) {}

void encode_payload(WireWriter& out, const NodeInfoMessage& message) {
  const NodeInfo& info = message.info;
  out.string(info.node_id);
  out.string(info.name);
  out.string(info.tandem_version);
  out.string(info.hostname);
  out.string(info.listen_address);
  out.u64(info.memory_total_bytes);
  out.u64(info.memory_available_bytes);
  out.u32(info.cores);
  out.string(info.simd);
  out.f64(info.matmul_gflops);
  out.string(info.cache_dir);
  out.u64(info.disk_free_bytes);
  out.u64(info.disk_total_bytes);
  out.u32(static_cast<uint32_t>(info.rdma_devices.size()));
  for (const auto& device : info.rdma_devices) out.string(device);
  out.i64(info.clock_unix_ns);
}
void decode_payload(WireReader& in, NodeInfoMessage& message) {
  NodeInfo& info = message.info;
  info.node_id = in.string();
  info.name = in.string();
  info.tandem_version = in.string();
  info.hostname = in.string();
  info.listen_address = in.string();
  info.memory_total_bytes = in.u64();
  info.memory_available_bytes = in.u64();
  info.cores = in.u32();
  info.simd = in.string();
  info.matmul_gflops = in.f64();
  info.cache_dir = in.string();
  info.disk_free_bytes = in.u64();
  info.disk_total_bytes = in.u64();
  const uint32_t devices = in.count(4);
  info.rdma_devices.clear();
  for (uint32_t i = 0; i < devices; ++i) info.rdma_devices.push_back(in.string());
  info.clock_unix_ns = in.i64();
}

void encode_payload(WireWriter& out, const Ping& message) { out.u64(message.sequence); }
void decode_payload(WireReader& in, Ping& message) { message.sequence = in.u64(); }
void encode_payload(WireWriter& out, const Pong& message) {
  out.u64(message.sequence);
  out.i64(message.clock_unix_ns);
}
void decode_payload(WireReader& in, Pong& message) {
  message.sequence = in.u64();
  message.clock_unix_ns = in.i64();
}
void encode_payload(WireWriter& out, const LinkProbe& message) {
  out.u64(message.probe_id);
  out.bytes(message.data);
}
void decode_payload(WireReader& in, LinkProbe& message) {
  message.probe_id = in.u64();
  message.data = in.bytes();
}
void encode_payload(WireWriter& out, const LinkProbeAck& message) {
  out.u64(message.probe_id);
  out.u64(message.bytes_received);
}
void decode_payload(WireReader& in, LinkProbeAck& message) {
  message.probe_id = in.u64();
  message.bytes_received = in.u64();
}
void encode_payload(WireWriter& out, const LinkMeasureRequest& message) {
  out.string(message.target);
  out.u32(message.ping_count);
  out.u64(message.bulk_bytes);
}
void decode_payload(WireReader& in, LinkMeasureRequest& message) {
  message.target = in.string();
  message.ping_count = in.u32();
  message.bulk_bytes = in.u64();
}
void encode_payload(WireWriter& out, const LinkReport& message) {
  out.string(message.from_node);
  out.string(message.to_node);
  out.f64(message.latency_median_us);
  out.f64(message.latency_min_us);
  out.f64(message.bandwidth_bytes_per_s);
  out.f64(message.clock_offset_us);
  out.string(message.error);
}
void decode_payload(WireReader& in, LinkReport& message) {
  message.from_node = in.string();
  message.to_node = in.string();
  message.latency_median_us = in.f64();
  message.latency_min_us = in.f64();
  message.bandwidth_bytes_per_s = in.f64();
  message.clock_offset_us = in.f64();
  message.error = in.string();
}
void encode_payload(WireWriter& out, const Join& message) { encode_member(out, message.self); }
void decode_payload(WireReader& in, Join& message) { decode_member(in, message.self); }
void encode_payload(WireWriter& out, const Membership& message) {
  out.u32(static_cast<uint32_t>(message.members.size()));
  for (const auto& member : message.members) encode_member(out, member);
}
void decode_payload(WireReader& in, Membership& message) {
  const uint32_t n = in.count(12);  // three empty strings at least
  message.members.resize(n);
  for (auto& member : message.members) decode_member(in, member);
}
void encode_payload(WireWriter&, const MembershipRequest&) {}
void decode_payload(WireReader&, MembershipRequest&) {}
void encode_payload(WireWriter& out, const ModelFileRequest& message) {
  out.string(message.file_name);
  out.u8(message.want_hash ? 1 : 0);
}
void decode_payload(WireReader& in, ModelFileRequest& message) {
  message.file_name = in.string();
  const uint8_t want_hash = in.u8();
  if (want_hash > 1) throw Error("model-file-request: want_hash is not 0 or 1");
  message.want_hash = want_hash == 1;
}
void encode_payload(WireWriter& out, const ModelFileReport& message) {
  out.string(message.path);
  out.u8(message.present ? 1 : 0);
  out.u64(message.size_bytes);
  out.string(message.sha256);
  out.f64(message.hash_seconds);
  out.string(message.error);
}
void decode_payload(WireReader& in, ModelFileReport& message) {
  message.path = in.string();
  const uint8_t present = in.u8();
  if (present > 1) throw Error("model-file-report: present is not 0 or 1");
  message.present = present == 1;
  message.size_bytes = in.u64();
  message.sha256 = in.string();
  message.hash_seconds = in.f64();
  message.error = in.string();
}
void encode_payload(WireWriter& out, const Beacon& message) {
  out.fixed(message.cluster_id);
  encode_member(out, message.self);
}
void decode_payload(WireReader& in, Beacon& message) {
  message.cluster_id = in.fixed<16>();
  decode_member(in, message.self);
}
void encode_payload(WireWriter& out, const TensorMessage& message) {
  out.u64(message.step_id);
  out.u32(message.tag);
  out.bytes(message.data);
}
void decode_payload(WireReader& in, TensorMessage& message) {
  message.step_id = in.u64();
  message.tag = in.u32();
  message.data = in.bytes();
}

}  // namespace tandem::cluster
