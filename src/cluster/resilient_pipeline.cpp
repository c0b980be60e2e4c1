#include "cluster/resilient_pipeline.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "cluster/pipeline_plan.h"
#include "cluster/transport_kind.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

// Asking a node that may be dead must not stall a recovery for long.
constexpr Milliseconds kMaxDiscoveryTimeout{3'000};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += str_cat(out.empty() ? "" : ", ", item);
  return out.empty() ? "none" : out;
}

}  // namespace

ResilientPipeline::ResilientPipeline(ClusterRunnerOptions options)
    : options_(std::move(options)), secret_(Secret::load_file(options_.secret_file)) {
  options_.pipeline.model_path = options_.model_path;
  known_addresses_.push_back(options_.join);
  build(true);
}

ResilientPipeline::~ResilientPipeline() = default;

size_t ResilientPipeline::max_steps_in_flight() const {
  return pipeline_ ? pipeline_->max_steps_in_flight() : 1;
}

void ResilientPipeline::launch(const StepPlan& plan) {
  if (!pipeline_) throw Error(str_cat("no pipeline: ", unavailable()));
  pipeline_->launch(plan);
}

StepResult ResilientPipeline::collect() {
  if (!pipeline_) throw Error(str_cat("no pipeline: ", unavailable()));
  return pipeline_->collect();
}

std::string ResilientPipeline::unavailable() const {
  std::lock_guard lock(mutex_);
  return unavailable_;
}

void ResilientPipeline::set_unavailable(const std::string& why) {
  std::lock_guard lock(mutex_);
  unavailable_ = why;
}

void ResilientPipeline::build(bool use_split) {
  std::vector<HostPort> entries;
  for (const std::string& address : known_addresses_) entries.push_back(parse_host_port(address));
  std::unique_ptr<Transport> transport = make_transport(options_.transport);
  const Milliseconds timeout = std::min(options_.pipeline.connect_timeout, kMaxDiscoveryTimeout);
  std::vector<std::string> skipped;
  const std::vector<ClusterNode> nodes =
      use_split ? discover_nodes(*transport, secret_, entries.front(), timeout)
                : discover_live_nodes(*transport, secret_, entries, timeout, skipped);
  for (const std::string& problem : skipped) {
    std::fprintf(stderr, "tandem: pipeline: skipping %s\n", problem.c_str());
  }
  for (const ClusterNode& node : nodes) {
    if (std::find(known_addresses_.begin(), known_addresses_.end(), node.member.address) ==
        known_addresses_.end()) {
      known_addresses_.push_back(node.member.address);
    }
  }
  if (nodes.empty()) throw Error("the cluster has no nodes left");
  live_names_.clear();
  for (const ClusterNode& node : nodes) live_names_.push_back(node.member.name);

  std::vector<NodeCapacity> capacities;
  if (!use_split) {
    // Placement weighs each hop by the measured link between consecutive nodes; a link
    // that cannot be measured falls back to the nodes' own figures.
    try {
      capacities = measured_capacities(*transport, secret_, nodes, options_.link);
    } catch (const Error& e) {
      std::fprintf(stderr, "tandem: pipeline: links not measured (%s)\n", e.what());
      capacities.clear();
    }
  }
  if (capacities.empty()) {
    for (const ClusterNode& node : nodes) capacities.push_back(capacity_of(node.info));
  }
  const std::vector<size_t> no_split;
  std::vector<StageAssignment> stages =
      plan_stages(options_.model_path, nodes, capacities, options_.placement,
                  use_split ? options_.split : no_split);
  std::vector<std::string> names;
  for (const StageAssignment& stage : stages) names.push_back(stage.name);
  pipeline_ = std::make_unique<PipelineRunner>(std::move(transport), secret_, std::move(stages),
                                               options_.pipeline);
  stage_names_ = std::move(names);
}

bool ResilientPipeline::recover(const std::string& why) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::string> before = stage_names_;
  pipeline_.reset();  // closes every stage connection: the nodes drop the old stages
  stage_names_.clear();
  if (failed_before_ && start - last_failure_ < kRecoveryCooldown) return false;
  // The engine has logged `why` already.
  std::fprintf(stderr, "tandem: pipeline broke; rebuilding it over the live nodes\n");
  std::string problem;
  for (int attempt = 1; attempt <= kRecoveryAttempts; ++attempt) {
    try {
      build(false);
      const auto ms =
          std::chrono::duration_cast<Milliseconds>(std::chrono::steady_clock::now() - start);
      std::vector<std::string> lost;
      for (const std::string& name : before) {
        if (std::find(live_names_.begin(), live_names_.end(), name) == live_names_.end()) {
          lost.push_back(name);
        }
      }
      std::fprintf(stderr,
                   "tandem: pipeline recovered in %lld ms (try %d): stages on %s; lost %s\n",
                   static_cast<long long>(ms.count()), attempt, joined(stage_names_).c_str(),
                   joined(lost).c_str());
      failed_before_ = false;
      set_unavailable("");
      return true;
    } catch (const Error& e) {
      pipeline_.reset();
      stage_names_.clear();
      problem = e.what();
      std::fprintf(stderr, "tandem: pipeline rebuild %d/%d failed: %s\n", attempt,
                   kRecoveryAttempts, problem.c_str());
    }
    if (attempt < kRecoveryAttempts) std::this_thread::sleep_for(kRetryPause);
  }
  failed_before_ = true;
  last_failure_ = std::chrono::steady_clock::now();
  set_unavailable(str_cat("the model cannot run: the cluster lost a node (", why,
                          ") and the nodes left cannot hold the model: ", problem));
  return false;
}

}  // namespace tandem::cluster
