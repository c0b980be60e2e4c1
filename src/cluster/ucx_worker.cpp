#include "cluster/ucx_worker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "platform/error.h"

namespace tandem::cluster {
namespace {

constexpr uint16_t kFrameAmId = 0;
// The progress thread also wakes this often, so a missed event costs at most this.
constexpr int kProgressPollMs = 100;

std::string status_text(ucs_status_t status) { return ucs_status_string(status); }

}  // namespace

UcxWorker::UcxWorker(const UcxOptions& options) : options_(options) {
  ucp_config_t* config = nullptr;
  ucs_status_t status = ucp_config_read(nullptr, nullptr, &config);
  if (status != UCS_OK) throw Error(str_cat("UCX cannot start: ", status_text(status)));
  if (std::getenv("UCX_TLS") == nullptr) {
    (void)ucp_config_modify(config, "TLS", kDefaultUcxTransports);
  }
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
  params.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
  params.mt_workers_shared = 1;
  status = ucp_init(&params, config, &context_);
  ucp_config_release(config);
  if (status != UCS_OK) {
    throw Error(str_cat("UCX cannot start (ucp_init: ", status_text(status),
                        "); check UCX_TLS and UCX_NET_DEVICES"));
  }
  ucp_worker_params_t worker_params{};
  worker_params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  worker_params.thread_mode = UCS_THREAD_MODE_MULTI;
  status = ucp_worker_create(context_, &worker_params, &worker_);
  if (status == UCS_OK) status = ucp_worker_get_efd(worker_, &event_fd_);
  if (status == UCS_OK) {
    ucp_am_handler_param_t handler{};
    handler.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_FLAGS |
                         UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG;
    handler.id = kFrameAmId;
    handler.flags = UCP_AM_FLAG_WHOLE_MSG;
    handler.cb = &UcxWorker::on_frame;
    handler.arg = this;
    status = ucp_worker_set_am_recv_handler(worker_, &handler);
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (status != UCS_OK || wake_fd_ < 0) {
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (worker_ != nullptr) ucp_worker_destroy(worker_);
    ucp_cleanup(context_);
    throw Error(str_cat("UCX cannot start a worker: ",
                        status != UCS_OK ? status_text(status) : "eventfd failed"));
  }
  progress_ = std::thread([this] { progress_loop(); });
}

UcxWorker::~UcxWorker() {
  {
    // Forced closes complete within a few progress rounds; the worker outlives them.
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, kUcxCloseTimeout, [this] { return closing_.empty(); });
  }
  stopping_ = true;
  wake();
  progress_.join();
  {
    std::lock_guard lock(mutex_);
    for (auto& [ep, endpoint] : endpoints_) release(endpoint->queue);
    for (auto& [ep, endpoint] : unclaimed_) release(endpoint.queue);
  }
  ucp_worker_destroy(worker_);
  ucp_cleanup(context_);
  ::close(wake_fd_);
}

std::string UcxWorker::transports() const {
  // ucp_context_print_info lists "resource N : md M dev D flags -- TL/DEVICE".
  char* text = nullptr;
  size_t size = 0;
  FILE* stream = ::open_memstream(&text, &size);
  if (stream == nullptr) return "";
  ucp_context_print_info(context_, stream);
  std::fclose(stream);
  std::string info(text, size);
  std::free(text);
  std::set<std::string> names;
  size_t at = 0;
  while ((at = info.find("-- ", at)) != std::string::npos) {
    at += 3;
    const size_t end = info.find_first_of("/\n", at);
    if (end == std::string::npos) break;
    names.insert(info.substr(at, end - at));
  }
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ",") + name;
  return out;
}

void UcxWorker::wake() const {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

void UcxWorker::progress_loop() {
  while (!stopping_) {
    while (ucp_worker_progress(worker_) != 0) {
    }
    if (ucp_worker_arm(worker_) == UCS_ERR_BUSY) continue;
    pollfd fds[2] = {{event_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    (void)::poll(fds, 2, kProgressPollMs);
    if (fds[1].revents != 0) {
      uint64_t count = 0;
      (void)!::read(wake_fd_, &count, sizeof(count));
    }
  }
}

ucs_status_t UcxWorker::on_frame(void* arg, const void* header, size_t header_length, void* data,
                                 size_t length, const ucp_am_recv_param_t* param) {
  auto* self = static_cast<UcxWorker*>(arg);
  if ((param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) == 0) return UCS_OK;
  std::lock_guard lock(self->mutex_);
  if (self->closing_.count(param->reply_ep) != 0) return UCS_OK;
  const auto found = self->endpoints_.find(param->reply_ep);
  UcxEndpoint& endpoint =
      found != self->endpoints_.end() ? *found->second : self->unclaimed_[param->reply_ep];
  if (!endpoint.closed.empty()) return UCS_OK;
  UcxIncoming item;
  try {
    if (header_length < kFrameHeaderSize) throw Error("bad frame: header of wrong size");
    const auto* header_bytes = static_cast<const uint8_t*>(header);
    item.header = decode_frame_header(std::span<const uint8_t, kFrameHeaderSize>(header_bytes, 16));
    const bool tagged = (item.header.flags & kFlagAuthenticated) != 0;
    if (header_length != kFrameHeaderSize + (tagged ? kFrameTagSize : 0)) {
      throw Error("bad frame: header of wrong size");
    }
    if (tagged) {
      item.tag = decode_frame_tag(
          std::span<const uint8_t, kFrameTagSize>(header_bytes + kFrameHeaderSize, kFrameTagSize));
    }
    if (item.header.payload_length != length) throw Error("bad frame: length mismatch");
  } catch (const Error& e) {
    endpoint.closed = e.what();
    endpoint.signal.notify_all();
    return UCS_OK;
  }
  ucs_status_t keep = UCS_OK;
  if ((param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0) {
    item.rendezvous = data;
    keep = UCS_INPROGRESS;  // UCX keeps the descriptor until receive() fetches it
  } else {
    if (endpoint.queued_bytes + length > self->options_.max_queued_bytes) {
      endpoint.closed =
          str_cat("peer sent over ", self->options_.max_queued_bytes, " bytes that were not read");
      endpoint.signal.notify_all();
      return UCS_OK;
    }
    const auto* bytes = static_cast<const uint8_t*>(data);
    item.payload.assign(bytes, bytes + length);
    endpoint.queued_bytes += length;
  }
  endpoint.queue.push_back(std::move(item));
  endpoint.signal.notify_all();
  return keep;
}

void UcxWorker::on_endpoint_error(void* arg, ucp_ep_h ep, ucs_status_t status) {
  auto* self = static_cast<UcxWorker*>(arg);
  std::lock_guard lock(self->mutex_);
  if (self->closing_.count(ep) != 0) return;
  const auto found = self->endpoints_.find(ep);
  UcxEndpoint& endpoint = found != self->endpoints_.end() ? *found->second : self->unclaimed_[ep];
  endpoint.failed = true;
  if (endpoint.closed.empty())
    endpoint.closed = str_cat("connection lost (", status_text(status), ")");
  endpoint.signal.notify_all();
}

UcxOperation* UcxWorker::start_operation() {
  auto operation = std::make_unique<UcxOperation>();
  operation->owner = this;
  UcxOperation* raw = operation.get();
  std::lock_guard lock(mutex_);
  operations_.emplace(raw, std::move(operation));
  return raw;
}

void UcxWorker::on_complete(void* request, ucs_status_t status, void* user_data) {
  auto* operation = static_cast<UcxOperation*>(user_data);
  ucp_request_free(request);
  UcxWorker& self = *operation->owner;
  std::lock_guard lock(self.mutex_);
  if (operation->send_endpoint) {
    UcxEndpoint& endpoint = *operation->send_endpoint;
    endpoint.sending_bytes -= operation->buffer.size();
    if (status != UCS_OK && endpoint.closed.empty()) {
      endpoint.closed = str_cat("send failed (", status_text(status), ")");
    }
    endpoint.signal.notify_all();
    operation->send_endpoint.reset();
  }
  if (operation->closing != nullptr) self.closing_.erase(operation->closing);
  if (operation->abandoned) {
    self.operations_.erase(operation);
    self.changed_.notify_all();
    return;
  }
  operation->done = true;
  operation->status = status;
  self.changed_.notify_all();
}

void UcxWorker::on_received(void* request, ucs_status_t status, size_t, void* user_data) {
  on_complete(request, status, user_data);
}

ucs_status_t UcxWorker::finish(UcxOperation* operation, ucs_status_ptr_t request, Deadline deadline,
                               std::vector<uint8_t>* result) {
  std::unique_lock lock(mutex_);
  ucs_status_t status = UCS_PTR_STATUS(request);
  if (request != nullptr && !UCS_PTR_IS_ERR(request)) {
    wake();
    if (!changed_.wait_until(lock, deadline, [&] { return operation->done; })) {
      operation->abandoned = true;  // the callback frees it
      return UCS_ERR_TIMED_OUT;
    }
    status = operation->status;
  }
  // Done now, or no callback will come (immediate completion or failure).
  if (result != nullptr) *result = std::move(operation->buffer);
  operations_.erase(operation);
  return status;
}

void UcxWorker::release(std::deque<UcxIncoming>& queue) {
  for (UcxIncoming& item : queue) {
    if (item.rendezvous != nullptr) ucp_am_data_release(worker_, item.rendezvous);
  }
  queue.clear();
}

std::shared_ptr<UcxEndpoint> UcxWorker::create_endpoint(ucp_ep_params_t params,
                                                        const std::string& peer) {
  auto endpoint = std::make_shared<UcxEndpoint>();
  endpoint->peer = peer;
  params.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
  params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
  params.err_handler.cb = &UcxWorker::on_endpoint_error;
  params.err_handler.arg = this;
  const ucs_status_t status = ucp_ep_create(worker_, &params, &endpoint->ep);
  if (status != UCS_OK) throw Error(str_cat("UCX endpoint to ", peer, ": ", status_text(status)));
  std::lock_guard lock(mutex_);
  const auto early = unclaimed_.find(endpoint->ep);
  if (early != unclaimed_.end()) {
    endpoint->queue = std::move(early->second.queue);
    endpoint->queued_bytes = early->second.queued_bytes;
    endpoint->closed = early->second.closed;
    endpoint->failed = early->second.failed;
    unclaimed_.erase(early);
  }
  endpoints_[endpoint->ep] = endpoint;
  wake();
  return endpoint;
}

void UcxWorker::mark_closed(UcxEndpoint& endpoint, const std::string& why) {
  std::lock_guard lock(mutex_);
  if (endpoint.closed.empty()) endpoint.closed = why;
  endpoint.signal.notify_all();
}

void UcxWorker::send(UcxEndpoint& endpoint, MessageType type, std::span<const uint8_t> prefix,
                     std::span<const uint8_t> payload) {
  const auto fail = [&](const std::string& why) -> Error {
    return Error(str_cat("sending ", type_name(type), " to ", endpoint.peer, ": ", why));
  };
  UcxOperation* operation = start_operation();
  // One copy, so the caller's buffer is free on return whatever UCX still does with it.
  operation->buffer.reserve(prefix.size() + payload.size());
  operation->buffer.assign(prefix.begin(), prefix.end());
  operation->buffer.insert(operation->buffer.end(), payload.begin(), payload.end());
  const size_t bytes = operation->buffer.size();
  std::unique_lock api_lock(endpoint.api_mutex);
  {
    std::lock_guard lock(mutex_);
    if (!endpoint.closed.empty()) {
      operations_.erase(operation);
      throw fail(endpoint.closed);
    }
    endpoint.sending_bytes += bytes;
    operation->send_endpoint = endpoints_.at(endpoint.ep);
  }
  ucp_request_param_t param{};
  param.op_attr_mask =
      UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS;
  param.cb.send = &UcxWorker::on_complete;
  param.user_data = operation;
  param.flags = UCP_AM_SEND_FLAG_REPLY;  // the receiver learns which endpoint it came on
  const ucs_status_ptr_t request =
      ucp_am_send_nbx(endpoint.ep, kFrameAmId, operation->buffer.data(), prefix.size(),
                      operation->buffer.data() + prefix.size(), payload.size(), &param);
  api_lock.unlock();
  std::unique_lock lock(mutex_);
  if (request == nullptr || UCS_PTR_IS_ERR(request)) {
    endpoint.sending_bytes -= bytes;
    operations_.erase(operation);
    if (UCS_PTR_IS_ERR(request)) throw fail(status_text(UCS_PTR_STATUS(request)));
    return;
  }
  if (operation->done) {
    operations_.erase(operation);
  } else {
    operation->abandoned = true;  // its callback settles the accounting and frees it
  }
  wake();
  // Like a socket buffer: return once what is still in flight fits the window (a large
  // rendezvous frame completes only when the receiver fetches it).
  const size_t window = std::max(options_.max_queued_bytes, bytes);
  const bool fits = endpoint.signal.wait_until(lock, deadline_after(options_.io_timeout), [&] {
    return endpoint.sending_bytes <= window || !endpoint.closed.empty();
  });
  if (!endpoint.closed.empty()) throw fail(endpoint.closed);
  if (!fits) {
    endpoint.closed = str_cat("no progress within ", options_.io_timeout.count(), " ms");
    endpoint.signal.notify_all();
    throw fail(endpoint.closed);
  }
}

Frame UcxWorker::receive(UcxEndpoint& endpoint, Milliseconds timeout, uint32_t payload_limit,
                         FrameTag& tag) {
  const auto fail = [&](const std::string& why) -> Error {
    return Error(str_cat("receiving from ", endpoint.peer, ": ", why));
  };
  UcxIncoming item;
  {
    std::unique_lock lock(mutex_);
    endpoint.signal.wait_for(lock, timeout,
                             [&] { return !endpoint.queue.empty() || !endpoint.closed.empty(); });
    // Frames that arrived before the end are still delivered, as on a byte stream.
    if (endpoint.queue.empty()) {
      throw fail(endpoint.closed.empty() ? str_cat("no message within ", timeout.count(), " ms")
                                         : endpoint.closed);
    }
    item = std::move(endpoint.queue.front());
    endpoint.queue.pop_front();
    endpoint.queued_bytes -= item.payload.size();
  }
  const FrameHeader& header = item.header;
  if (header.payload_length > payload_limit) {
    if (item.rendezvous != nullptr) ucp_am_data_release(worker_, item.rendezvous);
    const std::string why =
        str_cat("bad frame: ", type_name(header.type), " payload of ", header.payload_length,
                " bytes exceeds the limit of ", payload_limit);
    mark_closed(endpoint, why);
    throw fail(why);
  }
  tag = item.tag;
  Frame frame{header.type, header.flags, std::move(item.payload)};
  if (item.rendezvous == nullptr) return frame;
  UcxOperation* operation = start_operation();
  operation->buffer.resize(header.payload_length);
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.recv_am = &UcxWorker::on_received;
  param.user_data = operation;
  const ucs_status_ptr_t request = ucp_am_recv_data_nbx(
      worker_, item.rendezvous, operation->buffer.data(), operation->buffer.size(), &param);
  const ucs_status_t status =
      finish(operation, request, deadline_after(options_.io_timeout), &frame.payload);
  if (status != UCS_OK) {
    const std::string why =
        str_cat("fetching a ", header.payload_length, "-byte payload: ", status_text(status));
    mark_closed(endpoint, why);
    throw fail(why);
  }
  return frame;
}

bool UcxWorker::wait_readable(UcxEndpoint& endpoint, Milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return endpoint.signal.wait_for(
      lock, timeout, [&] { return !endpoint.queue.empty() || !endpoint.closed.empty(); });
}

void UcxWorker::wait_connected(UcxEndpoint& endpoint, Milliseconds timeout) {
  UcxOperation* operation = start_operation();
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.send = &UcxWorker::on_complete;
  param.user_data = operation;
  std::unique_lock api_lock(endpoint.api_mutex);
  const ucs_status_ptr_t request = ucp_ep_flush_nbx(endpoint.ep, &param);
  api_lock.unlock();
  const ucs_status_t status = finish(operation, request, deadline_after(timeout));
  std::lock_guard lock(mutex_);
  if (status == UCS_OK && endpoint.closed.empty()) return;
  std::string why = status == UCS_ERR_TIMED_OUT
                        ? str_cat("no answer within ", timeout.count(), " ms")
                        : status_text(status);
  if (!endpoint.closed.empty()) why = endpoint.closed;
  throw Error(str_cat("cannot connect to ", endpoint.peer, " over UCX: ", why));
}

void UcxWorker::close(UcxEndpoint& endpoint, Milliseconds wait) {
  std::deque<UcxIncoming> unread;
  bool force = false;
  std::unique_lock api_lock(endpoint.api_mutex);
  {
    std::lock_guard lock(mutex_);
    if (endpoint.close_started) return;
    endpoint.close_started = true;
    if (endpoint.closed.empty()) endpoint.closed = "connection closed";
    force = endpoint.failed;
    unread = std::move(endpoint.queue);
    endpoint.queued_bytes = 0;
    endpoints_.erase(endpoint.ep);
    closing_.insert(endpoint.ep);
    endpoint.signal.notify_all();
  }
  release(unread);
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.send = &UcxWorker::on_complete;
  if (!force) {
    // What was sent before the end is delivered first, for at most `wait`.
    UcxOperation* flush = start_operation();
    param.user_data = flush;
    const ucs_status_ptr_t flushing = ucp_ep_flush_nbx(endpoint.ep, &param);
    api_lock.unlock();
    (void)finish(flush, flushing, deadline_after(wait));
    api_lock.lock();
  }
  // Then a forced close: it never waits on the peer (whose side learns of it from the
  // connection manager) and cancels whatever is still pending, a timed-out flush
  // included, so the worker can always be destroyed afterwards.
  UcxOperation* operation = start_operation();
  operation->closing = endpoint.ep;
  param.op_attr_mask |= UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = UCP_EP_CLOSE_FLAG_FORCE;
  param.user_data = operation;
  const ucs_status_ptr_t request = ucp_ep_close_nbx(endpoint.ep, &param);
  api_lock.unlock();
  if (request == nullptr || UCS_PTR_IS_ERR(request)) {
    std::lock_guard lock(mutex_);
    closing_.erase(endpoint.ep);
  }
  (void)finish(operation, request, deadline_after(kUcxCloseTimeout));
}

}  // namespace tandem::cluster
