#pragma once
// From a running cluster to a pipeline layout: ask the members for their free memory
// and speed, then place contiguous layer ranges with plan_placement, or take an explicit
// split (`--split 2,2`: layer counts per stage, over the first nodes in name order).

#include <cstddef>
#include <string>
#include <vector>

#include "cluster/auth.h"
#include "cluster/link.h"
#include "cluster/placement.h"
#include "cluster/transport.h"

namespace tandem::cluster {

struct ClusterNode {
  Member member;
  NodeInfo info;
};

// The members reachable through `entry`, each with its NodeInfo, sorted by name then
// id (the pipeline order). Throws Error when `entry` or any member cannot be reached.
std::vector<ClusterNode> discover_nodes(Transport& transport, const Secret& secret,
                                        const HostPort& entry, Milliseconds timeout);

// For rebuilding a pipeline after a node died: asks the entries in order for the
// member list (the first that answers gives it) and keeps the members that answer with
// their NodeInfo, sorted like discover_nodes. A member that does not answer (the dead
// node, until every peer has noticed) is skipped, with why, in `skipped`. Throws Error
// only when no entry answers.
std::vector<ClusterNode> discover_live_nodes(Transport& transport, const Secret& secret,
                                             const std::vector<HostPort>& entries,
                                             Milliseconds timeout,
                                             std::vector<std::string>& skipped);

// What placement needs of a node. The weight streaming speed is estimated from the
// measured single-core matmul rate times the cores (decode reads each weight byte for
// about one multiply-add); links are assumed local-network fast unless measured.
NodeCapacity capacity_of(const NodeInfo& info);

// capacity_of for every node, with the link from each node to the next (the pipeline
// order) measured by that node itself (LinkMeasureRequest): its median round trip and
// bulk bandwidth replace the assumed numbers. A link that cannot be measured keeps them
// and is named in `warnings` when given.
std::vector<NodeCapacity> measured_capacities(Transport& transport, const Secret& secret,
                                              const std::vector<ClusterNode>& nodes,
                                              const LinkOptions& link,
                                              std::vector<std::string>* warnings = nullptr);

// plan_placement over the nodes, or the explicit `split` (layer counts, one per stage,
// summing to the layer count) over the first split.size() nodes. Throws Error with the
// numbers when the model does not fit or the split is malformed.
Placement plan_pipeline(const ModelFootprint& model, const std::vector<NodeCapacity>& nodes,
                        const PlacementOptions& options, const std::vector<size_t>& split);

// "1,2,3" -> {1, 2, 3}; throws Error for anything else.
std::vector<size_t> parse_split(const std::string& text);

}  // namespace tandem::cluster
