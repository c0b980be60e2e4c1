#pragma once
// What `tandem cluster status` shows: every member's NodeInfo and the measured links,
// gathered by an authenticated client that does not join the cluster itself.

#include <string>
#include <vector>

#include "cluster/auth.h"
#include "cluster/link.h"
#include "cluster/transport.h"

namespace tandem::cluster {

struct StatusOptions {
  LinkOptions link;
  bool node_to_node = true;  // also ask every node to measure its link to every other
  Milliseconds timeout{10'000};
};

struct ClusterStatus {
  std::vector<Member> members;
  std::vector<NodeInfo> nodes;      // one per member that answered
  std::vector<LinkReport> links;    // from "client" to each node, then node to node
  std::vector<std::string> errors;  // members that could not be reached
};

// Asks `entry` for the member list, then every member for its info and links.
// Throws Error when `entry` itself cannot be reached or refuses the secret.
ClusterStatus query_cluster_status(Transport& transport, const Secret& secret,
                                   const HostPort& entry, const StatusOptions& options);

}  // namespace tandem::cluster
