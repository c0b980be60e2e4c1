#include "cluster/status.h"

#include "cluster/node.h"
#include "platform/error.h"

namespace tandem::cluster {

ClusterStatus query_cluster_status(Transport& transport, const Secret& secret,
                                   const HostPort& entry, const StatusOptions& options) {
  const std::string self_id = make_node_id("status");
  ClusterStatus status;
  {
    auto connection = transport.connect(entry, options.timeout);
    authenticate_client(*connection, secret, self_id, options.timeout);
    connection->send_message(MembershipRequest{});
    status.members =
        connection->receive_message<Membership>(options.timeout, kMaxControlPayload).members;
  }
  std::vector<std::unique_ptr<Connection>> connections;
  for (const Member& member : status.members) {
    try {
      auto connection = transport.connect(parse_host_port(member.address), options.timeout);
      const AuthResult auth = authenticate_client(*connection, secret, self_id, options.timeout);
      if (auth.peer_id != member.node_id) {
        throw Error(str_cat(member.address, " answers as ", auth.peer_id));
      }
      connection->send_message(InfoRequest{});
      status.nodes.push_back(
          connection->receive_message<NodeInfoMessage>(options.timeout, kMaxControlPayload).info);
      LinkReport link = measure_link(*connection, options.link);
      link.from_node = "client";
      link.to_node = member.node_id;
      status.links.push_back(link);
      connections.push_back(std::move(connection));
    } catch (const Error& e) {
      status.errors.push_back(str_cat(member.node_id, " at ", member.address, ": ", e.what()));
      connections.push_back(nullptr);
    }
  }
  if (!options.node_to_node) return status;
  for (size_t from = 0; from < status.members.size(); ++from) {
    if (!connections[from]) continue;
    for (size_t to = 0; to < status.members.size(); ++to) {
      if (to == from || !connections[to]) continue;
      try {
        connections[from]->send_message(LinkMeasureRequest{
            status.members[to].address, options.link.ping_count, options.link.bulk_bytes});
        // The node runs a whole measurement before answering.
        status.links.push_back(connections[from]->receive_message<LinkReport>(options.timeout * 3,
                                                                              kMaxControlPayload));
      } catch (const Error& e) {
        status.errors.push_back(str_cat("link ", status.members[from].node_id, " -> ",
                                        status.members[to].node_id, ": ", e.what()));
        break;
      }
    }
  }
  return status;
}

}  // namespace tandem::cluster
