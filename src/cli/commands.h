#pragma once
// Each command adds itself to the CLI11 app and sets the callback that runs it.
// A callback throws tandem::Error for failures the user must hear about.

#include <string>

namespace CLI {
class App;
}

namespace tandem::cli {

void add_inspect_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_node_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_cluster_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_doctor_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_bench_model_command(CLI::App& app);

// $XDG_CACHE_HOME/tandem, else ~/.cache/tandem, else ".": hash sidecars and shards.
std::string default_cache_dir();

}  // namespace tandem::cli
