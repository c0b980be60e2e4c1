// `tandem synth --arch ARCH --out FILE [--vocab builtin|GGUF] [...]`: a random-weight model of
// one of the supported architectures, readable by tandem and by llama.cpp.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/vocab_source.h"
#include "gguf/gguf_file.h"
#include "model/synth/synth_writer.h"
#include "platform/error.h"

namespace tandem::cli {
namespace {

using synth::SynthConfig;
using synth::SynthOptions;

// Published shapes, usable as a starting point; explicit options override them.
SynthOptions preset(const std::string& name) {
  SynthOptions o;
  SynthConfig& c = o.config;
  if (name == "qwen3.5-122b-a10b") {
    c.architecture = "qwen35moe";
    c.name = "Qwen3.5-122B-A10B-synth";
    c.layers = 48;
    c.hidden = 3072;
    c.heads = 32;
    c.kv_heads = 2;
    c.head_dim = 256;
    c.experts = 256;
    c.experts_used = 8;
    c.expert_ffn = 1024;
    c.shared_expert_ffn = 1024;
    c.linear_k_heads = 16;
    c.linear_v_heads = 64;
    c.linear_head_dim = 128;
    c.conv_kernel = 4;
    c.full_attention_interval = 4;
    c.rope_dim = 64;
    c.rope_theta = 1e7;
    c.context = 262144;
    o.vocab_size = 248320;
  } else if (name == "qwen3-30b-a3b-slice") {
    c.architecture = "qwen3moe";
    c.name = "Qwen3-30B-A3B-slice-synth";
    c.layers = 24;
    c.hidden = 2048;
    c.heads = 32;
    c.kv_heads = 4;
    c.head_dim = 128;
    c.ffn = 6144;
    c.experts = 64;
    c.experts_used = 8;
    c.expert_ffn = 768;
    c.rope_theta = 1e6;
    c.context = 40960;
  } else {
    throw Error(str_cat("synth: unknown preset ", name,
                        " (expected qwen3.5-122b-a10b or qwen3-30b-a3b-slice)"));
  }
  return o;
}

struct Args {
  std::string preset;
  std::string out;
  std::string vocab = kBuiltinVocab;
  std::string type = "f32";
  SynthOptions options;
  // Options given on the command line, applied over the preset.
  std::vector<std::function<void(SynthOptions&)>> overrides;
  CLI::Option* arch = nullptr;
};

template <typename T>
CLI::Option* add_override(CLI::App* command, Args& args, const std::string& flag,
                          T SynthConfig::*field, const std::string& help) {
  auto value = std::make_shared<T>();
  auto* option = command->add_option(flag, *value, help);
  args.overrides.push_back([option, value, field](SynthOptions& o) {
    if (option->count() > 0) o.config.*field = *value;
  });
  return option;
}

void run_synth(Args& args) {
  if (args.preset.empty() && args.arch->count() == 0) {
    throw Error("synth: give --arch (qwen3, qwen3moe, qwen35moe) or --preset");
  }
  SynthOptions options = args.preset.empty() ? SynthOptions{} : preset(args.preset);
  for (const auto& apply : args.overrides) apply(options);
  const auto type = synth::parse_file_type(args.type);
  if (!type) throw Error(str_cat("synth: unknown --type ", args.type));
  options.file_type = *type;
  options.seed = args.options.seed;
  options.no_weights = args.options.no_weights;
  options.splits = args.options.splits;
  options.threads = args.options.threads;
  if (args.options.vocab_size != 0) options.vocab_size = args.options.vocab_size;
  if (options.config.name == "synth") {
    options.config.name = str_cat(options.config.architecture, "-synth");
  }
  const VocabularySource vocab(args.vocab);
  const auto paths = synth::write_synth_model(options, vocab.file(), args.out);
  for (const auto& path : paths) std::printf("wrote %s\n", path.c_str());
}

}  // namespace

void add_synth_command(CLI::App& app) {
  auto* command = app.add_subcommand("synth", "Write a random-weight model (GGUF)");
  auto args = std::make_shared<Args>();
  command->add_option("--preset", args->preset,
                      "Start from a published shape: qwen3.5-122b-a10b, qwen3-30b-a3b-slice");
  args->arch = add_override(command, *args, "--arch", &SynthConfig::architecture,
                            "qwen3 | qwen3moe | qwen35moe");
  command->add_option("--out", args->out, "Output GGUF file")->required();
  command
      ->add_option("--vocab,--vocab-from", args->vocab,
                   "builtin (a small byte-level BPE vocabulary with ChatML, no file needed) "
                   "or a GGUF whose tokenizer.* metadata is copied")
      ->capture_default_str();
  command->add_option("--type", args->type, "f32 | f16 | bf16 | q8_0 | q4_k | q6_k | q4_k_m");
  command->add_option("--seed", args->options.seed, "Random seed (same seed, same file)");
  add_override(command, *args, "--name", &SynthConfig::name, "general.name");
  add_override(command, *args, "--layers", &SynthConfig::layers, "Blocks");
  add_override(command, *args, "--hidden", &SynthConfig::hidden, "Embedding length");
  add_override(command, *args, "--heads", &SynthConfig::heads, "Query heads");
  add_override(command, *args, "--kv-heads", &SynthConfig::kv_heads, "Key/value heads");
  add_override(command, *args, "--head-dim", &SynthConfig::head_dim, "Attention head dimension");
  add_override(command, *args, "--ffn", &SynthConfig::ffn, "feed_forward_length (dense FFN)");
  add_override(command, *args, "--experts", &SynthConfig::experts, "Experts per layer");
  add_override(command, *args, "--experts-used", &SynthConfig::experts_used, "Experts per token");
  add_override(command, *args, "--expert-ffn", &SynthConfig::expert_ffn, "Expert FFN length");
  add_override(command, *args, "--shared-expert-ffn", &SynthConfig::shared_expert_ffn,
               "Shared expert FFN length (qwen35moe)");
  add_override(command, *args, "--linear-k-heads", &SynthConfig::linear_k_heads,
               "DeltaNet key heads (ssm.group_count)");
  add_override(command, *args, "--linear-v-heads", &SynthConfig::linear_v_heads,
               "DeltaNet value heads (ssm.time_step_rank)");
  add_override(command, *args, "--linear-head-dim", &SynthConfig::linear_head_dim,
               "DeltaNet head dimension (ssm.state_size)");
  add_override(command, *args, "--conv-kernel", &SynthConfig::conv_kernel, "DeltaNet conv kernel");
  add_override(command, *args, "--full-attention-interval", &SynthConfig::full_attention_interval,
               "Every N-th layer is full attention (qwen35moe)");
  add_override(command, *args, "--rope-dim", &SynthConfig::rope_dim,
               "Rotary dims per head (qwen35moe; default head-dim / 4)");
  add_override(command, *args, "--rope-theta", &SynthConfig::rope_theta, "rope.freq_base");
  add_override(command, *args, "--ctx", &SynthConfig::context, "context_length");
  add_override(command, *args, "--tied", &SynthConfig::tied,
               "Output shares token_embd (true|false)");
  command->add_option("--vocab-size", args->options.vocab_size,
                      "Pad the vocabulary with [PADn] tokens up to this size");
  command->add_flag("--no-weights", args->options.no_weights,
                    "Write the header only; the data region is a sparse hole");
  command->add_option("--split", args->options.splits, "Write N split files")
      ->check(CLI::Range(1, 99999));
  args->options.threads = std::max(1u, std::thread::hardware_concurrency());
  command->add_option("--threads", args->options.threads, "Quantization threads");
  command->callback([args] { run_synth(*args); });
}

}  // namespace tandem::cli
