#pragma once
// Messages of the pipeline-stage protocol, carried in wire.h frames. One pipeline is a
// coordinator and N stage nodes, each running a contiguous range of layers:
//
//   coordinator -> each node   LoadStage          node answers StageReady (or kError)
//   node -> coordinator        ShardRequest       when it holds no verified copy of the
//   coordinator -> node        ShardChunk ...     stage's tensors: the shard file, in
//                                                 pieces of at most kShardChunkBytes
//   coordinator -> stage k<N-1 LinkStage{next}    node k connects to node k+1, sends
//                                                 StageConnect, gets StageReady, and
//                                                 answers the coordinator StageReady
//   per step, coordinator -> every stage   RunStep (the whole plan: tokens, positions
//                                          come from it on every stage)
//   stage k -> stage k+1                   Activations [rows][hidden]
//   last stage -> coordinator              SampledTokens, or StepLogits in logits mode
//
// A stage that fails sends an ErrorMessage (code kStageFailed) to the coordinator and
// closes its connections, so every other party ends with an Error, not a hang.
// kStageProtocolVersion is checked on LoadStage: a node refuses a coordinator that
// speaks another revision of these messages.

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/wire.h"
#include "model/kv_cache.h"
#include "serving/step_plan.h"

namespace tandem::cluster {

inline constexpr uint16_t kStageProtocolVersion = 4;
inline constexpr uint32_t kShardChunkBytes = 4u << 20;  // well under kMaxBulkPayload

enum class ActivationFormat : uint8_t {
  kF32 = 0,   // exact: the stages compute as one process would
  kBF16 = 1,  // half the bytes; rounds the residual stream at each boundary
};

enum class StageComputeMode : uint8_t { kFast = 0, kReference = 1 };

// One tensor a stage reads, as the coordinator's file declares it.
struct StageTensor {
  std::string name;
  uint32_t type = 0;           // TensorType id
  std::vector<int64_t> shape;  // ggml order
  uint64_t bytes = 0;
  bool operator==(const StageTensor&) const = default;
};

struct LoadStage {
  static constexpr MessageType kType = MessageType::kLoadStage;
  uint16_t stage_protocol = kStageProtocolVersion;
  uint64_t pipeline_id = 0;  // chosen by the coordinator; names the pipeline to StageConnect
  uint32_t stage_index = 0;
  uint32_t stage_count = 0;
  std::string model_path;     // path of the GGUF file on the node
  uint64_t model_bytes = 0;   // size of that file, checked before loading
  uint64_t tensor_bytes = 0;  // sum of its tensor sizes, checked after parsing
  uint32_t first_layer = 0;
  uint32_t end_layer = 0;  // exclusive
  bool has_embedding = false;
  bool has_output = false;
  uint32_t threads = 0;           // 0: every core of the node
  uint32_t context = 0;           // positions per sequence of the cache (0: the model's)
  KvType kv_type = KvType::kF32;  // element type of the stage's cache
  StageComputeMode mode = StageComputeMode::kFast;
  ActivationFormat activation_format = ActivationFormat::kF32;
  uint32_t step_timeout_ms = 60'000;  // how long a stage waits for its input activations
  // The identity of the stage's weights (shard.h): a node uses a file only when it holds
  // these tensors with this SHA-256 over them; else it asks for the shard (shard_bytes).
  std::vector<StageTensor> tensors;
  std::string tensors_sha256;  // 64 hex digits
  uint64_t shard_bytes = 0;    // size of the shard file ShardChunks carry
  bool operator==(const LoadStage&) const = default;
};

struct ShardRequest {  // node -> coordinator: stream the stage's shard from `offset`
  static constexpr MessageType kType = MessageType::kShardRequest;
  uint32_t stage_index = 0;
  uint64_t offset = 0;
  bool operator==(const ShardRequest&) const = default;
};

struct ShardChunk {  // bytes [offset, offset + data.size()) of a shard file of total bytes
  static constexpr MessageType kType = MessageType::kShardChunk;
  uint64_t offset = 0;
  uint64_t total = 0;
  std::vector<uint8_t> data;
  bool operator==(const ShardChunk&) const = default;
};

struct StageReady {
  static constexpr MessageType kType = MessageType::kStageReady;
  uint32_t stage_index = 0;
  uint64_t weight_bytes = 0;  // bytes of the tensors this stage reads (prefetched)
  bool operator==(const StageReady&) const = default;
};

struct LinkStage {  // coordinator -> stage k: open the link to stage k + 1
  static constexpr MessageType kType = MessageType::kLinkStage;
  std::string next_address;  // HOST:PORT of the next stage's node
  bool operator==(const LinkStage&) const = default;
};

struct StageConnect {  // stage k -> the node of stage k + 1, first message on the link
  static constexpr MessageType kType = MessageType::kStageConnect;
  uint64_t pipeline_id = 0;
  uint32_t from_stage = 0;
  bool operator==(const StageConnect&) const = default;
};

struct RunStep {
  static constexpr MessageType kType = MessageType::kRunStep;
  StepPlan plan;
  // Logits mode (testing): every row of every entry wants logits, and the last stage
  // answers StepLogits with them instead of sampling.
  bool return_logits = false;
};

// rows x cols values, row-major; F32 or BF16 little-endian per `format`.
struct Activations {
  static constexpr MessageType kType = MessageType::kActivations;
  uint64_t step_id = 0;
  uint32_t rows = 0;
  uint32_t cols = 0;
  ActivationFormat format = ActivationFormat::kF32;
  std::vector<uint8_t> data;
  bool operator==(const Activations&) const = default;
};

struct SampledTokens {
  static constexpr MessageType kType = MessageType::kSampledTokens;
  uint64_t step_id = 0;
  std::vector<SampledToken> tokens;
};

struct StepLogits {  // [rows][vocab] F32, the rows of the step in plan order
  static constexpr MessageType kType = MessageType::kStepLogits;
  uint64_t step_id = 0;
  uint32_t rows = 0;
  uint32_t cols = 0;
  std::vector<float> values;
  bool operator==(const StepLogits&) const = default;
};

void encode_payload(WireWriter& out, const LoadStage& message);
void decode_payload(WireReader& in, LoadStage& message);
void encode_payload(WireWriter& out, const ShardRequest& message);
void decode_payload(WireReader& in, ShardRequest& message);
void encode_payload(WireWriter& out, const ShardChunk& message);
void decode_payload(WireReader& in, ShardChunk& message);
void encode_payload(WireWriter& out, const StageReady& message);
void decode_payload(WireReader& in, StageReady& message);
void encode_payload(WireWriter& out, const LinkStage& message);
void decode_payload(WireReader& in, LinkStage& message);
void encode_payload(WireWriter& out, const StageConnect& message);
void decode_payload(WireReader& in, StageConnect& message);
void encode_payload(WireWriter& out, const RunStep& message);
void decode_payload(WireReader& in, RunStep& message);
void encode_payload(WireWriter& out, const Activations& message);
void decode_payload(WireReader& in, Activations& message);
void encode_payload(WireWriter& out, const SampledTokens& message);
void decode_payload(WireReader& in, SampledTokens& message);
void encode_payload(WireWriter& out, const StepLogits& message);
void decode_payload(WireReader& in, StepLogits& message);

// Packs rows x cols floats in `format`; unpacks them back (BF16 widened exactly).
Activations pack_activations(uint64_t step_id, uint32_t rows, uint32_t cols,
                             std::span<const float> values, ActivationFormat format);
// Throws Error when the byte count does not match rows x cols of the format.
std::vector<float> unpack_activations(const Activations& message);

}  // namespace tandem::cluster
