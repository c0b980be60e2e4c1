#pragma once
// PipelineRunner: a ModelRunner whose model is split over stage nodes (stage_wire.h).
// launch() sends the plan to every stage (stage 0 embeds its tokens, the others wait
// for activations from their predecessor over a direct link); collect() waits for the
// last stage's sampled tokens of the oldest step. Up to one step per stage is in
// flight, so stage 0 computes step k+1 while stage 1 computes step k.
//
// Failures are never hangs: a stage that reports an error, a node that vanishes
// (end of stream on its connection) or a step that takes longer than step_timeout ends
// in tandem::Error naming the stage, and the runner refuses every later call.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "cluster/auth.h"
#include "cluster/pipeline_plan.h"
#include "cluster/stage_wire.h"
#include "cluster/transport.h"
#include "cluster/transport_kind.h"
#include "ops/float_matrix.h"
#include "serving/model_runner.h"

namespace tandem::cluster {

struct StageAssignment {
  HostPort address;  // the stage node
  std::string name;  // for messages
  uint32_t first_layer = 0;
  uint32_t end_layer = 0;  // exclusive
};

struct PipelineOptions {
  // The model: every stage node loads its tensors from its own verified copy, or
  // from a shard this coordinator streams to it (shard_cache.h).
  std::string model_path;
  uint32_t threads = 0;           // per node; 0: all of its cores
  uint32_t context = 0;           // cache positions per sequence; 0: the model's context length
  KvType kv_type = KvType::kF32;  // element type of every stage's cache
  StageComputeMode mode = StageComputeMode::kFast;
  ActivationFormat activation_format = ActivationFormat::kF32;
  Milliseconds connect_timeout{10'000};
  Milliseconds load_timeout{300'000};  // loading and prefetching a stage's weights
  Milliseconds step_timeout{60'000};   // one step through the whole pipeline
};

class PipelineRunner final : public ModelRunner {
 public:
  // Connects to every stage node, loads the stages and links them. Throws Error.
  PipelineRunner(std::unique_ptr<Transport> transport, const Secret& secret,
                 std::vector<StageAssignment> stages, const PipelineOptions& options);
  ~PipelineRunner() override;
  PipelineRunner(const PipelineRunner&) = delete;
  PipelineRunner& operator=(const PipelineRunner&) = delete;

  size_t max_steps_in_flight() const override { return stages_.size(); }
  void launch(const StepPlan& plan) override;
  StepResult collect() override;

  // Runs `plan` alone in logits mode (nothing else in flight): every row of every entry
  // comes back, [rows][vocab] in plan order. For testing against single-process logits.
  FloatMatrix logits(const StepPlan& plan);

  size_t stage_count() const { return stages_.size(); }

 private:
  struct Stage {
    StageAssignment assignment;
    std::unique_ptr<Connection> connection;
  };
  void send_step(const RunStep& step);
  // Waits for the last stage's answer of type `type` for `step_id`, watching every
  // other stage for an error or a closed connection.
  Frame await_result(MessageType type, uint64_t step_id);
  [[noreturn]] void fail(const std::string& why);
  std::string stage_label(size_t index) const;

  std::unique_ptr<Transport> transport_;
  PipelineOptions options_;
  std::vector<Stage> stages_;
  std::deque<uint64_t> in_flight_;  // step ids, oldest first
  std::string failed_;              // set once the pipeline broke
};

// Everything `tandem logits --join` and `tandem serve/run --join` need to build a
// cluster runner from the command line.
struct ClusterRunnerOptions {
  std::string model_path;
  std::string join;           // HOST:PORT of any member
  std::string secret_file;    // the cluster secret (mode 600)
  std::vector<size_t> split;  // explicit layer counts per stage; empty: plan_placement
  TransportKind transport = TransportKind::kTcp;      // what the nodes listen with
  LinkOptions link{5, 4u << 20, Milliseconds(5000)};  // stage links measured for placement
  PlacementOptions placement;
  PipelineOptions pipeline;  // model_path is taken from above
};

// The stages of the placement of `model_path` over `nodes` (whose capacities are given in
// the same order); `split` as in ClusterRunnerOptions.
std::vector<StageAssignment> plan_stages(const std::string& model_path,
                                         const std::vector<ClusterNode>& nodes,
                                         const std::vector<NodeCapacity>& capacities,
                                         const PlacementOptions& placement,
                                         const std::vector<size_t>& split);

// Discovers the nodes through `join`, plans the placement and starts the pipeline.
std::unique_ptr<PipelineRunner> make_pipeline_runner(const ClusterRunnerOptions& options);
// The same behind a ResilientPipeline (resilient_pipeline.h): when a node dies, it is
// rebuilt over the nodes left and the engine resumes its requests.
std::unique_ptr<ModelRunner> make_cluster_runner(const ClusterRunnerOptions& options);

}  // namespace tandem::cluster
