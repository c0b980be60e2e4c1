// `tandem logits MODEL --tokens 1,2,3 --out FILE [--reference] [-t THREADS]`: evaluates
// the token ids as one batch of one sequence and writes the logits of every position
// as float32 little-endian, row-major [positions][vocab].

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
};

void run_logits(const LogitsArgs& args) {
  if (args.tokens.empty()) throw Error("--tokens is empty");
  const ModelFile file(args.model_path);
  const size_t threads =
      args.threads ? args.threads : std::max<size_t>(1, std::thread::hardware_concurrency());
  ThreadPool pool(threads);
  const ModelOptions options{args.reference ? ComputeMode::kReference : ComputeMode::kFast};
  const std::unique_ptr<Model> model = Model::load(file, options, pool);
  KvCache cache = model->make_cache(args.tokens.size());
  const Batch batch = Batch::sequence(args.tokens, 0, 0, /*all_logits=*/true);
  const FloatMatrix logits = model->forward(batch, cache);

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
  command->callback([args] { run_logits(*args); });
}

}  // namespace tandem::cli
