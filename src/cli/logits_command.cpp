// `tandem logits MODEL --tokens 1,2,3 --out FILE [--reference] [-t THREADS]`: evaluates
// the token ids as one batch of one sequence and writes the logits of every position
// as float32 little-endian, row-major [positions][vocab]. With `--join HOST:PORT
// --secret-file F [--split a,b]` the model runs split over the cluster's nodes, whose
// last stage returns the full logits (a testing mode; serving returns only tokens).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cluster/pipeline_runner.h"
#include "gguf/model_file.h"
#include "model/model.h"
#include "platform/error.h"

namespace tandem::cli {
namespace {

struct LogitsArgs {
  std::string model_path;
  std::vector<int32_t> tokens;
  std::string out_path;
  bool reference = false;
  size_t threads = 0;
  std::string join;
  std::string secret_file;
  std::string split;
  bool bf16_activations = false;
  std::string transport = "tcp";
};

FloatMatrix cluster_logits(const LogitsArgs& args) {
  if (args.secret_file.empty()) throw Error("--join needs --secret-file");
  cluster::ClusterRunnerOptions options;
  options.model_path = args.model_path;
  options.join = args.join;
  options.secret_file = args.secret_file;
  options.transport = cluster::parse_transport_kind(args.transport);
  if (!args.split.empty()) options.split = cluster::parse_split(args.split);
  options.placement.context_length = args.tokens.size();
  options.pipeline.threads = static_cast<uint32_t>(args.threads);
  options.pipeline.context = static_cast<uint32_t>(args.tokens.size());
  options.pipeline.mode =
      args.reference ? cluster::StageComputeMode::kReference : cluster::StageComputeMode::kFast;
  options.pipeline.activation_format =
      args.bf16_activations ? cluster::ActivationFormat::kBF16 : cluster::ActivationFormat::kF32;
  const auto runner = cluster::make_pipeline_runner(options);
  StepPlan plan;
  plan.step_id = 1;
  StepEntry entry;
  entry.tokens = args.tokens;
  plan.entries.push_back(entry);
  return runner->logits(plan);
}

FloatMatrix local_logits(const LogitsArgs& args) {
  const ModelFile file(args.model_path);
  const size_t threads =
      args.threads ? args.threads : std::max<size_t>(1, std::thread::hardware_concurrency());
  ThreadPool pool(threads);
  const ModelOptions options{args.reference ? ComputeMode::kReference : ComputeMode::kFast};
  const std::unique_ptr<Model> model = Model::load(file, options, pool);
  KvCache cache = model->make_cache(args.tokens.size());
  const Batch batch = Batch::sequence(args.tokens, 0, 0, /*all_logits=*/true);
  return model->forward(batch, cache);
}

void run_logits(const LogitsArgs& args) {
  if (args.tokens.empty()) throw Error("--tokens is empty");
  const FloatMatrix logits = args.join.empty() ? local_logits(args) : cluster_logits(args);
  std::ofstream out(args.out_path, std::ios::binary);
  if (!out) throw Error(str_cat("cannot open ", args.out_path, " for writing"));
  static_assert(std::endian::native == std::endian::little, "logits are written little-endian");
  out.write(reinterpret_cast<const char*>(logits.data().data()),
            static_cast<std::streamsize>(logits.data().size_bytes()));
  if (!out) throw Error(str_cat("cannot write ", args.out_path));
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto* command =
      app.add_subcommand("logits", "Evaluate token ids as one batch and write the logits");
  auto args = std::make_shared<LogitsArgs>();
  command->add_option("model", args->model_path, "GGUF model file")->required();
  command->add_option("--tokens", args->tokens, "token ids, comma separated")
      ->required()
      ->delimiter(',');
  command->add_option("--out", args->out_path, "output file: float32 [positions][vocab]")
      ->required();
  command->add_flag("--reference", args->reference,
                    "scalar reference kernels with F32 activations");
  command->add_option("-t,--threads", args->threads, "worker threads (default: all cores)");
  command->add_option("--join", args->join, "run split over the cluster reached at HOST:PORT");
  command->add_option("--secret-file", args->secret_file, "cluster secret file (with --join)");
  command->add_option("--split", args->split,
                      "layers per stage, e.g. 2,2 (default: placed by memory and speed)");
  command->add_flag("--bf16-activations", args->bf16_activations,
                    "send activations between stages as BF16 instead of F32");
  command->add_option("--transport", args->transport, "how to reach the nodes: tcp or ucx")
      ->check(CLI::IsMember({"tcp", "ucx"}))
      ->capture_default_str();
  command->callback([args] { run_logits(*args); });
}

}  // namespace tandem::cli
