#include "cluster/stage_wire.h"

#include <bit>
#include <cstring>

#include "platform/error.h"
#include "platform/half.h"

namespace tandem::cluster {
namespace {

void put_f32(WireWriter& out, float value) { out.u32(std::bit_cast<uint32_t>(value)); }
float get_f32(WireReader& in) { return std::bit_cast<float>(in.u32()); }
void put_i32(WireWriter& out, int32_t value) { out.u32(static_cast<uint32_t>(value)); }
int32_t get_i32(WireReader& in) { return static_cast<int32_t>(in.u32()); }
bool get_bool(WireReader& in) {
  const uint8_t value = in.u8();
  if (value > 1) throw Error(str_cat("bad message: boolean byte ", int{value}));
  return value == 1;
}

void encode_sampling(WireWriter& out, const SamplingParams& p) {
  put_f32(out, p.temperature);
  put_i32(out, p.top_k);
  put_f32(out, p.top_p);
  put_f32(out, p.min_p);
  put_f32(out, p.repetition_penalty);
  put_f32(out, p.presence_penalty);
  put_f32(out, p.frequency_penalty);
  put_i32(out, p.penalty_last_n);
  out.u64(p.seed);
  out.u32(static_cast<uint32_t>(p.logit_bias.size()));
  for (const auto& [token, bias] : p.logit_bias) {
    put_i32(out, token);
    put_f32(out, bias);
  }
}
void decode_sampling(WireReader& in, SamplingParams& p) {
  p.temperature = get_f32(in);
  p.top_k = get_i32(in);
  p.top_p = get_f32(in);
  p.min_p = get_f32(in);
  p.repetition_penalty = get_f32(in);
  p.presence_penalty = get_f32(in);
  p.frequency_penalty = get_f32(in);
  p.penalty_last_n = get_i32(in);
  p.seed = in.u64();
  const uint32_t biases = in.count(8);
  p.logit_bias.clear();
  p.logit_bias.reserve(biases);
  for (uint32_t i = 0; i < biases; ++i) {
    const int32_t token = get_i32(in);
    const float bias = get_f32(in);
    p.logit_bias.emplace_back(token, bias);
  }
}

// Sizes of the fixed part of an encoded StepEntry, for list-count checks.
constexpr size_t kEntryMinBytes = 8 + 4 * 3 + 4 + 1 + 4 * 8 + 8 + 4;

}  // namespace

void encode_payload(WireWriter& out, const LoadStage& m) {
  out.u16(m.stage_protocol);
  out.u64(m.pipeline_id);
  out.u32(m.stage_index);
  out.u32(m.stage_count);
  out.string(m.model_path);
  out.u64(m.model_bytes);
  out.u64(m.tensor_bytes);
  out.u32(m.first_layer);
  out.u32(m.end_layer);
  out.u8(m.has_embedding ? 1 : 0);
  out.u8(m.has_output ? 1 : 0);
  out.u32(m.threads);
  out.u32(m.context);
  out.u8(static_cast<uint8_t>(m.kv_type));
  out.u8(static_cast<uint8_t>(m.mode));
  out.u8(static_cast<uint8_t>(m.activation_format));
  out.u32(m.step_timeout_ms);
  out.u32(static_cast<uint32_t>(m.tensors.size()));
  for (const StageTensor& t : m.tensors) {
    out.string(t.name);
    out.u32(t.type);
    out.u32(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) out.i64(d);
    out.u64(t.bytes);
  }
  out.string(m.tensors_sha256);
  out.u64(m.shard_bytes);
}
void decode_payload(WireReader& in, LoadStage& m) {
  m.stage_protocol = in.u16();
  if (m.stage_protocol != kStageProtocolVersion) {
    // Later fields may mean something else in another revision: stop here.
    throw Error(
        str_cat("stage protocol ", m.stage_protocol, ", this node speaks ", kStageProtocolVersion));
  }
  m.pipeline_id = in.u64();
  m.stage_index = in.u32();
  m.stage_count = in.u32();
  m.model_path = in.string();
  m.model_bytes = in.u64();
  m.tensor_bytes = in.u64();
  m.first_layer = in.u32();
  m.end_layer = in.u32();
  m.has_embedding = get_bool(in);
  m.has_output = get_bool(in);
  m.threads = in.u32();
  m.context = in.u32();
  const uint8_t kv_type = in.u8();
  if (kv_type > 1) throw Error(str_cat("bad message: KV cache type ", int{kv_type}));
  m.kv_type = static_cast<KvType>(kv_type);
  const uint8_t mode = in.u8();
  if (mode > 1) throw Error(str_cat("bad message: compute mode ", int{mode}));
  m.mode = static_cast<StageComputeMode>(mode);
  const uint8_t format = in.u8();
  if (format > 1) throw Error(str_cat("bad message: activation format ", int{format}));
  m.activation_format = static_cast<ActivationFormat>(format);
  m.step_timeout_ms = in.u32();
  // name length + type + dims count + bytes at least
  m.tensors.resize(in.count(4 + 4 + 4 + 8));
  for (StageTensor& t : m.tensors) {
    t.name = in.string();
    t.type = in.u32();
    t.shape.resize(in.count(8));
    for (int64_t& d : t.shape) d = in.i64();
    t.bytes = in.u64();
  }
  m.tensors_sha256 = in.string();
  m.shard_bytes = in.u64();
}

void encode_payload(WireWriter& out, const ShardRequest& m) {
  out.u32(m.stage_index);
  out.u64(m.offset);
}
void decode_payload(WireReader& in, ShardRequest& m) {
  m.stage_index = in.u32();
  m.offset = in.u64();
}
void encode_payload(WireWriter& out, const ShardChunk& m) {
  out.u64(m.offset);
  out.u64(m.total);
  out.bytes(m.data);
}
void decode_payload(WireReader& in, ShardChunk& m) {
  m.offset = in.u64();
  m.total = in.u64();
  m.data = in.bytes();
}

void encode_payload(WireWriter& out, const StageReady& m) {
  out.u32(m.stage_index);
  out.u64(m.weight_bytes);
}
void decode_payload(WireReader& in, StageReady& m) {
  m.stage_index = in.u32();
  m.weight_bytes = in.u64();
}
void encode_payload(WireWriter& out, const LinkStage& m) { out.string(m.next_address); }
void decode_payload(WireReader& in, LinkStage& m) { m.next_address = in.string(); }
void encode_payload(WireWriter& out, const StageConnect& m) {
  out.u64(m.pipeline_id);
  out.u32(m.from_stage);
}
void decode_payload(WireReader& in, StageConnect& m) {
  m.pipeline_id = in.u64();
  m.from_stage = in.u32();
}

void encode_payload(WireWriter& out, const RunStep& m) {
  out.u64(m.plan.step_id);
  out.u8(m.return_logits ? 1 : 0);
  out.u32(static_cast<uint32_t>(m.plan.entries.size()));
  for (const StepEntry& e : m.plan.entries) {
    out.u64(e.request_id);
    put_i32(out, e.slot);
    put_i32(out, e.keep_positions);
    put_i32(out, e.first_position);
    out.u32(static_cast<uint32_t>(e.tokens.size()));
    for (int32_t token : e.tokens) put_i32(out, token);
    out.u8(e.sample ? 1 : 0);
    encode_sampling(out, e.sampling);
  }
  out.u32(static_cast<uint32_t>(m.plan.cleared_slots.size()));
  for (int32_t slot : m.plan.cleared_slots) put_i32(out, slot);
  out.u32(static_cast<uint32_t>(m.plan.finished_requests.size()));
  for (uint64_t id : m.plan.finished_requests) out.u64(id);
}
void decode_payload(WireReader& in, RunStep& m) {
  m.plan = StepPlan{};
  m.plan.step_id = in.u64();
  m.return_logits = get_bool(in);
  m.plan.entries.resize(in.count(kEntryMinBytes));
  for (StepEntry& e : m.plan.entries) {
    e.request_id = in.u64();
    e.slot = get_i32(in);
    e.keep_positions = get_i32(in);
    e.first_position = get_i32(in);
    e.tokens.resize(in.count(4));
    for (int32_t& token : e.tokens) token = get_i32(in);
    e.sample = get_bool(in);
    decode_sampling(in, e.sampling);
  }
  m.plan.cleared_slots.resize(in.count(4));
  for (int32_t& slot : m.plan.cleared_slots) slot = get_i32(in);
  m.plan.finished_requests.resize(in.count(8));
  for (uint64_t& id : m.plan.finished_requests) id = in.u64();
}

void encode_payload(WireWriter& out, const Activations& m) {
  out.u64(m.step_id);
  out.u32(m.rows);
  out.u32(m.cols);
  out.u8(static_cast<uint8_t>(m.format));
  out.bytes(m.data);
}
void decode_payload(WireReader& in, Activations& m) {
  m.step_id = in.u64();
  m.rows = in.u32();
  m.cols = in.u32();
  const uint8_t format = in.u8();
  if (format > 1) throw Error(str_cat("bad message: activation format ", int{format}));
  m.format = static_cast<ActivationFormat>(format);
  m.data = in.bytes();
}

void encode_payload(WireWriter& out, const SampledTokens& m) {
  out.u64(m.step_id);
  out.u32(static_cast<uint32_t>(m.tokens.size()));
  for (const SampledToken& t : m.tokens) {
    out.u64(t.request_id);
    put_i32(out, t.token);
  }
}
void decode_payload(WireReader& in, SampledTokens& m) {
  m.step_id = in.u64();
  m.tokens.resize(in.count(12));
  for (SampledToken& t : m.tokens) {
    t.request_id = in.u64();
    t.token = get_i32(in);
  }
}

void encode_payload(WireWriter& out, const StepLogits& m) {
  out.u64(m.step_id);
  out.u32(m.rows);
  out.u32(m.cols);
  TANDEM_CHECK(m.values.size() == static_cast<size_t>(m.rows) * m.cols);
  out.u32(static_cast<uint32_t>(m.values.size()));
  for (float value : m.values) put_f32(out, value);
}
void decode_payload(WireReader& in, StepLogits& m) {
  m.step_id = in.u64();
  m.rows = in.u32();
  m.cols = in.u32();
  m.values.resize(in.count(4));
  if (m.values.size() != static_cast<size_t>(m.rows) * m.cols) {
    throw Error(str_cat("bad message: ", m.values.size(), " logits for ", m.rows, " x ", m.cols));
  }
  for (float& value : m.values) value = get_f32(in);
}

Activations pack_activations(uint64_t step_id, uint32_t rows, uint32_t cols,
                             std::span<const float> values, ActivationFormat format) {
  TANDEM_CHECK(values.size() == static_cast<size_t>(rows) * cols, "activations shape");
  Activations message{step_id, rows, cols, format, {}};
  if (format == ActivationFormat::kF32) {
    message.data.resize(values.size() * 4);
    for (size_t i = 0; i < values.size(); ++i) {
      const uint32_t bits = std::bit_cast<uint32_t>(values[i]);
      for (int b = 0; b < 4; ++b) message.data[4 * i + b] = static_cast<uint8_t>(bits >> (8 * b));
    }
  } else {
    message.data.resize(values.size() * 2);
    for (size_t i = 0; i < values.size(); ++i) {
      const uint16_t bits = f32_to_bf16(values[i]);
      message.data[2 * i] = static_cast<uint8_t>(bits);
      message.data[2 * i + 1] = static_cast<uint8_t>(bits >> 8);
    }
  }
  return message;
}

std::vector<float> unpack_activations(const Activations& m) {
  const size_t count = static_cast<size_t>(m.rows) * m.cols;
  const size_t width = m.format == ActivationFormat::kF32 ? 4 : 2;
  if (m.data.size() != count * width) {
    throw Error(str_cat("activations of ", m.rows, " x ", m.cols, " carry ", m.data.size(),
                        " bytes, expected ", count * width));
  }
  std::vector<float> values(count);
  const uint8_t* p = m.data.data();
  for (size_t i = 0; i < count; ++i) {
    if (width == 4) {
      uint32_t bits = 0;
      for (int b = 0; b < 4; ++b) bits |= static_cast<uint32_t>(p[4 * i + b]) << (8 * b);
      values[i] = std::bit_cast<float>(bits);
    } else {
      values[i] = bf16_to_f32(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
    }
  }
  return values;
}

}  // namespace tandem::cluster
