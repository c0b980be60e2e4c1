#pragma once
// The UCX worker behind UcxTransport (ucx_transport.h): one ucp context and worker in
// UCS_THREAD_MODE_MULTI, progressed by one thread that sleeps on the worker's event fd
// and an eventfd of ours (so posting threads can wake it). Everything a caller waits for
// (a frame, a send window, a flush, a close) is a predicate under `mutex_`, on the
// endpoint's own condition variable or on `changed_` (operations, closes, listeners),
// which UCX callbacks update; no UCX call is made while `mutex_` is held, so the UCX
// worker lock and ours never nest the other way round.

#include <ucp/api/ucp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/ucx_transport.h"

namespace tandem::cluster {

inline constexpr Milliseconds kUcxCloseTimeout{2000};
// shutdown() is called to wake other threads: it waits less for what was sent to arrive.
inline constexpr Milliseconds kUcxShutdownFlushTimeout{300};

struct UcxEndpoint;

struct UcxOperation {
  UcxWorker* owner = nullptr;
  // Sends are not waited for one by one: their callback settles the endpoint's
  // accounting. Closes name the endpoint handle that is gone once they complete.
  std::shared_ptr<UcxEndpoint> send_endpoint;
  ucp_ep_h closing = nullptr;
  bool done = false;
  bool abandoned = false;
  ucs_status_t status = UCS_OK;
  std::vector<uint8_t> buffer;
};

struct UcxIncoming {
  FrameHeader header;
  FrameTag tag;                  // with kFlagAuthenticated
  std::vector<uint8_t> payload;  // eager data
  void* rendezvous = nullptr;    // UCX data descriptor still to fetch, or null
};

struct UcxEndpoint {
  ucp_ep_h ep = nullptr;
  std::string peer;
  std::deque<UcxIncoming> queue;  // guarded by the worker's mutex
  size_t queued_bytes = 0;
  std::string closed;   // why the connection ended; empty while open
  bool failed = false;  // UCX reported an error: only a forced close is possible
  bool close_started = false;
  size_t sending_bytes = 0;  // posted sends not yet completed
  // Held while a UCX call uses `ep`, so a close from another thread never races it.
  std::mutex api_mutex;
  // Wakes only the threads waiting on this endpoint (frames, its end, its send window);
  // guarded like the fields above by the worker's mutex.
  std::condition_variable signal;
};

class UcxWorker {
 public:
  explicit UcxWorker(const UcxOptions& options);
  ~UcxWorker();
  UcxWorker(const UcxWorker&) = delete;
  UcxWorker& operator=(const UcxWorker&) = delete;

  const UcxOptions& options() const { return options_; }
  ucp_worker_h handle() const { return worker_; }
  std::string transports() const;

  std::shared_ptr<UcxEndpoint> create_endpoint(ucp_ep_params_t params, const std::string& peer);
  // `prefix`: the encoded header and FrameTag (Connection::send_frame).
  void send(UcxEndpoint& endpoint, MessageType type, std::span<const uint8_t> prefix,
            std::span<const uint8_t> payload);
  Frame receive(UcxEndpoint& endpoint, Milliseconds timeout, uint32_t payload_limit, FrameTag& tag);
  bool wait_readable(UcxEndpoint& endpoint, Milliseconds timeout);
  // Waits until the endpoint is connected (a flush completes) within `timeout`.
  void wait_connected(UcxEndpoint& endpoint, Milliseconds timeout);
  void mark_closed(UcxEndpoint& endpoint, const std::string& why);
  // Closes the UCX endpoint once (flushing what was sent), waiting at most `wait`.
  void close(UcxEndpoint& endpoint, Milliseconds wait);

  void wake() const;

  // Listener support: connection requests land in `queue`, guarded by mutex().
  std::mutex& mutex() { return mutex_; }
  std::condition_variable& changed() { return changed_; }

 private:
  static ucs_status_t on_frame(void* arg, const void* header, size_t header_length, void* data,
                               size_t length, const ucp_am_recv_param_t* param);
  static void on_endpoint_error(void* arg, ucp_ep_h ep, ucs_status_t status);
  static void on_complete(void* request, ucs_status_t status, void* user_data);
  static void on_received(void* request, ucs_status_t status, size_t length, void* user_data);

  UcxOperation* start_operation();
  // Takes the result of a UCX call; waits for it until `deadline`. Returns the status,
  // or UCS_ERR_TIMED_OUT (the operation is then abandoned to its callback).
  ucs_status_t finish(UcxOperation* operation, ucs_status_ptr_t request, Deadline deadline,
                      std::vector<uint8_t>* result = nullptr);
  void release(std::deque<UcxIncoming>& queue);
  void progress_loop();

  UcxOptions options_;
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  int event_fd_ = -1;  // the worker's, not ours to close
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread progress_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<ucp_ep_h, std::shared_ptr<UcxEndpoint>> endpoints_;
  // What arrived for an endpoint handle before ucp_ep_create returned it to us.
  std::map<ucp_ep_h, UcxEndpoint> unclaimed_;
  // Handles being closed: whatever still arrives for them is dropped.
  std::set<ucp_ep_h> closing_;
  std::map<UcxOperation*, std::unique_ptr<UcxOperation>> operations_;
};

}  // namespace tandem::cluster
