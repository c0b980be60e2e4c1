#include "cluster/pipeline_runner.h"

#include <algorithm>
#include <cstring>

#include "cluster/node.h"
#include "cluster/resilient_pipeline.h"
#include "cluster/shard.h"
#include "gguf/model_file.h"
#include "model/footprint.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

constexpr Milliseconds kPollSlice{20};

uint64_t random_pipeline_id() {
  const Nonce nonce = random_nonce();
  uint64_t id = 0;
  std::memcpy(&id, nonce.data(), sizeof(id));
  return id;
}

// What a stage's connection says when polled: "" when nothing is waiting, else the
// error it reported, the reason it broke, or the unexpected message it sent.
std::string poll_problem(Connection& connection, Milliseconds wait) {
  try {
    if (!connection.wait_readable(wait)) return "";
    const Frame frame = connection.receive(Milliseconds(1000));
    if (frame.type == MessageType::kError) return from_frame<ErrorMessage>(frame).message;
    return str_cat("unexpected ", type_name(frame.type), " message");
  } catch (const Error& e) {
    return str_cat("connection lost: ", e.what());
  }
}

// Sends the stage's shard file from request.offset in chunks of kShardChunkBytes.
void stream_shard(Connection& node, const ModelFile& file, const LoadStage& load,
                  const ShardRequest& request) {
  if (request.stage_index != load.stage_index) {
    throw Error(str_cat("shard request for stage ", request.stage_index));
  }
  const ShardStream stream(file, load);
  ShardChunk chunk;
  chunk.total = stream.size();
  for (uint64_t offset = request.offset; offset < stream.size();) {
    const uint64_t size = std::min<uint64_t>(kShardChunkBytes, stream.size() - offset);
    chunk.offset = offset;
    chunk.data.resize(size);
    stream.read(offset, chunk.data);
    node.send_message(chunk);
    offset += size;
  }
}

}  // namespace

PipelineRunner::PipelineRunner(std::unique_ptr<Transport> transport, const Secret& secret,
                               std::vector<StageAssignment> stages, const PipelineOptions& options)
    : transport_(std::move(transport)), options_(options) {
  if (stages.empty()) throw Error("a pipeline needs at least one stage");
  const ModelFile file(options.model_path);
  const uint64_t model_bytes = file.primary().file_size();
  const size_t layer_count = ModelFootprint::from_model(file).layers.size();
  const uint64_t pipeline_id = random_pipeline_id();
  const std::string self_id = make_node_id("coordinator");
  for (size_t i = 0; i < stages.size(); ++i) {
    const StageAssignment& a = stages[i];
    const bool contiguous = i == 0 ? a.first_layer == 0 : a.first_layer == stages[i - 1].end_layer;
    if (!contiguous || a.end_layer <= a.first_layer) {
      throw Error(str_cat("stage ", i, " (", a.name, ") has layers ", a.first_layer, "..",
                          a.end_layer, ": stages must cover the layers in order"));
    }
  }
  if (stages.back().end_layer != layer_count) {
    throw Error(str_cat("the stages end at layer ", stages.back().end_layer, " of ", layer_count));
  }
  for (StageAssignment& assignment : stages) stages_.push_back({std::move(assignment), nullptr});

  // Every stage loads at once; then each is linked to its successor.
  std::vector<LoadStage> loads(stages_.size());
  for (size_t i = 0; i < stages_.size(); ++i) {
    Stage& stage = stages_[i];
    try {
      stage.connection = transport_->connect(stage.assignment.address, options.connect_timeout);
      authenticate_client(*stage.connection, secret, self_id, options.connect_timeout);
      LoadStage& load = loads[i];
      load.pipeline_id = pipeline_id;
      load.stage_index = static_cast<uint32_t>(i);
      load.stage_count = static_cast<uint32_t>(stages_.size());
      load.model_path = options.model_path;
      load.model_bytes = model_bytes;
      load.tensor_bytes = file.total_tensor_bytes();
      load.first_layer = stage.assignment.first_layer;
      load.end_layer = stage.assignment.end_layer;
      load.has_embedding = i == 0;
      load.has_output = i + 1 == stages_.size();
      load.threads = options.threads;
      load.context = options.context;
      load.kv_type = options.kv_type;
      load.mode = options.mode;
      load.activation_format = options.activation_format;
      load.step_timeout_ms = static_cast<uint32_t>(options.step_timeout.count());
      describe_stage(file, load, default_cache_dir());
      stage.connection->send_message(load);
    } catch (const Error& e) {
      throw Error(str_cat(stage_label(i), ": ", e.what()));
    }
  }
  const auto wait_ready = [&](size_t i) {
    try {
      while (true) {
        const Frame frame =
            stages_[i].connection->receive(options.load_timeout, kMaxControlPayload);
        if (frame.type != MessageType::kShardRequest) {
          (void)from_frame<StageReady>(frame);
          return;
        }
        stream_shard(*stages_[i].connection, file, loads[i], from_frame<ShardRequest>(frame));
      }
    } catch (const Error& e) {
      throw Error(str_cat(stage_label(i), ": ", e.what()));
    }
  };
  for (size_t i = 0; i < stages_.size(); ++i) wait_ready(i);
  for (size_t i = 0; i + 1 < stages_.size(); ++i) {
    stages_[i].connection->send_message(LinkStage{stages_[i + 1].assignment.address.to_string()});
    wait_ready(i);
  }
}

PipelineRunner::~PipelineRunner() {
  // Closing the connections ends the stages on the nodes and frees their memory.
  for (Stage& stage : stages_) {
    if (stage.connection) stage.connection->shutdown();
  }
}

std::string PipelineRunner::stage_label(size_t index) const {
  const StageAssignment& a = stages_[index].assignment;
  return str_cat("stage ", index + 1, "/", stages_.size(), " (", a.name, " at ",
                 a.address.to_string(), ", layers ", a.first_layer, "..", a.end_layer, ")");
}

void PipelineRunner::fail(const std::string& why) {
  // Name every stage that has something to say: the root cause is often not the
  // stage that noticed first (a dead middle node breaks the last stage's input).
  std::string message = why;
  for (size_t i = 0; i < stages_.size(); ++i) {
    const std::string problem = poll_problem(*stages_[i].connection, Milliseconds(50));
    if (!problem.empty() && message.find(problem) == std::string::npos) {
      message += str_cat("; ", stage_label(i), ": ", problem);
    }
  }
  failed_ = message;
  for (Stage& stage : stages_) stage.connection->shutdown();
  throw Error(str_cat("pipeline failed: ", message));
}

void PipelineRunner::send_step(const RunStep& step) {
  if (!failed_.empty()) throw Error(str_cat("pipeline failed earlier: ", failed_));
  if (in_flight_.size() >= stages_.size()) {
    throw Error(str_cat(in_flight_.size(), " steps are in flight already"));
  }
  const Frame frame = to_frame(step);
  for (size_t i = 0; i < stages_.size(); ++i) {
    try {
      stages_[i].connection->send(frame.type, frame.payload);
    } catch (const Error& e) {
      fail(str_cat(stage_label(i), ": cannot send step ", step.plan.step_id, ": ", e.what()));
    }
  }
  in_flight_.push_back(step.plan.step_id);
}

void PipelineRunner::launch(const StepPlan& plan) { send_step(RunStep{plan, false}); }

Frame PipelineRunner::await_result(MessageType type, uint64_t step_id) {
  if (!failed_.empty()) throw Error(str_cat("pipeline failed earlier: ", failed_));
  const size_t last = stages_.size() - 1;
  Connection& output = *stages_[last].connection;
  const Deadline deadline = deadline_after(options_.step_timeout);
  while (true) {
    bool readable = false;
    try {
      readable = output.wait_readable(kPollSlice);
    } catch (const Error& e) {
      fail(str_cat(stage_label(last), ": ", e.what()));
    }
    if (readable) {
      Frame frame;
      try {
        frame = output.receive(options_.step_timeout);
      } catch (const Error& e) {
        fail(str_cat(stage_label(last), ": connection lost: ", e.what()));
      }
      if (frame.type == MessageType::kError) {
        fail(str_cat(stage_label(last), ": ", from_frame<ErrorMessage>(frame).message));
      }
      if (frame.type != type) {
        fail(str_cat(stage_label(last), ": unexpected ", type_name(frame.type), " message"));
      }
      return frame;
    }
    for (size_t i = 0; i < last; ++i) {
      const std::string problem = poll_problem(*stages_[i].connection, Milliseconds(0));
      if (!problem.empty()) fail(str_cat(stage_label(i), ": ", problem));
    }
    if (Clock::now() >= deadline) {
      fail(str_cat("step ", step_id, " got no result within ", options_.step_timeout.count(),
                   " ms"));
    }
  }
}

StepResult PipelineRunner::collect() {
  if (in_flight_.empty()) throw Error("collect() without a launched step");
  const uint64_t step_id = in_flight_.front();
  const Frame frame = await_result(MessageType::kSampledTokens, step_id);
  const auto sampled = from_frame<SampledTokens>(frame);
  if (sampled.step_id != step_id) {
    fail(str_cat("tokens of step ", sampled.step_id, " arrived for step ", step_id));
  }
  in_flight_.pop_front();
  return StepResult{step_id, sampled.tokens};
}

FloatMatrix PipelineRunner::logits(const StepPlan& plan) {
  if (!in_flight_.empty()) throw Error("logits() needs a pipeline with nothing in flight");
  send_step(RunStep{plan, true});
  const auto answer = from_frame<StepLogits>(await_result(MessageType::kStepLogits, plan.step_id));
  in_flight_.pop_front();
  if (answer.step_id != plan.step_id || answer.rows != static_cast<uint32_t>(plan.token_count())) {
    fail(str_cat("logits of step ", answer.step_id, " with ", answer.rows, " rows for step ",
                 plan.step_id, " of ", plan.token_count(), " tokens"));
  }
  FloatMatrix out(answer.rows, answer.cols);  // [tokens][vocab]
  std::copy(answer.values.begin(), answer.values.end(), out.data().begin());
  return out;
}

std::vector<StageAssignment> plan_stages(const std::string& model_path,
                                         const std::vector<ClusterNode>& nodes,
                                         const std::vector<NodeCapacity>& capacities,
                                         const PlacementOptions& placement,
                                         const std::vector<size_t>& split) {
  const ModelFootprint footprint = ModelFootprint::from_model(ModelFile(model_path));
  const Placement plan = plan_pipeline(footprint, capacities, placement, split);
  std::vector<StageAssignment> stages;
  for (const StagePlan& s : plan.stages) {
    const ClusterNode& node = nodes[s.node];
    stages.push_back({parse_host_port(node.member.address), node.member.name,
                      static_cast<uint32_t>(s.first_layer), static_cast<uint32_t>(s.end_layer)});
  }
  return stages;
}

std::unique_ptr<PipelineRunner> make_pipeline_runner(const ClusterRunnerOptions& options) {
  const Secret secret = Secret::load_file(options.secret_file);
  std::unique_ptr<Transport> transport = make_transport(options.transport);
  const auto nodes = discover_nodes(*transport, secret, parse_host_port(options.join),
                                    options.pipeline.connect_timeout);
  std::vector<NodeCapacity> capacities;
  if (options.split.empty()) {
    // Placement weighs each hop by the measured link between consecutive nodes.
    capacities = measured_capacities(*transport, secret, nodes, options.link);
  } else {
    for (const ClusterNode& node : nodes) capacities.push_back(capacity_of(node.info));
  }
  std::vector<StageAssignment> stages =
      plan_stages(options.model_path, nodes, capacities, options.placement, options.split);
  PipelineOptions pipeline = options.pipeline;
  pipeline.model_path = options.model_path;
  return std::make_unique<PipelineRunner>(std::move(transport), secret, std::move(stages),
                                          pipeline);
}

std::unique_ptr<ModelRunner> make_cluster_runner(const ClusterRunnerOptions& options) {
  return std::make_unique<ResilientPipeline>(options);
}

}  // namespace tandem::cluster
