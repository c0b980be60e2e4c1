#include "cli/cluster_engine.h"

#include <cstdint>
#include <memory>

#include "cluster/pipeline_runner.h"
#include "platform/error.h"

namespace tandem::cli {

void add_cluster_options(CLI::App& command, ClusterArgs& args) {
  command.add_option("--join", args.join,
                     "run the model split over the cluster reached at HOST:PORT");
  command.add_option("--secret-file", args.secret_file, "cluster secret file (with --join)");
  command.add_option("--split", args.split,
                     "layers per stage with --join, e.g. 2,2 (default: placed by memory and "
                     "speed)");
  command
      .add_option("--transport", args.transport, "how to reach the nodes with --join: tcp or ucx")
      ->check(CLI::IsMember({"tcp", "ucx"}))
      ->capture_default_str();
}

void apply_cluster_args(const ClusterArgs& args, const std::string& model_path,
                        LocalEngineOptions& options) {
  if (args.join.empty()) {
    if (!args.secret_file.empty()) throw Error("--secret-file needs --join");
    if (!args.split.empty()) throw Error("--split needs --join");
    return;
  }
  if (args.secret_file.empty()) throw Error("--join needs --secret-file");
  cluster::ClusterRunnerOptions cluster;
  cluster.model_path = model_path;
  cluster.join = args.join;
  cluster.secret_file = args.secret_file;
  cluster.transport = cluster::parse_transport_kind(args.transport);
  if (!args.split.empty()) cluster.split = cluster::parse_split(args.split);
  cluster.pipeline.threads = static_cast<uint32_t>(options.threads);
  cluster.pipeline.kv_type = options.kv_type;
  cluster.placement.kv_type = options.kv_type;
  options.runner_factory = [cluster](int32_t context_length,
                                     int32_t parallel) -> std::unique_ptr<ModelRunner> {
    cluster::ClusterRunnerOptions placed = cluster;
    placed.placement.context_length = static_cast<uint64_t>(context_length);
    placed.placement.sequences = static_cast<uint64_t>(parallel);
    placed.pipeline.context = static_cast<uint32_t>(context_length);
    return cluster::make_cluster_runner(placed);
  };
}

}  // namespace tandem::cli
