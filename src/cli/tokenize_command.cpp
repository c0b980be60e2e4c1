// `tandem tokenize [--no-special] MODEL TEXT`: the token ids of TEXT as a JSON array.
// `--` ends the options, so TEXT may start with '-'.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "gguf/model_file.h"
#include "text/tokenizer.h"

namespace tandem::cli {

void add_tokenize_command(CLI::App& app) {
  auto* command = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
  struct Options {
    std::string model;
    std::string text;
    bool no_special = false;
  };
  auto options = std::make_shared<Options>();
  command->add_flag("--no-special", options->no_special,
                    "Treat control-token strings such as <|im_start|> as plain text");
  command->add_option("model", options->model, "GGUF file (a model or a vocabulary)")->required();
  command->add_option("text", options->text, "Text to tokenize (no BOS is added)")->required();
  command->callback([options] {
    const ModelFile model(options->model);
    const Tokenizer tokenizer = Tokenizer::from_model(model);
    const nlohmann::json ids = tokenizer.encode(options->text, !options->no_special);
    std::puts(ids.dump().c_str());
  });
}

}  // namespace tandem::cli
