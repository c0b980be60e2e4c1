#include "cluster/pipeline_plan.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <tuple>

#include "cluster/node.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

// Without a measured link: a local network's round trip and bandwidth.
constexpr double kAssumedLinkLatencySeconds = 100e-6;
constexpr double kAssumedLinkBytesPerSecond = 1e9;

std::string gib(uint64_t bytes) {
  return str_cat(static_cast<double>(bytes) / double(1ull << 30), " GiB");
}

std::vector<Member> ask_members(Transport& transport, const Secret& secret, const HostPort& entry,
                                const std::string& self_id, Milliseconds timeout) {
  auto connection = transport.connect(entry, timeout);
  authenticate_client(*connection, secret, self_id, timeout);
  connection->send_message(MembershipRequest{});
  return connection->receive_message<Membership>(timeout, kMaxControlPayload).members;
}

ClusterNode ask_info(Transport& transport, const Secret& secret, const Member& member,
                     const std::string& self_id, Milliseconds timeout) {
  try {
    auto connection = transport.connect(parse_host_port(member.address), timeout);
    const AuthResult auth = authenticate_client(*connection, secret, self_id, timeout);
    if (auth.peer_id != member.node_id) throw Error(str_cat("it answers as ", auth.peer_id));
    connection->send_message(InfoRequest{});
    return {member, connection->receive_message<NodeInfoMessage>(timeout, kMaxControlPayload).info};
  } catch (const Error& e) {
    throw Error(str_cat("member ", member.node_id, " at ", member.address, ": ", e.what()));
  }
}

void sort_pipeline_order(std::vector<ClusterNode>& nodes) {
  std::sort(nodes.begin(), nodes.end(), [](const ClusterNode& a, const ClusterNode& b) {
    return std::tie(a.member.name, a.member.node_id) < std::tie(b.member.name, b.member.node_id);
  });
}

}  // namespace

std::vector<ClusterNode> discover_nodes(Transport& transport, const Secret& secret,
                                        const HostPort& entry, Milliseconds timeout) {
  const std::string self_id = make_node_id("coordinator");
  std::vector<ClusterNode> nodes;
  for (const Member& member : ask_members(transport, secret, entry, self_id, timeout)) {
    nodes.push_back(ask_info(transport, secret, member, self_id, timeout));
  }
  sort_pipeline_order(nodes);
  return nodes;
}

std::vector<ClusterNode> discover_live_nodes(Transport& transport, const Secret& secret,
                                             const std::vector<HostPort>& entries,
                                             Milliseconds timeout,
                                             std::vector<std::string>& skipped) {
  const std::string self_id = make_node_id("coordinator");
  std::optional<std::vector<Member>> members;
  std::string problems;
  for (const HostPort& entry : entries) {
    try {
      members = ask_members(transport, secret, entry, self_id, timeout);
      break;
    } catch (const Error& e) {
      problems += str_cat(problems.empty() ? "" : "; ", entry.to_string(), ": ", e.what());
    }
  }
  if (!members) throw Error(str_cat("no cluster node answers (", problems, ")"));
  std::vector<ClusterNode> nodes;
  for (const Member& member : *members) {
    try {
      nodes.push_back(ask_info(transport, secret, member, self_id, timeout));
    } catch (const Error& e) {
      skipped.push_back(e.what());
    }
  }
  sort_pipeline_order(nodes);
  return nodes;
}

NodeCapacity capacity_of(const NodeInfo& info) {
  NodeCapacity capacity;
  capacity.name = info.name.empty() ? info.node_id : info.name;
  capacity.free_memory_bytes = info.memory_available_bytes;
  capacity.weight_read_bytes_per_s = info.matmul_gflops * 1e9 * std::max<uint32_t>(1, info.cores);
  capacity.link_latency_s = kAssumedLinkLatencySeconds;
  capacity.link_bytes_per_s = kAssumedLinkBytesPerSecond;
  return capacity;
}

std::vector<NodeCapacity> measured_capacities(Transport& transport, const Secret& secret,
                                              const std::vector<ClusterNode>& nodes,
                                              const LinkOptions& link,
                                              std::vector<std::string>* warnings) {
  std::vector<NodeCapacity> capacities;
  for (const ClusterNode& node : nodes) capacities.push_back(capacity_of(node.info));
  const std::string self_id = make_node_id("planner");
  for (size_t i = 0; i + 1 < nodes.size(); ++i) {
    const Member& from = nodes[i].member;
    const Member& to = nodes[i + 1].member;
    std::string error;
    try {
      auto connection = transport.connect(parse_host_port(from.address), link.timeout);
      authenticate_client(*connection, secret, self_id, link.timeout);
      connection->send_message(LinkMeasureRequest{to.address, link.ping_count, link.bulk_bytes});
      // The node runs the whole measurement before it answers.
      const auto report =
          connection->receive_message<LinkReport>(link.timeout * 3, kMaxControlPayload);
      error = report.error;
      if (error.empty() && report.bandwidth_bytes_per_s > 0) {
        // A hop is one way: half the round trip.
        capacities[i].link_latency_s = report.latency_median_us * 1e-6 / 2;
        capacities[i].link_bytes_per_s = report.bandwidth_bytes_per_s;
      }
    } catch (const Error& e) {
      error = e.what();
    }
    if (!error.empty() && warnings != nullptr) {
      warnings->push_back(str_cat("link ", from.name, " -> ", to.name,
                                  " not measured (assumed numbers used): ", error));
    }
  }
  return capacities;
}

Placement plan_pipeline(const ModelFootprint& model, const std::vector<NodeCapacity>& nodes,
                        const PlacementOptions& options, const std::vector<size_t>& split) {
  if (split.empty()) return plan_placement(model, nodes, options);
  if (split.size() > nodes.size()) {
    throw Error(str_cat("--split names ", split.size(), " stages but the cluster has ",
                        nodes.size(), " nodes"));
  }
  size_t total = 0;
  for (size_t layers : split) {
    if (layers == 0) throw Error("--split: every stage needs at least one layer");
    total += layers;
  }
  if (total != model.layers.size()) {
    throw Error(str_cat("--split covers ", total, " layers, the model has ", model.layers.size()));
  }
  Placement placement;
  size_t first = 0;
  for (size_t i = 0; i < split.size(); ++i) {
    const bool last = i + 1 == split.size();
    StagePlan s = plan_stage(model, nodes, i, first, first + split[i], i == 0, last, options);
    if (s.total_bytes > nodes[i].free_memory_bytes) {
      throw Error(str_cat("--split: ", nodes[i].name, " needs ", gib(s.total_bytes), " for layers ",
                          first, "..", first + split[i], " but has ",
                          gib(nodes[i].free_memory_bytes), " free"));
    }
    placement.token_seconds += s.compute_seconds + s.hop_seconds;
    placement.bottleneck_seconds =
        std::max(placement.bottleneck_seconds, s.compute_seconds + s.hop_seconds);
    placement.stages.push_back(s);
    first += split[i];
  }
  return placement;
}

std::vector<size_t> parse_split(const std::string& text) {
  std::vector<size_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    size_t value = 0;
    const char* begin = text.data() + start;
    const char* end = text.data() + comma;
    const auto [ptr, error] = std::from_chars(begin, end, value);
    if (begin == end || error != std::errc() || ptr != end) {
      throw Error(str_cat("--split \"", text, "\": expected layer counts like 2,2"));
    }
    out.push_back(value);
    start = comma + 1;
  }
  return out;
}

}  // namespace tandem::cluster
