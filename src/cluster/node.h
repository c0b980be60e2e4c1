#pragma once
// A cluster node: listens for authenticated peers, answers info / ping / bandwidth /
// link-measure requests, keeps the membership table current by heartbeats, joins
// through a known peer (--join) or a discovery beacon, reports membership changes, and
// runs pipeline stages for coordinators (stage_host.h).
//
// Threads: one accepting connections, one per incoming connection, one heartbeat
// (which also sends beacons) and, with discovery on, one reading beacons.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/auth.h"
#include "cluster/link.h"
#include "cluster/membership.h"
#include "cluster/node_info.h"
#include "cluster/stage_host.h"
#include "cluster/transport.h"

namespace tandem::cluster {

struct NodeOptions {
  std::string name;                 // default: the host name
  HostPort listen{"127.0.0.1", 0};  // port 0: any free port
  std::optional<HostPort> join;     // a member to join through
  std::string cache_dir = ".";      // whose free disk space is reported
  // Where model-file queries look (empty: cache_dir) and where a stage looks for its
  // copy of the model by file name (empty: at the coordinator's path).
  std::string models_dir;
  std::string tandem_version = "dev";
  Milliseconds heartbeat{1000};        // how often each peer is contacted
  Milliseconds failure_timeout{5000};  // silence after which a peer is removed
  Milliseconds handshake_timeout{5000};
  Milliseconds idle_timeout{120'000};  // incoming connections silent this long are closed
  // Discovery: listen for UDP beacons here, and send ours to these addresses.
  std::optional<HostPort> discovery_listen;
  std::vector<HostPort> beacon_targets;
};

// One line for the operator: "member joined: ...", "member left: ...", "refused ...".
using EventSink = std::function<void(const std::string&)>;

class Node {
 public:
  Node(NodeOptions options, Secret secret, std::unique_ptr<Transport> transport, EventSink events);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Listens, measures this machine, joins (throws Error when the join peer cannot be
  // reached or refuses us) and starts the threads.
  void start();
  // Stops every thread and closes every connection; idempotent.
  void stop();

  const std::string& node_id() const { return node_id_; }
  HostPort address() const;
  std::vector<Member> members() const { return table_->members(); }
  NodeInfo info() const;

 private:
  struct Session {
    std::unique_ptr<Connection> connection;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void accept_loop();
  void serve(Session& session);
  void handle(Connection& connection, const std::string& peer_id, const Frame& frame);
  LinkReport measure_to(const std::string& target, const LinkOptions& options);
  ModelFileReport look_up_model(const ModelFileRequest& request) const;
  void heartbeat_loop();
  void heartbeat_peer(const Member& peer);
  void discovery_loop();
  // Connects to `address`, authenticates, announces us, and merges the answer.
  void join_through(const HostPort& address);
  void merge(const std::vector<Member>& members, const std::string& direct_id);
  void emit(const std::string& line) const;
  void reap_sessions(bool all);
  std::unique_ptr<Connection> connect_authenticated(const HostPort& address, Milliseconds timeout,
                                                    std::string* peer_id);

  NodeOptions options_;
  Secret secret_;
  std::unique_ptr<Transport> transport_;
  EventSink events_;
  std::string node_id_;
  std::unique_ptr<Listener> listener_;
  std::string advertised_;
  std::unique_ptr<MembershipTable> table_;
  double matmul_gflops_ = 0;
  std::unique_ptr<StageHost> stages_;

  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::thread accept_thread_;
  std::thread heartbeat_thread_;
  std::thread discovery_thread_;
  Socket discovery_socket_;
  std::mutex sessions_mutex_;
  std::list<std::unique_ptr<Session>> sessions_;
  // Heartbeat connections, owned by the heartbeat thread only.
  std::map<std::string, std::unique_ptr<Connection>> outgoing_;
  bool started_ = false;
};

// "name-1a2b3c4d": the name plus 32 random bits, so restarted processes differ.
std::string make_node_id(const std::string& name);

}  // namespace tandem::cluster
