#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "platform/error.h"

#ifndef TANDEM_VERSION
#define TANDEM_VERSION "dev"
#endif

namespace tandem::cli {

int run(int argc, char** argv) {
  CLI::App app{"tandem: one LLM server from several machines"};
  app.set_version_flag("--version", std::string("tandem ") + TANDEM_VERSION);
  app.require_subcommand(1);
  add_inspect_command(app);
  add_tokenize_command(app);
  add_node_command(app);
  add_cluster_command(app);
  add_logits_command(app);
  add_synth_command(app);
  add_bench_command(app);
  add_doctor_command(app);
  add_serve_command(app);
  add_run_command(app);
  add_plan_command(app);
  add_bench_model_command(app);
  add_demo_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "tandem: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "tandem: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tandem: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace tandem::cli
