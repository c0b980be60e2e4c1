#pragma once
// ResilientPipeline: the ModelRunner of `tandem serve/run --join`. It drives a
// PipelineRunner and, when that breaks (a stage's connection ends, a stage reports an
// error, a step outlives its timeout), rebuilds it over the nodes still alive: it asks
// the join address, then every node it has seen, for the member list, skips members
// that do not answer (the dead node), places the layers over the others and loads the
// new stages. The engine then resumes its requests from their tokens
// (ModelRunner::recover), so clients see a pause, not an error.
//
// Retries are bounded: one recovery makes at most kRecoveryAttempts tries, and after a
// failed one the next recovery is refused for kRecoveryCooldown, so that a cluster with
// no nodes left fails each request at once with the reason (also unavailable()).

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/auth.h"
#include "cluster/pipeline_runner.h"
#include "serving/model_runner.h"

namespace tandem::cluster {

class ResilientPipeline final : public ModelRunner {
 public:
  static constexpr int kRecoveryAttempts = 3;
  static constexpr Milliseconds kRetryPause{300};          // between tries of one recovery
  static constexpr Milliseconds kRecoveryCooldown{2'000};  // after a failed recovery

  // Discovers the nodes, places the layers (options.split when given) and loads the
  // first pipeline. Throws Error like make_pipeline_runner.
  explicit ResilientPipeline(ClusterRunnerOptions options);
  ~ResilientPipeline() override;
  ResilientPipeline(const ResilientPipeline&) = delete;
  ResilientPipeline& operator=(const ResilientPipeline&) = delete;

  size_t max_steps_in_flight() const override;
  void launch(const StepPlan& plan) override;
  StepResult collect() override;
  // Drops the broken pipeline and builds a new one over the live nodes. The layers are
  // placed by memory and speed then: an explicit split names nodes that may be gone.
  bool recover(const std::string& why) override;
  std::string unavailable() const override;

  // Names of the current stages' nodes, in pipeline order (empty while down).
  std::vector<std::string> stage_nodes() const { return stage_names_; }

 private:
  // Discovers the live nodes, places the layers and loads the stages; throws Error.
  void build(bool use_split);
  void set_unavailable(const std::string& why);

  ClusterRunnerOptions options_;
  Secret secret_;
  std::unique_ptr<PipelineRunner> pipeline_;  // null while down
  std::vector<std::string> stage_names_;
  std::vector<std::string> live_names_;       // every node that answered the last discovery
  std::vector<std::string> known_addresses_;  // every node seen, the join address first
  std::chrono::steady_clock::time_point last_failure_{};
  bool failed_before_ = false;
  mutable std::mutex mutex_;
  std::string unavailable_;  // guarded by mutex_: read by /health from other threads
};

}  // namespace tandem::cluster
