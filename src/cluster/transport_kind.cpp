#include "cluster/transport_kind.h"

#include "cluster/tcp_transport.h"
#include "cluster/ucx_transport.h"
#include "platform/error.h"

namespace tandem::cluster {

TransportKind parse_transport_kind(std::string_view text) {
  if (text == "tcp") return TransportKind::kTcp;
  if (text == "ucx") return TransportKind::kUcx;
  throw Error(str_cat("unknown transport '", text, "': use tcp or ucx"));
}

const char* transport_kind_name(TransportKind kind) {
  return kind == TransportKind::kUcx ? "ucx" : "tcp";
}

std::unique_ptr<Transport> make_transport(TransportKind kind) {
  if (kind == TransportKind::kUcx) return std::make_unique<UcxTransport>();
  return std::make_unique<TcpTransport>();
}

}  // namespace tandem::cluster
