// `tandem cluster status`: every node's description and the measured links.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cluster/status.h"
#include "cluster/transport_kind.h"
#include "platform/error.h"

namespace tandem::cli {
namespace {

struct StatusArguments {
  std::string join;
  std::string secret_file;
  bool json = false;
  uint32_t pings = 20;
  uint64_t bulk_bytes = 16u << 20;
  bool no_node_links = false;
  std::string transport = "tcp";
};

double gib(uint64_t bytes) { return static_cast<double>(bytes) / double(1ull << 30); }

nlohmann::ordered_json to_json(const cluster::ClusterStatus& status) {
  nlohmann::ordered_json out;
  out["members"] = nlohmann::ordered_json::array();
  for (const auto& m : status.members) {
    out["members"].push_back({{"node_id", m.node_id}, {"name", m.name}, {"address", m.address}});
  }
  out["nodes"] = nlohmann::ordered_json::array();
  for (const auto& n : status.nodes) {
    out["nodes"].push_back({{"node_id", n.node_id},
                            {"name", n.name},
                            {"tandem_version", n.tandem_version},
                            {"hostname", n.hostname},
                            {"address", n.listen_address},
                            {"memory_total_bytes", n.memory_total_bytes},
                            {"memory_available_bytes", n.memory_available_bytes},
                            {"cores", n.cores},
                            {"simd", n.simd},
                            {"matmul_gflops", n.matmul_gflops},
                            {"cache_dir", n.cache_dir},
                            {"disk_free_bytes", n.disk_free_bytes},
                            {"disk_total_bytes", n.disk_total_bytes},
                            {"rdma_devices", n.rdma_devices},
                            {"clock_unix_ns", n.clock_unix_ns}});
  }
  out["links"] = nlohmann::ordered_json::array();
  for (const auto& l : status.links) {
    out["links"].push_back({{"from", l.from_node},
                            {"to", l.to_node},
                            {"latency_median_us", l.latency_median_us},
                            {"latency_min_us", l.latency_min_us},
                            {"bandwidth_bytes_per_s", l.bandwidth_bytes_per_s},
                            {"clock_offset_us", l.clock_offset_us},
                            {"error", l.error}});
  }
  out["errors"] = status.errors;
  return out;
}

void print_text(const cluster::ClusterStatus& status) {
  std::printf("%zu members\n\n", status.members.size());
  std::printf("%-24s %-21s %-8s %5s %-12s %9s %17s %10s\n", "node", "address", "version", "cores",
              "simd", "gflops", "mem avail/total", "disk free");
  for (const auto& n : status.nodes) {
    std::printf("%-24s %-21s %-8s %5u %-12s %9.2f %7.1f/%6.1f GiB %6.1f GiB\n", n.node_id.c_str(),
                n.listen_address.c_str(), n.tandem_version.c_str(), n.cores, n.simd.c_str(),
                n.matmul_gflops, gib(n.memory_available_bytes), gib(n.memory_total_bytes),
                gib(n.disk_free_bytes));
    if (!n.rdma_devices.empty()) {
      std::string devices;
      for (const auto& d : n.rdma_devices) devices += " " + d;
      std::printf("%-24s rdma:%s\n", "", devices.c_str());
    }
  }
  std::printf("\n%-24s %-24s %12s %12s %12s %14s\n", "link from", "to", "median us", "min us",
              "MiB/s", "clock off us");
  for (const auto& l : status.links) {
    if (!l.error.empty()) {
      std::printf("%-24s %-24s error: %s\n", l.from_node.c_str(), l.to_node.c_str(),
                  l.error.c_str());
      continue;
    }
    std::printf("%-24s %-24s %12.1f %12.1f %12.1f %14.1f\n", l.from_node.c_str(), l.to_node.c_str(),
                l.latency_median_us, l.latency_min_us, l.bandwidth_bytes_per_s / double(1 << 20),
                l.clock_offset_us);
  }
  for (const auto& e : status.errors) std::printf("unreachable: %s\n", e.c_str());
}

}  // namespace

void add_cluster_command(CLI::App& app) {
  auto* cluster = app.add_subcommand("cluster", "Inspect a running cluster");
  cluster->require_subcommand(1);
  auto* status = cluster->add_subcommand("status", "Every node's description and measured links");
  auto args = std::make_shared<StatusArguments>();
  status->add_option("--join", args->join, "HOST:PORT of any member")->required();
  status->add_option("--secret-file", args->secret_file, "file holding the cluster secret")
      ->required();
  status->add_flag("--json", args->json, "Print one JSON object");
  status->add_option("--pings", args->pings, "round trips per latency measurement")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  status->add_option("--bulk-bytes", args->bulk_bytes, "bytes per bandwidth measurement")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, uint64_t{cluster::kMaxBulkPayload - 64}));
  status->add_flag("--no-node-links", args->no_node_links, "measure only links from here");
  status->add_option("--transport", args->transport, "how to reach the nodes: tcp or ucx")
      ->check(CLI::IsMember({"tcp", "ucx"}))
      ->capture_default_str();
  status->callback([args] {
    cluster::StatusOptions options;
    options.link.ping_count = args->pings;
    options.link.bulk_bytes = args->bulk_bytes;
    options.node_to_node = !args->no_node_links;
    const cluster::Secret secret = cluster::Secret::load_file(args->secret_file);
    const auto transport = cluster::make_transport(cluster::parse_transport_kind(args->transport));
    const auto result =
        cluster::query_cluster_status(*transport, secret, parse_host_port(args->join), options);
    if (args->json) {
      std::puts(to_json(result).dump(1).c_str());
    } else {
      print_text(result);
    }
  });
}

}  // namespace tandem::cli
