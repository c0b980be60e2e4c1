#pragma once
// The `--join HOST:PORT --secret-file F [--split a,b,...]` options of `tandem serve` and
// `tandem run`: with --join the model runs split over the cluster's `tandem node`
// processes; this process keeps only the tokenizer, chat template and scheduler.

#include <CLI/CLI.hpp>
#include <string>

#include "serving/local_engine.h"

namespace tandem::cli {

struct ClusterArgs {
  std::string join;               // HOST:PORT of any member; empty: run on this machine
  std::string secret_file;        // the cluster secret (with --join)
  std::string split;              // layers per stage, "2,2"; empty: placed by memory and speed
  std::string transport = "tcp";  // what the nodes listen with: tcp or ucx
};

// Adds --join, --secret-file, --split and --transport to `command`, writing into `args`.
void add_cluster_options(CLI::App& command, ClusterArgs& args);

// Points `options` at the cluster when args.join is set (threads are per node then);
// leaves it unchanged otherwise. Throws Error for --split or --secret-file without --join
// and --join without --secret-file.
void apply_cluster_args(const ClusterArgs& args, const std::string& model_path,
                        LocalEngineOptions& options);

}  // namespace tandem::cli
