#pragma once
// The node side of the pipeline-stage protocol (stage_wire.h). A node's connection
// threads hand two kinds of sessions here:
//
//  - a coordinator's LoadStage: this thread loads the stage, then runs its steps in
//    order until the coordinator disconnects (serve_coordinator);
//  - a previous stage's StageConnect: this thread receives that stage's Activations
//    into the stage's inbox (serve_upstream), so the compute thread never waits on a
//    socket it does not own and the sender never blocks on a busy receiver.
//
// Every wait has a timeout or ends when the node stops; any failure is reported to the
// coordinator as an ErrorMessage(kStageFailed) and closes the stage's links, so the
// neighbours fail fast too.

#include <atomic>
#include <compare>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cluster/shard_cache.h"
#include "cluster/stage_wire.h"
#include "cluster/transport.h"

namespace tandem::cluster {

class StageHost {
 public:
  // Opens an authenticated connection to another node (the next stage).
  using Connector = std::function<std::unique_ptr<Connection>(const HostPort&, Milliseconds)>;
  using EventSink = std::function<void(const std::string&)>;

  // `places`: where the node looks for its copy of the model and caches shards.
  StageHost(Connector connect, EventSink events, const std::atomic<bool>& stopping,
            Milliseconds io_timeout, ShardPlaces places);

  void serve_coordinator(Connection& coordinator, const Frame& load_stage);
  void serve_upstream(Connection& upstream, const Frame& stage_connect);

 private:
  struct Inbox {
    std::mutex mutex;
    std::condition_variable arrived;
    std::deque<Activations> queue;
    std::string closed;       // why the upstream link ended; empty while open
    bool stage_done = false;  // the stage ended: its upstream link may close
  };
  struct StageKey {
    uint64_t pipeline_id = 0;
    uint32_t stage_index = 0;
    auto operator<=>(const StageKey&) const = default;
  };
  Activations wait_activations(Inbox& inbox, uint64_t step_id, Milliseconds timeout) const;
  void emit(const std::string& line) const;

  Connector connect_;
  EventSink events_;
  const std::atomic<bool>& stopping_;
  Milliseconds io_timeout_;
  ShardPlaces places_;
  std::mutex stages_mutex_;
  std::map<StageKey, std::weak_ptr<Inbox>> inboxes_;
};

}  // namespace tandem::cluster
