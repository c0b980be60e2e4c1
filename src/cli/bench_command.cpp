// `tandem bench --url URL ...`: load test of any OpenAI-compatible server.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/bench/load_generator.h"
#include "cli/bench/report.h"
#include "cli/commands.h"
#include "gguf/model_file.h"
#include "platform/error.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

namespace tandem::cli {
namespace {

struct BenchFlags {
  bench::BenchOptions options;
  std::string concurrency = "1,2,4,8";
  bool completions = false;
  bool chat = false;
  std::string json_path;
  std::string svg_path;
  std::string tokenizer_path;
  bool whole_characters = false;
};

std::vector<int> parse_levels(const std::string& text) {
  std::vector<int> levels;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) {
      throw Error(str_cat("-c '", text, "': '", item, "' is not a whole number"));
    }
    levels.push_back(value);
  }
  if (levels.empty()) throw Error("-c needs at least one concurrency level");
  return levels;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.flush()) throw Error(str_cat("cannot write ", path));
}

void run(BenchFlags& flags) {
  if (flags.chat && flags.completions) throw Error("give --chat or --completions, not both");
  flags.options.chat = !flags.completions;
  flags.options.concurrency = parse_levels(flags.concurrency);
  if (!flags.tokenizer_path.empty()) {
    const ModelFile file(flags.tokenizer_path);
    auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_model(file));
    flags.options.tokenize = [tokenizer](const std::string& text) {
      return tokenizer->encode(text, false);
    };
    flags.options.tokenizer = flags.tokenizer_path;
    if (flags.whole_characters) {
      for (int32_t id = 0; id < tokenizer->vocab_size(); ++id) {
        if (!tokenizer->is_control(id) && !text::is_valid_utf8(tokenizer->token_text(id))) {
          flags.options.biased_away.push_back(id);
        }
      }
    }
  } else if (flags.whole_characters) {
    throw Error("--whole-characters needs --tokenizer");
  }
  const bench::BenchResult result =
      bench::run_bench(flags.options, [](const bench::LevelResult& level) {
        std::fprintf(stderr, "level %s: %d requests, %d errors, %.1f output tok/s in %.1f s\n",
                     level.rate > 0 ? str_cat(level.rate, "/s").c_str()
                                    : std::to_string(level.concurrency).c_str(),
                     level.requests, level.errors, level.output_tok_s, level.wall_s);
      });
  std::printf("%s %s, model %s\n", flags.options.chat ? "chat" : "completions",
              (result.endpoint.origin + result.endpoint.path).c_str(), result.model.c_str());
  std::fputs(bench::format_table(result).c_str(), stdout);
  if (!flags.json_path.empty()) write_file(flags.json_path, bench::to_json(result).dump(1) + "\n");
  if (!flags.svg_path.empty()) write_file(flags.svg_path, bench::render_svg(result));
  int succeeded = 0;
  for (const bench::LevelResult& level : result.levels) succeeded += level.requests - level.errors;
  if (succeeded == 0) throw Error("no request succeeded");
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* command = app.add_subcommand("bench", "Load-test an OpenAI-compatible server");
  auto flags = std::make_shared<BenchFlags>();
  bench::BenchOptions& o = flags->options;
  command->add_option("--url", o.url, "Server, e.g. http://127.0.0.1:8080 (or .../v1)")->required();
  command->add_option("--model", o.model, "Model name to send (default: first of GET /v1/models)");
  command->add_option("--api-key", o.api_key, "Sent as 'Authorization: Bearer KEY'");
  command
      ->add_option("-c,--concurrency", flags->concurrency,
                   "Closed-loop concurrency levels, comma-separated")
      ->capture_default_str();
  command
      ->add_option("--prompt-tokens", o.prompt_tokens,
                   "Prompt length in tokens (approximate; exact with --tokenizer)")
      ->capture_default_str();
  command->add_option("--tokenizer", flags->tokenizer_path,
                      "GGUF file of the served model: send prompts as exactly --prompt-tokens "
                      "token ids (needs --completions)");
  command->add_flag("--whole-characters", flags->whole_characters,
                    "Bias away (logit_bias -100) the tokens that are not whole UTF-8 characters: "
                    "llama-server fails requests whose output ends inside one (needs --tokenizer)");
  command->add_option("--max-tokens", o.max_tokens, "Output tokens per request (ignore_eos is set)")
      ->capture_default_str();
  auto* requests =
      command->add_option("--requests", o.requests,
                          "Measured requests per level (default: 4 per client; 32 open loop)");
  command->add_option("--duration", o.duration_s, "Seconds per level instead of --requests")
      ->excludes(requests);
  command
      ->add_option("--warmup", o.warmup,
                   "Uncounted warm-up requests per client (open loop: in total)")
      ->capture_default_str();
  command->add_option("--rate", o.rate, "Open loop: Poisson arrivals at R requests per second");
  command->add_option("--max-in-flight", o.max_in_flight, "Open loop: most requests at once")
      ->capture_default_str();
  command->add_option("--timeout", o.timeout_s, "Seconds to wait for a connection or for bytes")
      ->capture_default_str();
  command->add_option("--seed", o.seed, "Seed of prompts and arrival times")->capture_default_str();
  command->add_option("--json", flags->json_path, "Write every number and the settings as JSON");
  command->add_option("--plot", flags->svg_path, "Write an SVG chart of tok/s and p95 latency");
  command->add_flag("--chat", flags->chat, "Use /v1/chat/completions (the default)");
  command->add_flag("--completions", flags->completions, "Use /v1/completions");
  command->callback([flags] { run(*flags); });
}

}  // namespace tandem::cli
