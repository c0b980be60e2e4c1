#pragma once
// `tandem doctor`: the Day-0 gates. Each gate looks at measured facts (this machine, the
// model file, the cluster's nodes and links) and says PASS, WARN or FAIL, what it
// measured, and on WARN / FAIL what to do about it, before anything is loaded or served.
//
// The gate functions are pure (plain data in, a Gate out) so that their thresholds and
// messages are testable without machines; run_doctor gathers the facts and calls them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/link.h"
#include "cluster/model_hash.h"
#include "cluster/node_info.h"
#include "cluster/placement.h"
#include "cluster/status.h"
#include "model/footprint.h"

namespace tandem::cluster {

enum class GateStatus { kPass, kWarn, kFail };
const char* status_name(GateStatus status);  // "PASS", "WARN", "FAIL"

struct Gate {
  std::string name;  // e.g. "memory bandwidth", "link a -> b"
  GateStatus status = GateStatus::kPass;
  std::string measured;  // what was found, with its numbers
  std::string fix;       // what to do; empty on PASS
};

struct DoctorThresholds {
  uint64_t min_available_memory_bytes = 2ull << 30;
  double min_read_bytes_per_s = 4.0 * (1ull << 30);  // below: decode is slow everywhere
  double link_latency_warn_us = 2000;                // above: each stage hop costs > 2 ms/token
  double link_bandwidth_warn_bytes_per_s = 100e6;    // below gigabit Ethernet
  double clock_skew_warn_us = 100'000;
  uint64_t prefill_tokens = 512;  // batch used to say what a link's bandwidth costs
};

// --- this machine ---
Gate simd_gate(const std::string& simd, uint32_t cores);
Gate memory_gate(uint64_t available_bytes, uint64_t total_bytes, const DoctorThresholds& limits);
// `active_bytes_per_token`: weights read per decoded token (0 without a model).
Gate bandwidth_gate(double read_bytes_per_s, uint64_t active_bytes_per_token,
                    const DoctorThresholds& limits);
// "rdma (this machine)": the devices under /sys/class/infiniband and the transports UCX
// can use here (`ucx_transports` "tcp,posix,rc_verbs,..."; `ucx_error` why UCX did not
// start, else empty). PASS with the values; WARN when UCX cannot start (--transport ucx
// is then unavailable) or when RDMA devices exist but UCX has no verbs transport for them.
Gate local_rdma_gate(const std::vector<std::string>& rdma_devices,
                     const std::string& ucx_transports, const std::string& ucx_error);

// --- the model ---
bool is_supported_architecture(const std::string& architecture);
// `error`: why the file did not parse (empty when it did).
Gate model_file_gate(const std::string& path, const std::string& architecture,
                     const std::string& error);
Gate model_hash_gate(const FileHash& hash, const std::string& error);

// --- the cluster ---
// `entry_error`: why the entry node could not be queried (empty when it could).
Gate reach_gate(const std::string& entry, const std::string& entry_error,
                const ClusterStatus& status);
Gate version_gate(const std::vector<NodeInfo>& nodes, const std::string& local_version);
// One gate per measured node-to-node link (links from the doctor itself are left out).
// `hidden_size`: activation width crossing a stage boundary (0 without a model).
std::vector<Gate> link_gates(const std::vector<LinkReport>& links,
                             const std::vector<NodeInfo>& nodes, uint64_t hidden_size,
                             const DoctorThresholds& limits);
Gate rdma_gate(const std::vector<NodeInfo>& nodes);
// Links from the doctor itself (from "client") count too: they compare this machine's clock.
Gate clock_gate(const std::vector<LinkReport>& links, const std::vector<NodeInfo>& nodes,
                const DoctorThresholds& limits);

struct PlanCheck {
  Gate gate;
  std::optional<Placement> placement;  // set when the model fits
};
// plan_placement over `nodes`; FAIL carries its numbers.
PlanCheck memory_plan_gate(const ModelFootprint& model, const std::vector<NodeCapacity>& nodes,
                           const PlacementOptions& options);
// Every node needs room in its cache directory for the weights of its stage, unless it
// already holds the model file (`has_model[i]`).
Gate disk_gate(const std::vector<NodeInfo>& nodes, const Placement& placement,
               const std::vector<bool>& has_model);
// `reports[i]` answers for `nodes[i]`; FAIL when a copy's hash differs from `local_sha256`.
Gate model_copies_gate(const std::vector<NodeInfo>& nodes,
                       const std::vector<ModelFileReport>& reports,
                       const std::string& local_sha256);

// --- the whole run ---
struct DoctorOptions {
  std::string model_path;  // empty: no model gates
  std::optional<HostPort> join;
  std::string secret_file;  // with join
  std::string tandem_version;
  std::string cache_dir;  // hash sidecars go here when the model's directory is read-only
  uint64_t context_length = 4096;
  uint64_t sequences = 1;
  KvType kv_type = KvType::kF32;  // element type of the KV caches planned for
  size_t bandwidth_buffer_bytes = 256u << 20;
  int bandwidth_repetitions = 3;
  LinkOptions link{10, 8u << 20, Milliseconds(10'000)};
  DoctorThresholds limits;
};

struct DoctorReport {
  std::vector<Gate> gates;
  std::optional<Placement> placement;
  std::vector<NodeCapacity> capacities;  // the nodes the placement indexes
  bool failed() const;
  size_t count(GateStatus status) const;
};

// Gathers the facts and runs every gate that applies; never throws for a failed gate
// (a failure to reach the cluster is a FAIL gate too).
DoctorReport run_doctor(const DoctorOptions& options, Transport& transport);

// The model-file query, node by node: one report per member (error set when it failed).
std::vector<ModelFileReport> query_model_files(Transport& transport, const Secret& secret,
                                               const std::vector<NodeInfo>& nodes,
                                               const std::string& file_name, bool want_hash,
                                               Milliseconds timeout);

}  // namespace tandem::cluster
