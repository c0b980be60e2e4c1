// `tandem doctor [MODEL] [--join HOST:PORT --secret-file F [--transport tcp|ucx]]`: the
// Day-0 gates. Prints one
// line per gate (PASS / WARN / FAIL, what was measured, and on WARN / FAIL the fix) and
// exits non-zero when any gate fails.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cluster/doctor.h"
#include "cluster/shard.h"
#include "cluster/transport_kind.h"
#include "platform/error.h"

#ifndef TANDEM_VERSION
#define TANDEM_VERSION "dev"
#endif

namespace tandem::cli {
namespace {

struct DoctorArguments {
  std::string model;
  std::string join;
  std::string secret_file;
  // The nodes' own transport, so that the links the doctor measures are the ones the
  // pipeline will use.
  std::string transport = "tcp";
  uint64_t context = 4096;
  uint64_t parallel = 1;
  std::string cache_type = "f16";
  bool json = false;
  std::string cache_dir;
  uint64_t bandwidth_mib = 256;
  uint32_t pings = 10;
  uint64_t bulk_bytes = 8u << 20;
};

nlohmann::ordered_json to_json(const cluster::DoctorReport& report) {
  nlohmann::ordered_json out;
  out["ok"] = !report.failed();
  out["pass"] = report.count(cluster::GateStatus::kPass);
  out["warn"] = report.count(cluster::GateStatus::kWarn);
  out["fail"] = report.count(cluster::GateStatus::kFail);
  out["gates"] = nlohmann::ordered_json::array();
  for (const auto& gate : report.gates) {
    out["gates"].push_back({{"name", gate.name},
                            {"status", cluster::status_name(gate.status)},
                            {"measured", gate.measured},
                            {"fix", gate.fix}});
  }
  if (report.placement) {
    out["placement"] = nlohmann::ordered_json::array();
    for (const auto& stage : report.placement->stages) {
      out["placement"].push_back({{"node", report.capacities[stage.node].name},
                                  {"first_layer", stage.first_layer},
                                  {"end_layer", stage.end_layer},
                                  {"weight_bytes", stage.weight_bytes},
                                  {"cache_bytes", stage.cache_bytes},
                                  {"total_bytes", stage.total_bytes}});
    }
  }
  return out;
}

void print_table(const cluster::DoctorReport& report) {
  std::printf("%-28s %-6s %s\n", "gate", "status", "measured");
  for (const auto& gate : report.gates) {
    std::printf("%-28s %-6s %s\n", gate.name.c_str(), cluster::status_name(gate.status),
                gate.measured.c_str());
    if (!gate.fix.empty()) std::printf("%-28s %-6s fix: %s\n", "", "", gate.fix.c_str());
  }
  std::printf("\n%zu passed, %zu warnings, %zu failed\n", report.count(cluster::GateStatus::kPass),
              report.count(cluster::GateStatus::kWarn), report.count(cluster::GateStatus::kFail));
}

void run_doctor_command(const DoctorArguments& args) {
  cluster::DoctorOptions options;
  options.model_path = args.model;
  if (!args.join.empty()) {
    if (args.secret_file.empty()) throw Error("--join needs --secret-file");
    options.join = parse_host_port(args.join);
    options.secret_file = args.secret_file;
  }
  options.tandem_version = TANDEM_VERSION;
  options.cache_dir = args.cache_dir.empty() ? default_cache_dir() : args.cache_dir;
  options.context_length = args.context;
  options.sequences = args.parallel;
  options.kv_type = parse_kv_type(args.cache_type);
  options.bandwidth_buffer_bytes = static_cast<size_t>(args.bandwidth_mib) << 20;
  options.link.ping_count = args.pings;
  options.link.bulk_bytes = args.bulk_bytes;
  const auto transport = cluster::make_transport(cluster::parse_transport_kind(args.transport));
  const cluster::DoctorReport report = cluster::run_doctor(options, *transport);
  if (args.json) {
    std::puts(to_json(report).dump(1).c_str());
  } else {
    print_table(report);
  }
  std::fflush(stdout);
  if (report.failed()) {
    std::string names;
    for (const auto& gate : report.gates) {
      if (gate.status == cluster::GateStatus::kFail)
        names += (names.empty() ? "" : ", ") + gate.name;
    }
    throw Error(str_cat(report.count(cluster::GateStatus::kFail), " gate(s) failed: ", names));
  }
}

}  // namespace

std::string default_cache_dir() { return cluster::default_cache_dir(); }

void add_doctor_command(CLI::App& app) {
  auto* command =
      app.add_subcommand("doctor", "Check this machine, a model and a cluster before running");
  auto args = std::make_shared<DoctorArguments>();
  command->add_option("model", args->model, "GGUF model file to check");
  command->add_option("--join", args->join, "HOST:PORT of any cluster member");
  command->add_option("--secret-file", args->secret_file, "file holding the cluster secret");
  command->add_option("--transport", args->transport, "how to reach the nodes: tcp or ucx")
      ->check(CLI::IsMember({"tcp", "ucx"}))
      ->capture_default_str();
  command->add_option("--ctx", args->context, "context length to plan the KV cache for")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  command->add_option("--parallel", args->parallel, "concurrent sequences to plan for")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20));
  command
      ->add_option("--cache-type", args->cache_type,
                   "KV cache element type to plan for (as tandem serve's --cache-type)")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  command->add_flag("--json", args->json, "Print one JSON object");
  command->add_option("--cache-dir", args->cache_dir,
                      "where the model hash is remembered when the model's directory is "
                      "read-only (default: ~/.cache/tandem)");
  command->add_option("--bandwidth-mib", args->bandwidth_mib, "buffer for the bandwidth test")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 16));
  command->add_option("--pings", args->pings, "round trips per link latency measurement")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  command->add_option("--bulk-bytes", args->bulk_bytes, "bytes per link bandwidth measurement")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, uint64_t{cluster::kMaxBulkPayload - 64}));
  command->callback([args] { run_doctor_command(*args); });
}

}  // namespace tandem::cli
