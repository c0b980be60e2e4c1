#include "cluster/ucx_transport.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <ucp/api/ucp.h>

#include <cstring>
#include <deque>

#include "cluster/ucx_worker.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

std::string status_text(ucs_status_t status) { return ucs_status_string(status); }

sockaddr_in resolve(const HostPort& address) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(address.host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    throw Error(str_cat("cannot resolve ", address.host, ": ", ::gai_strerror(rc)));
  }
  sockaddr_in out{};
  std::memcpy(&out, found->ai_addr, sizeof(out));
  ::freeaddrinfo(found);
  out.sin_port = htons(address.port);
  return out;
}

HostPort to_host_port(const sockaddr_storage& storage) {
  if (storage.ss_family != AF_INET) return {"?", 0};
  sockaddr_in in{};
  std::memcpy(&in, &storage, sizeof(in));
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text));
  return {text, ntohs(in.sin_port)};
}

// One outstanding UCX operation. Owned by the worker until both the callback ran and
// the waiting thread let go, so neither side ever touches freed memory; `buffer`
// holds what UCX reads from or writes into.

class UcxConnection final : public Connection {
 public:
  UcxConnection(std::shared_ptr<UcxWorker> worker, std::shared_ptr<UcxEndpoint> endpoint)
      : worker_(std::move(worker)), endpoint_(std::move(endpoint)) {}
  ~UcxConnection() override { worker_->close(*endpoint_, kUcxCloseTimeout); }
  UcxConnection(const UcxConnection&) = delete;
  UcxConnection& operator=(const UcxConnection&) = delete;

  bool wait_readable(Milliseconds timeout) override {
    return worker_->wait_readable(*endpoint_, timeout);
  }
  void shutdown() override {
    worker_->mark_closed(*endpoint_, "connection shut down");
    worker_->close(*endpoint_, kUcxShutdownFlushTimeout);
  }
  std::string peer() const override { return endpoint_->peer; }

 protected:
  void send_frame(MessageType type, std::span<const uint8_t> prefix,
                  std::span<const uint8_t> payload) override {
    worker_->send(*endpoint_, type, prefix, payload);
  }
  Frame receive_frame(Milliseconds timeout, uint32_t payload_limit, FrameTag& tag) override {
    return worker_->receive(*endpoint_, timeout, payload_limit, tag);
  }

 private:
  std::shared_ptr<UcxWorker> worker_;
  std::shared_ptr<UcxEndpoint> endpoint_;
};

// Connection requests, queued by the progress thread under the worker's mutex.
struct PendingRequests {
  UcxWorker* worker = nullptr;
  std::deque<ucp_conn_request_h> requests;
};

void on_connection_request(ucp_conn_request_h request, void* arg) {
  auto* pending = static_cast<PendingRequests*>(arg);
  std::lock_guard lock(pending->worker->mutex());
  pending->requests.push_back(request);
  pending->worker->changed().notify_all();
}

class UcxListener final : public Listener {
 public:
  UcxListener(std::shared_ptr<UcxWorker> worker, const HostPort& address)
      : worker_(std::move(worker)), pending_(std::make_unique<PendingRequests>()) {
    pending_->worker = worker_.get();
    const sockaddr_in socket_address = resolve(address);
    ucp_listener_params_t params{};
    params.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
    params.sockaddr.addr = reinterpret_cast<const sockaddr*>(&socket_address);
    params.sockaddr.addrlen = sizeof(socket_address);
    params.conn_handler.cb = &on_connection_request;
    params.conn_handler.arg = pending_.get();
    const ucs_status_t status = ucp_listener_create(worker_->handle(), &params, &listener_);
    if (status != UCS_OK) {
      throw Error(str_cat("UCX cannot listen on ", address.to_string(), ": ", status_text(status)));
    }
    ucp_listener_attr_t attributes{};
    attributes.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR;
    address_ = address;
    if (ucp_listener_query(listener_, &attributes) == UCS_OK) {
      address_ = to_host_port(attributes.sockaddr);
    }
  }

  ~UcxListener() override {
    std::deque<ucp_conn_request_h> unanswered;
    {
      std::lock_guard lock(worker_->mutex());
      unanswered.swap(pending_->requests);
    }
    for (ucp_conn_request_h request : unanswered) (void)ucp_listener_reject(listener_, request);
    ucp_listener_destroy(listener_);
  }
  UcxListener(const UcxListener&) = delete;
  UcxListener& operator=(const UcxListener&) = delete;

  std::unique_ptr<Connection> accept(Milliseconds timeout) override {
    ucp_conn_request_h request = nullptr;
    {
      std::unique_lock lock(worker_->mutex());
      if (!worker_->changed().wait_for(lock, timeout,
                                       [&] { return !pending_->requests.empty(); })) {
        return nullptr;
      }
      request = pending_->requests.front();
      pending_->requests.pop_front();
    }
    ucp_conn_request_attr_t attributes{};
    attributes.field_mask = UCP_CONN_REQUEST_ATTR_FIELD_CLIENT_ADDR;
    std::string peer = "?";
    if (ucp_conn_request_query(request, &attributes) == UCS_OK) {
      peer = to_host_port(attributes.client_address).to_string();
    }
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST;
    params.conn_request = request;
    return std::make_unique<UcxConnection>(worker_, worker_->create_endpoint(params, peer));
  }
  HostPort address() const override { return address_; }

 private:
  std::shared_ptr<UcxWorker> worker_;
  std::unique_ptr<PendingRequests> pending_;
  ucp_listener_h listener_ = nullptr;
  HostPort address_;
};

}  // namespace

UcxTransport::UcxTransport(UcxOptions options) : worker_(std::make_shared<UcxWorker>(options)) {}

UcxTransport::~UcxTransport() = default;

std::string UcxTransport::transports() const { return worker_->transports(); }

std::unique_ptr<Connection> UcxTransport::connect(const HostPort& address, Milliseconds timeout) {
  const sockaddr_in socket_address = resolve(address);
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR;
  params.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
  params.sockaddr.addr = reinterpret_cast<const sockaddr*>(&socket_address);
  params.sockaddr.addrlen = sizeof(socket_address);
  auto endpoint = worker_->create_endpoint(params, address.to_string());
  auto connection = std::make_unique<UcxConnection>(worker_, endpoint);
  worker_->wait_connected(*endpoint, timeout);
  return connection;
}

std::unique_ptr<Listener> UcxTransport::listen(const HostPort& address) {
  return std::make_unique<UcxListener>(worker_, address);
}

}  // namespace tandem::cluster
