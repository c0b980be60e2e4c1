// `tandem plan MODEL [--join HOST:PORT --secret-file F] [--ctx N --parallel N] [--cache-type T]
// [--split a,b]`: prints which node would run which layers, with bytes and predicted
// time per token; exits 1 with the numbers when the model does not fit. Without
// --join it plans for this machine alone.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cluster/node.h"
#include "cluster/pipeline_plan.h"
#include "cluster/transport_kind.h"
#include "gguf/model_file.h"
#include "model/footprint.h"
#include "platform/error.h"

namespace tandem::cli {
namespace {

struct PlanArguments {
  std::string model_path;
  std::string join;
  std::string secret_file;
  uint64_t context = 4096;
  uint64_t parallel = 1;
  std::string cache_type = "f16";
  std::string split;
  std::string transport = "tcp";
};

std::vector<NodeCapacity> cluster_capacities(const PlanArguments& args) {
  if (args.join.empty()) {
    const cluster::NodeInfo self = cluster::collect_node_info(
        {"local", "local", "", "", "."}, cluster::measure_matmul_gflops(Milliseconds(100)));
    return {cluster::capacity_of(self)};
  }
  if (args.secret_file.empty()) throw Error("--join needs --secret-file");
  const cluster::Secret secret = cluster::Secret::load_file(args.secret_file);
  const auto transport = cluster::make_transport(cluster::parse_transport_kind(args.transport));
  const auto nodes =
      cluster::discover_nodes(*transport, secret, parse_host_port(args.join), Milliseconds(10'000));
  std::vector<std::string> warnings;
  const cluster::LinkOptions link{10, 8u << 20, Milliseconds(10'000)};
  auto capacities = cluster::measured_capacities(*transport, secret, nodes, link, &warnings);
  for (const std::string& warning : warnings)
    std::fprintf(stderr, "warning: %s\n", warning.c_str());
  return capacities;
}

void run_plan(const PlanArguments& args) {
  const ModelFootprint model = ModelFootprint::from_model(ModelFile(args.model_path));
  PlacementOptions options;
  options.context_length = args.context;
  options.sequences = args.parallel;
  options.kv_type = parse_kv_type(args.cache_type);
  const std::vector<NodeCapacity> nodes = cluster_capacities(args);
  const std::vector<size_t> split =
      args.split.empty() ? std::vector<size_t>{} : cluster::parse_split(args.split);
  const Placement placement = cluster::plan_pipeline(model, nodes, options, split);
  std::printf("%s", describe(placement, nodes).c_str());
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto* command = app.add_subcommand("plan", "Show how a model would be split over the cluster");
  auto args = std::make_shared<PlanArguments>();
  command->add_option("model", args->model_path, "GGUF model file")->required();
  command->add_option("--join", args->join, "HOST:PORT of any member (default: this machine)");
  command->add_option("--secret-file", args->secret_file, "cluster secret file (with --join)");
  command->add_option("--transport", args->transport, "how to reach the nodes: tcp or ucx")
      ->check(CLI::IsMember({"tcp", "ucx"}))
      ->capture_default_str();
  command->add_option("--ctx", args->context, "context length per sequence")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 24));
  command->add_option("--parallel", args->parallel, "concurrent sequences")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 16));
  command
      ->add_option("--cache-type", args->cache_type,
                   "KV cache element type to plan for (as tandem serve's --cache-type)")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  command->add_option("--split", args->split, "explicit layers per stage, e.g. 2,2");
  command->callback([args] { run_plan(*args); });
}

}  // namespace tandem::cli
