#pragma once
// Transport over UCX (UCP): one worker per UcxTransport, shared by its listeners and
// connections and progressed by one thread that sleeps on the worker's event fd.
// Connections are made by IP address (a ucp_listener on a sockaddr, ucp_ep_create with
// UCP_EP_PARAM_FIELD_SOCK_ADDR); UCX then picks shared memory between processes on one
// host, TCP between hosts and RDMA verbs where present (UCX_TLS narrows the choice).
//
// Each frame (wire.h) is one active message: the frame header (with its FrameTag once the
// link is authenticated: 16 or 40 bytes) as the AM header, the payload as its data. Small payloads
// arrive eagerly and are queued; large ones (rendezvous) stay on the sender until receive() has
// checked their length against the caller's bound, so an unauthenticated peer cannot make us fetch
// a bulk payload. Every wait is on a condition variable with a deadline; a peer that vanishes (UCX
// reports it on the endpoint) or shutdown() ends the waits with an Error.

#include <memory>
#include <string>

#include "cluster/transport.h"

namespace tandem::cluster {

struct UcxOptions {
  // Limit on sending one frame, and on fetching a frame's payload once it was announced.
  Milliseconds io_timeout{10'000};
  // Eagerly received bytes one connection may hold unread before it is dropped.
  size_t max_queued_bytes = 64u << 20;
};

class UcxWorker;  // ucx_transport.cpp

class UcxTransport final : public Transport {
 public:
  // Starts UCX (context, worker, progress thread). Throws Error naming the cause when
  // UCX cannot start. When UCX_TLS is not set, kDefaultUcxTransports is used.
  explicit UcxTransport(UcxOptions options = {});
  ~UcxTransport() override;
  // Returns once the listener's side accepted the connection (there is no backlog as
  // with TCP: the peer's Listener::accept must run meanwhile).
  std::unique_ptr<Connection> connect(const HostPort& address, Milliseconds timeout) override;
  std::unique_ptr<Listener> listen(const HostPort& address) override;

  // The UCX transports this worker can use, as UCX names them ("tcp", "posix", "rc_verbs").
  std::string transports() const;

 private:
  std::shared_ptr<UcxWorker> worker_;
};

// Every transport except cma (cross-memory attach needs ptrace rights that containers
// usually withhold; shared memory still goes through posix/sysv).
inline constexpr const char* kDefaultUcxTransports = "^cma";

}  // namespace tandem::cluster
