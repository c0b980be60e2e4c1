// Stage protocol messages: round trips, byte layout of a small message written by hand
// from the format, refusal of another stage protocol and of malformed activations,
// and the rows a step plan turns into.

#include <gtest/gtest.h>

#include <cmath>

#include "cluster/stage_compute.h"
#include "cluster/stage_wire.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

template <typename Message>
Message round_trip(const Message& message) {
  return from_frame<Message>(decode_frame(encode_frame(to_frame(message))));
}

TEST(StageWire, LoadStageRoundTripsAndRefusesAnotherRevision) {
  LoadStage load;
  load.pipeline_id = 0x0123456789abcdefull;
  load.stage_index = 2;
  load.stage_count = 3;
  load.model_path = "/models/m.gguf";
  load.model_bytes = 1234567;
  load.tensor_bytes = 1200000;
  load.first_layer = 12;
  load.end_layer = 24;
  load.has_output = true;
  load.threads = 8;
  load.context = 4096;
  load.kv_type = KvType::kF16;
  load.mode = StageComputeMode::kReference;
  load.activation_format = ActivationFormat::kBF16;
  load.step_timeout_ms = 5000;
  load.tensors = {{"blk.12.attn_q.weight", 8, {256, 512}, 139264},
                  {"output_norm.weight", 0, {256}, 1024}};
  load.tensors_sha256 = std::string(64, 'a');
  load.shard_bytes = 1 << 20;
  EXPECT_EQ(round_trip(load), load);

  Frame frame = to_frame(load);
  frame.payload[0] = 9;  // stage_protocol u16 little-endian comes first
  EXPECT_THROW(from_frame<LoadStage>(frame), Error);
}

TEST(StageWire, ShardMessagesRoundTrip) {
  const ShardRequest request{3, 4096};
  EXPECT_EQ(round_trip(request), request);
  const ShardChunk chunk{4096, 9000, {1, 2, 3, 250}};
  EXPECT_EQ(round_trip(chunk), chunk);
  // A chunk of the largest size fits the bulk payload bound of its type.
  EXPECT_GE(max_payload(MessageType::kShardChunk), kShardChunkBytes + 64);
  EXPECT_EQ(max_payload(MessageType::kShardRequest), kMaxControlPayload);
}

TEST(StageWire, SampledTokensByteLayout) {
  SampledTokens tokens;
  tokens.step_id = 5;
  tokens.tokens = {{0x0102, -2}};
  const Frame frame = to_frame(tokens);
  // step u64 | count u32 | request u64 | token i32, little-endian.
  const std::vector<uint8_t> expected = {5, 0, 0, 0, 0, 0, 0, 0, 1,    0,    0,    0,
                                         2, 1, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff};
  EXPECT_EQ(frame.payload, expected);
  EXPECT_EQ(frame.type, MessageType::kSampledTokens);
}

TEST(StageWire, RunStepRoundTrip) {
  RunStep step;
  step.plan.step_id = 41;
  step.return_logits = true;
  StepEntry a;
  a.request_id = 7;
  a.slot = 3;
  a.keep_positions = a.first_position = 10;
  a.tokens = {5, 6, 7};
  a.sample = true;
  a.sampling.temperature = 0.5f;
  a.sampling.top_k = 20;
  a.sampling.seed = 99;
  a.sampling.logit_bias = {{3, -100.0f}, {8, 2.5f}};
  step.plan.entries = {a, StepEntry{}};
  step.plan.cleared_slots = {1, 2};
  step.plan.finished_requests = {4};
  const RunStep back = round_trip(step);
  EXPECT_EQ(back.plan.step_id, 41u);
  EXPECT_TRUE(back.return_logits);
  ASSERT_EQ(back.plan.entries.size(), 2u);
  EXPECT_EQ(back.plan.entries[0].tokens, a.tokens);
  EXPECT_EQ(back.plan.entries[0].slot, 3);
  EXPECT_EQ(back.plan.entries[0].first_position, 10);
  EXPECT_TRUE(back.plan.entries[0].sample);
  EXPECT_EQ(back.plan.entries[0].sampling.temperature, 0.5f);
  EXPECT_EQ(back.plan.entries[0].sampling.top_k, 20);
  EXPECT_EQ(back.plan.entries[0].sampling.seed, 99u);
  EXPECT_EQ(back.plan.entries[0].sampling.logit_bias, a.sampling.logit_bias);
  EXPECT_TRUE(back.plan.entries[1].sampling.logit_bias.empty());
  EXPECT_EQ(back.plan.cleared_slots, step.plan.cleared_slots);
  EXPECT_EQ(back.plan.finished_requests, step.plan.finished_requests);

  // A count claiming more entries than the bytes can hold is refused before allocating.
  Frame frame = to_frame(step);
  frame.payload[9] = 0xff;  // entry count, after step_id (8) and return_logits (1)
  EXPECT_THROW(from_frame<RunStep>(frame), Error);
}

TEST(StageWire, ActivationsF32ExactBf16Rounded) {
  const std::vector<float> values = {1.0f, -2.5f, 3.14159274f, 1e-20f, -0.0f, 65504.0f};
  const Activations f32 = pack_activations(3, 2, 3, values, ActivationFormat::kF32);
  EXPECT_EQ(f32.data.size(), 24u);
  EXPECT_EQ(unpack_activations(round_trip(f32)), values);

  const Activations bf16 = pack_activations(3, 2, 3, values, ActivationFormat::kBF16);
  EXPECT_EQ(bf16.data.size(), 12u);
  const std::vector<float> back = unpack_activations(round_trip(bf16));
  for (size_t i = 0; i < values.size(); ++i) {
    // BF16 keeps 8 significant bits: relative error at most 2^-9.
    EXPECT_LE(std::abs(back[i] - values[i]), std::abs(values[i]) * 0x1p-9f) << i;
  }
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], -2.5f);

  Activations short_message = f32;
  short_message.data.pop_back();
  EXPECT_THROW(unpack_activations(short_message), Error);
}

TEST(StageWire, StepLogitsShapeChecked) {
  StepLogits logits{9, 2, 2, {1, 2, 3, 4}};
  EXPECT_EQ(round_trip(logits), logits);
  WireWriter out;
  out.u64(9);
  out.u32(3);  // rows 3 x cols 2 but only 4 values
  out.u32(2);
  out.u32(4);
  for (int i = 0; i < 4; ++i) out.u32(0);
  EXPECT_THROW(from_frame<StepLogits>(Frame{MessageType::kStepLogits, 0, out.take()}), Error);
}

TEST(StageCompute, BatchOfPlanRows) {
  StepPlan plan;
  StepEntry prefill;
  prefill.slot = 2;
  prefill.first_position = prefill.keep_positions = 4;
  prefill.tokens = {10, 11, 12};
  prefill.sample = true;
  StepEntry chunk;  // a prefill chunk that does not sample yet
  chunk.slot = 0;
  chunk.tokens = {20, 21};
  plan.entries = {prefill, chunk};
  const Batch batch = batch_of(plan, false);
  EXPECT_EQ(batch.tokens, (std::vector<int32_t>{10, 11, 12, 20, 21}));
  EXPECT_EQ(batch.positions, (std::vector<int32_t>{4, 5, 6, 0, 1}));
  EXPECT_EQ(batch.sequence_ids, (std::vector<int32_t>{2, 2, 2, 0, 0}));
  EXPECT_EQ(batch.wants_logits, (std::vector<uint8_t>{0, 0, 1, 0, 0}));
  EXPECT_EQ(batch_of(plan, true).logit_count(), 5u);
}

}  // namespace
}  // namespace tandem::cluster
