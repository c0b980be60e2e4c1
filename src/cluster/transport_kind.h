#pragma once
// Which Transport carries a cluster's messages: plain TCP, or UCX (shared memory on one
// host, TCP between hosts, RDMA verbs where present). Every node of a cluster and every
// coordinator that joins it must use the same kind.

#include <memory>
#include <string>
#include <string_view>

#include "cluster/transport.h"

namespace tandem::cluster {

enum class TransportKind { kTcp, kUcx };

// "tcp" or "ucx"; throws Error naming the accepted values otherwise.
TransportKind parse_transport_kind(std::string_view text);
const char* transport_kind_name(TransportKind kind);

// Throws Error when UCX cannot start (the message names the cause).
std::unique_ptr<Transport> make_transport(TransportKind kind);

}  // namespace tandem::cluster
