// run_doctor: gathers the facts (this machine, the model, the cluster) and runs the gates
// of doctor.h over them, in the order a user fixes things: machine, model, cluster, plan.

#include <filesystem>
#include <memory>
#include <thread>

#include "cluster/doctor.h"
#include "cluster/ucx_transport.h"
#include "gguf/model_file.h"
#include "platform/bandwidth.h"
#include "platform/error.h"
#include "platform/thread_pool.h"

namespace tandem::cluster {
namespace {

struct ModelFacts {
  std::unique_ptr<ModelFile> file;
  std::optional<ModelFootprint> footprint;
  std::string sha256;
};

uint64_t active_bytes_per_token(const ModelFootprint& model) {
  return model.active_bytes(0, model.layers.size()) + model.output_active_bytes;
}

// Parses and hashes the model; adds the model gates.
ModelFacts check_model(const DoctorOptions& options, std::vector<Gate>& gates) {
  ModelFacts facts;
  std::string error;
  try {
    facts.file = std::make_unique<ModelFile>(options.model_path);
    if (is_supported_architecture(facts.file->architecture())) {
      facts.footprint = ModelFootprint::from_model(*facts.file);
    }
  } catch (const Error& e) {
    error = e.what();
  }
  gates.push_back(
      model_file_gate(options.model_path, facts.file ? facts.file->architecture() : "", error));
  if (!facts.file) return facts;
  FileHash hash;
  std::string hash_error;
  try {
    hash = hash_model_file(options.model_path, options.cache_dir);
    facts.sha256 = hash.sha256;
  } catch (const Error& e) {
    hash_error = e.what();
  }
  gates.push_back(model_hash_gate(hash, hash_error));
  return facts;
}

// One capacity per node, in member order; each node's link is the one to the next node.
std::vector<NodeCapacity> capacities_of(const ClusterStatus& status, double read_bytes_per_s) {
  std::vector<NodeCapacity> out;
  for (size_t i = 0; i < status.nodes.size(); ++i) {
    const NodeInfo& node = status.nodes[i];
    NodeCapacity capacity;
    capacity.name = node.name;
    capacity.free_memory_bytes = node.memory_available_bytes;
    // Nodes do not report their memory bandwidth: this machine's stands in for it.
    capacity.weight_read_bytes_per_s = read_bytes_per_s;
    capacity.link_bytes_per_s = 1e9;
    if (i + 1 < status.nodes.size()) {
      for (const LinkReport& link : status.links) {
        if (link.from_node == node.node_id && link.to_node == status.nodes[i + 1].node_id &&
            link.error.empty()) {
          capacity.link_latency_s = link.latency_median_us * 0.5e-6;
          capacity.link_bytes_per_s = link.bandwidth_bytes_per_s;
        }
      }
    }
    out.push_back(capacity);
  }
  return out;
}

void check_cluster(const DoctorOptions& options, Transport& transport, const ModelFacts& model,
                   double read_bytes_per_s, DoctorReport& report) {
  auto& gates = report.gates;
  const std::string entry = options.join->to_string();
  ClusterStatus status;
  std::optional<Secret> secret;
  try {
    secret = Secret::load_file(options.secret_file);
    StatusOptions status_options;
    status_options.link = options.link;
    status = query_cluster_status(transport, *secret, *options.join, status_options);
  } catch (const Error& e) {
    gates.push_back(reach_gate(entry, e.what(), status));
    return;
  }
  gates.push_back(reach_gate(entry, "", status));
  gates.push_back(version_gate(status.nodes, options.tandem_version));
  const uint64_t hidden = model.footprint ? model.footprint->hidden_size : 0;
  for (Gate& gate : link_gates(status.links, status.nodes, hidden, options.limits)) {
    gates.push_back(std::move(gate));
  }
  gates.push_back(rdma_gate(status.nodes));
  gates.push_back(clock_gate(status.links, status.nodes, options.limits));
  if (!model.footprint || status.nodes.empty()) return;

  std::vector<bool> has_model(status.nodes.size(), false);
  if (!model.sha256.empty()) {
    // A node hashes its copy at most once (sidecar cache); allow for reading it all.
    const uint64_t size = std::filesystem::file_size(options.model_path);
    const Milliseconds timeout(30'000 + static_cast<int64_t>(size / (100u << 20)) * 1000);
    const auto copies = query_model_files(
        transport, *secret, status.nodes,
        std::filesystem::path(options.model_path).filename().string(), true, timeout);
    gates.push_back(model_copies_gate(status.nodes, copies, model.sha256));
    for (size_t i = 0; i < copies.size(); ++i) {
      has_model[i] = copies[i].present && copies[i].sha256 == model.sha256;
    }
  }
  report.capacities = capacities_of(status, read_bytes_per_s);
  PlacementOptions placement_options;
  placement_options.context_length = options.context_length;
  placement_options.sequences = options.sequences;
  placement_options.kv_type = options.kv_type;
  PlanCheck plan = memory_plan_gate(*model.footprint, report.capacities, placement_options);
  gates.push_back(std::move(plan.gate));
  report.placement = std::move(plan.placement);
  if (report.placement) gates.push_back(disk_gate(status.nodes, *report.placement, has_model));
}

}  // namespace

DoctorReport run_doctor(const DoctorOptions& options, Transport& transport) {
  DoctorReport report;
  const NodeInfo local = collect_node_info(
      {"local", "this machine", options.tandem_version, "", options.cache_dir}, 0);
  report.gates.push_back(simd_gate(local.simd, local.cores));
  report.gates.push_back(
      memory_gate(local.memory_available_bytes, local.memory_total_bytes, options.limits));

  ModelFacts model;
  if (!options.model_path.empty()) model = check_model(options, report.gates);

  ThreadPool pool(std::max<size_t>(1, std::thread::hardware_concurrency()));
  const double read_bytes_per_s =
      measure_read_bandwidth(pool, options.bandwidth_buffer_bytes, options.bandwidth_repetitions)
          .read_bytes_per_s;
  report.gates.push_back(bandwidth_gate(
      read_bytes_per_s, model.footprint ? active_bytes_per_token(*model.footprint) : 0,
      options.limits));

  std::string ucx_transports, ucx_error;
  try {
    ucx_transports = UcxTransport().transports();
  } catch (const Error& e) {
    ucx_error = e.what();
  }
  report.gates.push_back(local_rdma_gate(local.rdma_devices, ucx_transports, ucx_error));

  if (options.join) {
    check_cluster(options, transport, model, read_bytes_per_s, report);
  } else if (model.footprint) {
    report.capacities = {
        NodeCapacity{"this machine", local.memory_available_bytes, read_bytes_per_s, 0, 0}};
    PlacementOptions placement_options;
    placement_options.context_length = options.context_length;
    placement_options.sequences = options.sequences;
    placement_options.kv_type = options.kv_type;
    PlanCheck plan = memory_plan_gate(*model.footprint, report.capacities, placement_options);
    report.gates.push_back(std::move(plan.gate));
    report.placement = std::move(plan.placement);
  }
  return report;
}

}  // namespace tandem::cluster
