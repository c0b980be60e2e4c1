#include "cluster/doctor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cluster/node.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

constexpr const char* kSecretFix =
    "use the same secret file on every node and for this command (copy it, then chmod 600)";

std::string format(const char* pattern, double value) {
  char out[64];
  std::snprintf(out, sizeof(out), pattern, value);
  return out;
}
// Sizes in GiB, or MiB below one GiB.
std::string gib(uint64_t bytes) {
  if (bytes < (1ull << 30)) return format("%.1f MiB", static_cast<double>(bytes) / double(1 << 20));
  return format("%.2f GiB", static_cast<double>(bytes) / double(1ull << 30));
}
std::string mib(double bytes) { return format("%.1f MiB", bytes / double(1 << 20)); }
std::string rate(double bytes_per_s) {
  if (bytes_per_s >= double(1ull << 30))
    return format("%.1f GiB/s", bytes_per_s / double(1ull << 30));
  return format("%.1f MiB/s", bytes_per_s / double(1 << 20));
}
std::string ms(double seconds) { return format("%.2f ms", seconds * 1e3); }

bool is_auth_error(const std::string& error) {
  return error.find("authentication") != std::string::npos;
}

Gate pass(std::string name, std::string measured) {
  return {std::move(name), GateStatus::kPass, std::move(measured), ""};
}
Gate warn(std::string name, std::string measured, std::string fix) {
  return {std::move(name), GateStatus::kWarn, std::move(measured), std::move(fix)};
}
Gate fail(std::string name, std::string measured, std::string fix) {
  return {std::move(name), GateStatus::kFail, std::move(measured), std::move(fix)};
}

std::string node_label(const std::vector<NodeInfo>& nodes, const std::string& node_id) {
  for (const NodeInfo& n : nodes) {
    if (n.node_id == node_id) return n.name;
  }
  return node_id;
}

std::string join_list(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

}  // namespace

const char* status_name(GateStatus status) {
  switch (status) {
    case GateStatus::kPass:
      return "PASS";
    case GateStatus::kWarn:
      return "WARN";
    case GateStatus::kFail:
      return "FAIL";
  }
  return "?";
}

Gate simd_gate(const std::string& simd, uint32_t cores) {
  const std::string measured = str_cat(simd, ", ", cores, " cores");
  if (simd.empty() || simd == "none") {
    return warn("cpu", measured,
                "no SIMD extension found: kernels run scalar and several times slower; use a CPU "
                "with AVX2 or NEON");
  }
  return pass("cpu", measured);
}

Gate memory_gate(uint64_t available_bytes, uint64_t total_bytes, const DoctorThresholds& limits) {
  const std::string measured = str_cat(gib(available_bytes), " available of ", gib(total_bytes));
  if (available_bytes < limits.min_available_memory_bytes) {
    return warn("memory", measured,
                str_cat("less than ", gib(limits.min_available_memory_bytes),
                        " free: stop other programs or add a node"));
  }
  return pass("memory", measured);
}

Gate bandwidth_gate(double read_bytes_per_s, uint64_t active_bytes_per_token,
                    const DoctorThresholds& limits) {
  std::string measured = str_cat(rate(read_bytes_per_s), " read");
  if (active_bytes_per_token > 0 && read_bytes_per_s > 0) {
    // Decoding reads every active weight once per token: this bounds tokens per second.
    const double ceiling = read_bytes_per_s / static_cast<double>(active_bytes_per_token);
    measured += str_cat(": at most ", format("%.0f", ceiling), " tok/s on one machine (",
                        mib(static_cast<double>(active_bytes_per_token)), " read per token)");
  }
  if (read_bytes_per_s < limits.min_read_bytes_per_s) {
    return warn("memory bandwidth", measured,
                str_cat("below ", rate(limits.min_read_bytes_per_s),
                        ": decode will be slow; check that all memory channels are populated and "
                        "that no other job is running"));
  }
  return pass("memory bandwidth", measured);
}

bool is_supported_architecture(const std::string& architecture) {
  return architecture == "qwen3" || architecture == "qwen3moe" || architecture == "qwen35moe";
}

Gate model_file_gate(const std::string& path, const std::string& architecture,
                     const std::string& error) {
  if (!error.empty()) {
    return fail("model file", error,
                str_cat("check the path; a truncated download does not parse: fetch ", path,
                        " again and compare its SHA-256 with the publisher's"));
  }
  if (!is_supported_architecture(architecture)) {
    return fail("model file", str_cat("architecture '", architecture, "' is not supported"),
                "use a qwen3, qwen3moe or qwen35moe GGUF");
  }
  return pass("model file", str_cat(architecture, " GGUF parses"));
}

Gate model_hash_gate(const FileHash& hash, const std::string& error) {
  if (!error.empty()) return fail("model hash", error, "check that the file is readable");
  std::string measured =
      str_cat("sha256 ", hash.sha256.substr(0, 16), "..., ", gib(hash.size_bytes), ", ");
  measured += hash.cached ? str_cat("cached in ", hash.sidecar)
                          : str_cat("computed in ", format("%.2f s", hash.seconds),
                                    hash.sidecar.empty() ? " (no writable place to cache it)"
                                                         : str_cat(", cached in ", hash.sidecar));
  return pass("model hash", measured);
}

Gate reach_gate(const std::string& entry, const std::string& entry_error,
                const ClusterStatus& status) {
  if (!entry_error.empty()) {
    if (is_auth_error(entry_error)) return fail("cluster reach", entry_error, kSecretFix);
    if (entry_error.find("secret file") != std::string::npos) {
      return fail("cluster reach", entry_error,
                  "create it once (head -c 32 /dev/urandom | base64 > F && chmod 600 F) and copy "
                  "it to every node");
    }
    return fail("cluster reach", entry_error,
                str_cat("start `tandem node` on ", entry,
                        " or check the address, the port and the firewall"));
  }
  std::vector<std::string> unreachable;
  bool auth = false;
  for (const std::string& error : status.errors) {
    if (error.rfind("link ", 0) == 0) continue;  // the link gates report those
    unreachable.push_back(error);
    auth = auth || is_auth_error(error);
  }
  if (!unreachable.empty()) {
    return fail("cluster reach",
                str_cat(unreachable.size(), " of ", status.members.size(),
                        " members unreachable: ", join_list(unreachable, "; ")),
                auth ? kSecretFix
                     : "check that every node's --listen address is reachable from here (host "
                       "name, port, firewall)");
  }
  std::vector<std::string> names;
  for (const NodeInfo& n : status.nodes) names.push_back(str_cat(n.name, " ", n.listen_address));
  return pass(
      "cluster reach",
      str_cat(status.nodes.size(), " nodes answered and authenticated: ", join_list(names, ", ")));
}

Gate version_gate(const std::vector<NodeInfo>& nodes, const std::string& local_version) {
  std::vector<std::string> versions;
  bool same = true;
  for (const NodeInfo& n : nodes) {
    versions.push_back(str_cat(n.name, " ", n.tandem_version));
    same = same && n.tandem_version == local_version;
  }
  const std::string measured =
      str_cat("here ", local_version, (nodes.empty() ? "" : "; "), join_list(versions, ", "));
  if (!same) {
    return fail("tandem version", measured,
                "install the same tandem build on every node and here (the wire protocol and "
                "the kernels must match)");
  }
  return pass("tandem version", measured);
}

std::vector<Gate> link_gates(const std::vector<LinkReport>& links,
                             const std::vector<NodeInfo>& nodes, uint64_t hidden_size,
                             const DoctorThresholds& limits) {
  std::vector<Gate> gates;
  for (const LinkReport& link : links) {
    if (link.from_node == "client") continue;  // the doctor's own links say nothing of serving
    const std::string name = str_cat("link ", node_label(nodes, link.from_node), " -> ",
                                     node_label(nodes, link.to_node));
    if (!link.error.empty()) {
      gates.push_back(fail(name, link.error,
                           "nodes must reach each other's --listen address: check the advertised "
                           "host name, the port and the firewall"));
      continue;
    }
    std::string measured = str_cat(format("%.0f us", link.latency_median_us), " round trip, ",
                                   rate(link.bandwidth_bytes_per_s));
    if (hidden_size > 0 && link.bandwidth_bytes_per_s > 0) {
      // One decoded token crosses a stage boundary as hidden_size F32 values, one way.
      const double activation = static_cast<double>(hidden_size) * 4;
      const double hop_s =
          link.latency_median_us * 0.5e-6 + activation / link.bandwidth_bytes_per_s;
      const double prefill_s =
          activation * static_cast<double>(limits.prefill_tokens) / link.bandwidth_bytes_per_s;
      measured += str_cat(": +", ms(hop_s), " per token per stage boundary (at most ",
                          format("%.0f", 1.0 / hop_s), " tok/s through it), a ",
                          limits.prefill_tokens, "-token prefill crosses in ", ms(prefill_s));
    }
    if (link.latency_median_us > limits.link_latency_warn_us) {
      gates.push_back(
          warn(name, measured,
               str_cat("round trip above ", format("%.0f us", limits.link_latency_warn_us),
                       ": every token pays it at each stage boundary; use a wired "
                       "LAN, fewer stages, or larger batches")));
    } else if (link.bandwidth_bytes_per_s < limits.link_bandwidth_warn_bytes_per_s) {
      gates.push_back(warn(name, measured,
                           str_cat("below ", rate(limits.link_bandwidth_warn_bytes_per_s),
                                   ": prompts (prefill) and shard copies are slow; use gigabit "
                                   "Ethernet or faster")));
    } else {
      gates.push_back(pass(name, measured));
    }
  }
  return gates;
}

Gate local_rdma_gate(const std::vector<std::string>& rdma_devices,
                     const std::string& ucx_transports, const std::string& ucx_error) {
  const std::string name = "rdma (this machine)";
  const std::string devices = rdma_devices.empty()
                                  ? "no RDMA devices"
                                  : str_cat("RDMA devices ", join_list(rdma_devices, " "));
  if (!ucx_error.empty()) {
    return warn(name, str_cat(devices, "; UCX cannot start: ", ucx_error),
                "--transport ucx is unavailable here (tcp works); install libucx0 and check "
                "UCX_TLS / UCX_NET_DEVICES");
  }
  const bool verbs = ucx_transports.find("rc_") != std::string::npos ||
                     ucx_transports.find("ud_") != std::string::npos ||
                     ucx_transports.find("dc_") != std::string::npos;
  const std::string measured = str_cat(devices, "; UCX transports ", ucx_transports);
  if (!rdma_devices.empty() && !verbs) {
    return warn(name, measured,
                "UCX sees no verbs transport for these devices: install rdma-core and "
                "libibverbs providers (and UCX built with verbs), then check UCX_TLS");
  }
  return pass(name, str_cat(measured, verbs ? " (RDMA in use with --transport ucx)"
                                            : " (no RDMA: --transport ucx uses these)"));
}

Gate rdma_gate(const std::vector<NodeInfo>& nodes) {
  std::vector<std::string> with, without;
  for (const NodeInfo& n : nodes) {
    if (n.rdma_devices.empty()) {
      without.push_back(n.name);
    } else {
      with.push_back(str_cat(n.name, ": ", join_list(n.rdma_devices, " ")));
    }
  }
  if (!without.empty()) {
    return warn("rdma",
                str_cat("no RDMA device on ", join_list(without, ", "),
                        with.empty() ? "" : str_cat(" (present on ", join_list(with, "; "), ")"),
                        ": links fall back to TCP"),
                "TCP works; for lower latency install RDMA NICs with rdma-core on every node "
                "(devices appear under /sys/class/infiniband)");
  }
  return pass("rdma", join_list(with, "; "));
}

Gate clock_gate(const std::vector<LinkReport>& links, const std::vector<NodeInfo>& nodes,
                const DoctorThresholds& limits) {
  double worst = 0;
  std::string worst_link;
  for (const LinkReport& link : links) {
    if (!link.error.empty()) continue;
    if (std::abs(link.clock_offset_us) >= std::abs(worst)) {
      worst = link.clock_offset_us;
      const std::string from =
          link.from_node == "client" ? "here" : node_label(nodes, link.from_node);
      worst_link = str_cat(from, " -> ", node_label(nodes, link.to_node));
    }
  }
  if (worst_link.empty()) return pass("clock skew", "no link measured");
  const std::string measured =
      str_cat("largest offset ", ms(std::abs(worst) * 1e-6), " (", worst_link, ")");
  if (std::abs(worst) > limits.clock_skew_warn_us) {
    return warn("clock skew", measured,
                "run NTP (chrony or systemd-timesyncd) on every node: otherwise log and metric "
                "timestamps of different nodes disagree");
  }
  return pass("clock skew", measured);
}

PlanCheck memory_plan_gate(const ModelFootprint& model, const std::vector<NodeCapacity>& nodes,
                           const PlacementOptions& options) {
  PlanCheck out;
  const std::string fix =
      str_cat("add a node or free memory, use a smaller quantization, or lower --ctx (now ",
              options.context_length, ") or --parallel (now ", options.sequences, ")");
  try {
    out.placement = plan_placement(model, nodes, options);
  } catch (const Error& e) {
    out.gate = fail("memory plan", e.what(), fix);
    return out;
  }
  std::vector<std::string> stages;
  for (const StagePlan& s : out.placement->stages) {
    stages.push_back(str_cat(nodes[s.node].name, " layers ", s.first_layer, "-", s.end_layer - 1,
                             " needs ", gib(s.total_bytes), " of ",
                             gib(nodes[s.node].free_memory_bytes), " free"));
  }
  out.gate = pass("memory plan", str_cat(join_list(stages, "; "), " (", options.sequences, " x ",
                                         options.context_length, " tokens of KV cache; about ",
                                         ms(out.placement->token_seconds), " per token)"));
  return out;
}

Gate disk_gate(const std::vector<NodeInfo>& nodes, const Placement& placement,
               const std::vector<bool>& has_model) {
  std::vector<std::string> short_of, fine;
  for (const StagePlan& s : placement.stages) {
    const NodeInfo& node = nodes[s.node];
    if (s.node < has_model.size() && has_model[s.node]) {
      fine.push_back(str_cat(node.name, " holds the model file"));
      continue;
    }
    const std::string line = str_cat(node.name, " needs ", gib(s.weight_bytes), " in ",
                                     node.cache_dir, ", ", gib(node.disk_free_bytes), " free");
    (node.disk_free_bytes < s.weight_bytes ? short_of : fine).push_back(line);
  }
  if (!short_of.empty()) {
    return fail("disk for shards", join_list(short_of, "; "),
                "free space there or start that node with --cache-dir on a larger disk");
  }
  return pass("disk for shards", join_list(fine, "; "));
}

Gate model_copies_gate(const std::vector<NodeInfo>& nodes,
                       const std::vector<ModelFileReport>& reports,
                       const std::string& local_sha256) {
  std::vector<std::string> same, differ, missing, unknown;
  for (size_t i = 0; i < nodes.size() && i < reports.size(); ++i) {
    const ModelFileReport& r = reports[i];
    const std::string& name = nodes[i].name;
    if (!r.error.empty()) {
      unknown.push_back(str_cat(name, ": ", r.error));
    } else if (!r.present) {
      missing.push_back(str_cat(name, " (", r.path, ")"));
    } else if (r.sha256 != local_sha256) {
      differ.push_back(str_cat(name, " ", r.path, " sha256 ", r.sha256.substr(0, 16), "... vs ",
                               local_sha256.substr(0, 16), "... here"));
    } else {
      same.push_back(str_cat(name, " ", r.path));
    }
  }
  std::string measured;
  const auto add = [&measured](const char* what, const std::vector<std::string>& items) {
    if (items.empty()) return;
    measured += str_cat(measured.empty() ? "" : "; ", what, join_list(items, ", "));
  };
  add("same hash: ", same);
  add("DIFFERENT: ", differ);
  add("absent: ", missing);
  add("not checked: ", unknown);
  if (!differ.empty()) {
    return fail("model copies", measured,
                "a node holds another file under this name: copy the model there again (or "
                "point its --models-dir at the right copy)");
  }
  if (!unknown.empty()) {
    return warn("model copies", measured, "update tandem on those nodes so they answer the query");
  }
  if (!missing.empty()) {
    return warn("model copies", measured,
                "copy the model into those nodes' --models-dir to load it from local disk");
  }
  return pass("model copies", measured);
}

bool DoctorReport::failed() const { return count(GateStatus::kFail) > 0; }

size_t DoctorReport::count(GateStatus status) const {
  return static_cast<size_t>(std::count_if(gates.begin(), gates.end(),
                                           [status](const Gate& g) { return g.status == status; }));
}

std::vector<ModelFileReport> query_model_files(Transport& transport, const Secret& secret,
                                               const std::vector<NodeInfo>& nodes,
                                               const std::string& file_name, bool want_hash,
                                               Milliseconds timeout) {
  const std::string self_id = make_node_id("doctor");
  std::vector<ModelFileReport> reports;
  for (const NodeInfo& node : nodes) {
    try {
      auto connection = transport.connect(parse_host_port(node.listen_address), timeout);
      authenticate_client(*connection, secret, self_id, timeout);
      connection->send_message(ModelFileRequest{file_name, want_hash});
      reports.push_back(connection->receive_message<ModelFileReport>(timeout, kMaxControlPayload));
    } catch (const Error& e) {
      ModelFileReport failed;
      failed.error = e.what();
      reports.push_back(failed);
    }
  }
  return reports;
}

}  // namespace tandem::cluster
