// libFuzzer target: the cluster wire reader must refuse any input with tandem::Error,
// never crash or allocate beyond the frame's bound; the frame authenticator must refuse
// any tagged frame it did not seal with a reason, never a crash.

#include <cstddef>
#include <cstdint>
#include <span>

#include "cluster/frame_auth.h"
#include "cluster/stage_wire.h"
#include "cluster/wire.h"
#include "platform/error.h"

namespace {

template <typename Message>
void decode_as(const tandem::cluster::Frame& frame) {
  (void)tandem::cluster::from_frame<Message>(frame);
}

// Input read as header | tag | payload, as a connection receives it after the handshake.
void check_tagged(std::span<const uint8_t> bytes) {
  using namespace tandem::cluster;
  if (bytes.size() < kFrameHeaderSize + kFrameTagSize) return;
  const FrameHeader header = decode_frame_header(bytes.first<kFrameHeaderSize>());
  const FrameTag tag = decode_frame_tag(bytes.subspan<kFrameHeaderSize, kFrameTagSize>());
  FrameOpener opener(Mac{});
  (void)opener.check(header, tag, bytes.subspan(kFrameHeaderSize + kFrameTagSize));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tandem::cluster;
  try {
    check_tagged(std::span<const uint8_t>(data, size));
  } catch (const tandem::Error&) {
  }
  try {
    const Frame frame = decode_frame(std::span<const uint8_t>(data, size));
    switch (frame.type) {
      case MessageType::kHello:
        decode_as<Hello>(frame);
        break;
      case MessageType::kChallenge:
        decode_as<Challenge>(frame);
        break;
      case MessageType::kProof:
        decode_as<Proof>(frame);
        break;
      case MessageType::kError:
        decode_as<ErrorMessage>(frame);
        break;
      case MessageType::kInfoRequest:
        decode_as<InfoRequest>(frame);
        break;
      case MessageType::kNodeInfo:
        decode_as<NodeInfoMessage>(frame);
        break;
      case MessageType::kPing:
        decode_as<Ping>(frame);
        break;
      case MessageType::kPong:
        decode_as<Pong>(frame);
        break;
      case MessageType::kLinkProbe:
        decode_as<LinkProbe>(frame);
        break;
      case MessageType::kLinkProbeAck:
        decode_as<LinkProbeAck>(frame);
        break;
      case MessageType::kLinkMeasureRequest:
        decode_as<LinkMeasureRequest>(frame);
        break;
      case MessageType::kLinkReport:
        decode_as<LinkReport>(frame);
        break;
      case MessageType::kJoin:
        decode_as<Join>(frame);
        break;
      case MessageType::kMembership:
        decode_as<Membership>(frame);
        break;
      case MessageType::kBeacon:
        decode_as<Beacon>(frame);
        break;
      case MessageType::kMembershipRequest:
        decode_as<MembershipRequest>(frame);
        break;
      case MessageType::kModelFileRequest:
        decode_as<ModelFileRequest>(frame);
        break;
      case MessageType::kModelFileReport:
        decode_as<ModelFileReport>(frame);
        break;
      case MessageType::kTensor:
        decode_as<TensorMessage>(frame);
        break;
      case MessageType::kLoadStage:
        decode_as<LoadStage>(frame);
        break;
      case MessageType::kShardRequest:
        decode_as<ShardRequest>(frame);
        break;
      case MessageType::kShardChunk:
        decode_as<ShardChunk>(frame);
        break;
      default:  // the other stage messages have their own round-trip tests
        break;
    }
  } catch (const tandem::Error&) {
  }
  return 0;
}
