// `tandem bench-model MODEL [-p 512] [-n 64] [-t 2] [-r 5] [--cache-type f16|f32] [--json]`:
// prefill and decode throughput as llama-bench reports them (pp: one batch of p tokens; tg: n
// tokens one at a time from an empty context), with the memory figures that explain them: peak RSS,
// the weight bytes read per decoded token, and the measured read bandwidth of this machine.
// bandwidth_limit_share = decode tok/s * active bytes per token / bandwidth: how close
// decoding comes to streaming its weights at memory speed (1.0 = at the limit). The bandwidth
// is probed before the first measured decode run and after each one (a shared machine's memory
// speed changes from minute to minute); each run is divided by the mean of the probes either
// side of it, and the share is the mean over runs.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "gguf/model_file.h"
#include "model/footprint.h"
#include "model/model.h"
#include "model/model_bench.h"
#include "platform/bandwidth.h"
#include "platform/error.h"

namespace tandem::cli {
namespace {

// Passes over the probe's buffer per probe: a tenth of a second on a 2-core machine.
constexpr int kProbeRepetitions = 5;

struct BenchArgs {
  std::string model_path;
  size_t prompt_tokens = 512;
  size_t decode_tokens = 64;
  size_t threads = 0;
  int repetitions = 5;
  bool reference = false;
  bool mmap = false;
  bool json = false;
  std::string cache_type = "f16";
};

nlohmann::ordered_json rates_json(const RateStats& stats) {
  return nlohmann::ordered_json(stats.tokens_per_s);
}

void run_bench(const BenchArgs& args) {
  ModelFile file(args.model_path);
  if (!args.mmap) file.copy_tensors_to_memory(file.tensor_names(), TensorLayouts::kPanels);
  const size_t threads =
      args.threads ? args.threads : std::max<size_t>(1, std::thread::hardware_concurrency());
  ThreadPool pool(threads);
  const ModelOptions options{args.reference ? ComputeMode::kReference : ComputeMode::kFast};
  const std::unique_ptr<Model> model = Model::load(file, options, pool);
  uint64_t file_bytes = 0;
  for (const auto& part : file.files()) file_bytes += part->file_size();
  const ModelFootprint footprint = ModelFootprint::from_model(file);
  const uint64_t active_bytes =
      footprint.active_bytes(0, footprint.layers.size()) + footprint.output_active_bytes;

  ModelBenchOptions bench_options;
  bench_options.prompt_tokens = args.prompt_tokens;
  bench_options.decode_tokens = args.decode_tokens;
  bench_options.repetitions = args.repetitions;
  bench_options.kv_type = parse_kv_type(args.cache_type);
  // The limit is probed beside every decode run; the probe's buffer is allocated at the first
  // probe, after the model's peak resident memory is taken.
  std::optional<ReadBandwidthProbe> probe;
  bench_options.decode_limit_probe = [&] {
    if (!probe) probe.emplace(pool);
    return probe->measure(kProbeRepetitions);
  };
  const ModelBenchResult result = bench_model(*model, bench_options);
  if (!probe) probe.emplace(pool);  // no decode test: one probe for the report
  const std::vector<double> probes = result.probes.empty()
                                         ? std::vector<double>{probe->measure(kProbeRepetitions)}
                                         : result.probes;
  const double bandwidth = summarize_rates(probes).mean;
  // The mean over decode runs of each run's share of the limit probed beside it.
  std::vector<double> shares;
  for (size_t r = 0; r < result.decode_limits.size(); ++r) {
    const double limit = result.decode_limits[r];
    shares.push_back(limit > 0
                         ? result.decode.tokens_per_s[r] * static_cast<double>(active_bytes) / limit
                         : 0.0);
  }
  const double share = summarize_rates(shares).mean;
  const uint64_t peak_rss = result.peak_rss_bytes;

  if (args.json) {
    nlohmann::ordered_json out;
    out["model"] = args.model_path;
    out["file_bytes"] = file_bytes;
    out["threads"] = threads;
    out["prompt_tokens"] = args.prompt_tokens;
    out["decode_tokens"] = args.decode_tokens;
    out["repetitions"] = args.repetitions;
    out["mode"] = args.reference ? "reference" : "fast";
    out["cache_type"] = args.cache_type;
    out["prefill_tok_s"] = result.prefill.mean;
    out["prefill_tok_s_stddev"] = result.prefill.stddev;
    out["prefill_tok_s_samples"] = rates_json(result.prefill);
    out["decode_tok_s"] = result.decode.mean;
    out["decode_tok_s_stddev"] = result.decode.stddev;
    out["decode_tok_s_samples"] = rates_json(result.decode);
    out["peak_rss_bytes"] = peak_rss;
    out["active_bytes_per_token"] = active_bytes;
    out["read_bandwidth_bytes_s"] = bandwidth;
    out["read_bandwidth_samples"] = probes;
    out["bandwidth_limit_share"] = share;
    out["bandwidth_limit_share_samples"] = shares;
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("model      %s (%.2f GiB)\n", args.model_path.c_str(),
              static_cast<double>(file_bytes) / (1ull << 30));
  std::printf("threads    %zu, repetitions %d, %s kernels, %s KV cache\n", threads,
              args.repetitions, args.reference ? "reference" : "fast", args.cache_type.c_str());
  if (args.prompt_tokens > 0) {
    std::printf("pp%-6zu   %10.2f ± %.2f tok/s\n", args.prompt_tokens, result.prefill.mean,
                result.prefill.stddev);
  }
  if (args.decode_tokens > 0) {
    std::printf("tg%-6zu   %10.2f ± %.2f tok/s\n", args.decode_tokens, result.decode.mean,
                result.decode.stddev);
  }
  std::printf("peak RSS   %.1f MiB\n", static_cast<double>(peak_rss) / (1 << 20));
  std::printf("active     %.1f MiB read per decoded token\n",
              static_cast<double>(active_bytes) / (1 << 20));
  const auto [low, high] = std::minmax_element(probes.begin(), probes.end());
  std::printf("bandwidth  %.2f GB/s read (%zu threads; %zu probes, %.2f-%.2f)\n", bandwidth / 1e9,
              threads, probes.size(), *low / 1e9, *high / 1e9);
  std::printf("share      %.3f of the bandwidth limit while decoding\n", share);
}

}  // namespace

void add_bench_model_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "bench-model", "Measure prefill and decode throughput of a model (as llama-bench)");
  auto args = std::make_shared<BenchArgs>();
  command->add_option("model", args->model_path, "GGUF model file")->required();
  command->add_option("-p,--prompt", args->prompt_tokens, "prefill batch size (0: skip)");
  command->add_option("-n,--decode", args->decode_tokens, "decoded tokens (0: skip)");
  command->add_option("-t,--threads", args->threads, "worker threads (default: all cores)");
  command->add_option("-r,--repetitions", args->repetitions, "measured runs per test")
      ->check(CLI::Range(1, 1000));
  command->add_flag("--mmap", args->mmap,
                    "compute on the file mapping instead of a copy of the weights in (huge-page) "
                    "memory");
  command->add_flag("--reference", args->reference,
                    "scalar reference kernels with F32 activations");
  command
      ->add_option("--cache-type", args->cache_type,
                   "KV cache element type: f16 (llama-bench's default) or f32")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  command->add_flag("--json", args->json, "print one JSON object");
  command->callback([args] { run_bench(*args); });
}

}  // namespace tandem::cli
