#include "cluster/node.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cluster/model_hash.h"

#include "platform/error.h"

namespace tandem::cluster {
namespace {

constexpr Milliseconds kPollSlice{200};
// Incoming connections served at once; more are closed on arrival. Bounds the threads
// that unauthenticated connections can hold (each for at most the handshake timeout).
constexpr size_t kMaxSessions = 256;

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) return "node";
  return host;
}

std::string describe(const Member& member) {
  return str_cat(member.node_id, " (", member.name, ") at ", member.address);
}

}  // namespace

std::string make_node_id(const std::string& name) {
  uint8_t random[4] = {};
  if (RAND_bytes(random, sizeof(random)) != 1) throw Error("cannot draw random bytes");
  char suffix[9] = {};
  std::snprintf(suffix, sizeof(suffix), "%02x%02x%02x%02x", random[0], random[1], random[2],
                random[3]);
  return name + "-" + suffix;
}

Node::Node(NodeOptions options, Secret secret, std::unique_ptr<Transport> transport,
           EventSink events)
    : options_(std::move(options)),
      secret_(std::move(secret)),
      transport_(std::move(transport)),
      events_(std::move(events)) {
  if (options_.name.empty()) options_.name = host_name();
  node_id_ = make_node_id(options_.name);
}

Node::~Node() { stop(); }

HostPort Node::address() const { return parse_host_port(advertised_); }

void Node::emit(const std::string& line) const {
  if (events_) events_(line);
}

NodeInfo Node::info() const {
  return collect_node_info(
      {node_id_, options_.name, options_.tandem_version, advertised_, options_.cache_dir},
      matmul_gflops_);
}

void Node::start() {
  TANDEM_CHECK(!started_, "a node starts once");
  listener_ = transport_->listen(options_.listen);
  HostPort advertised = listener_->address();
  if (advertised.host == "0.0.0.0") advertised.host = host_name();
  advertised_ = advertised.to_string();
  table_ = std::make_unique<MembershipTable>(Member{node_id_, options_.name, advertised_},
                                             options_.failure_timeout * 3);
  matmul_gflops_ = measure_matmul_gflops(Milliseconds(100));
  stages_ = std::make_unique<StageHost>(
      [this](const HostPort& address, Milliseconds timeout) {
        return connect_authenticated(address, timeout, nullptr);
      },
      [this](const std::string& line) { emit(line); }, stopping_, options_.handshake_timeout,
      ShardPlaces{options_.models_dir, options_.cache_dir});
  if (options_.join) join_through(*options_.join);
  started_ = true;
  accept_thread_ = std::thread([this] { accept_loop(); });
  heartbeat_thread_ = std::thread([this] { heartbeat_loop(); });
  if (options_.discovery_listen) {
    // Bound here so that a busy port is reported by start(), not lost in a thread.
    discovery_socket_ = udp_bind(*options_.discovery_listen, false);
    discovery_thread_ = std::thread([this] {
      try {
        discovery_loop();
      } catch (const Error& e) {
        emit(str_cat("discovery stopped: ", e.what()));
      }
    });
  }
}

void Node::stop() {
  if (!started_ || stopping_.exchange(true)) return;
  {
    std::lock_guard lock(wake_mutex_);
    wake_.notify_all();
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (discovery_thread_.joinable()) discovery_thread_.join();
  reap_sessions(true);
  outgoing_.clear();
}

void Node::reap_sessions(bool all) {
  std::list<std::unique_ptr<Session>> finished;
  {
    std::lock_guard lock(sessions_mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (all || (*it)->done) {
        if (all) (*it)->connection->shutdown();
        finished.push_back(std::move(*it));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& session : finished) session->thread.join();
}

void Node::accept_loop() {
  while (!stopping_) {
    std::unique_ptr<Connection> connection;
    try {
      connection = listener_->accept(kPollSlice);
    } catch (const Error& e) {
      emit(str_cat("accept failed: ", e.what()));
      continue;
    }
    reap_sessions(false);
    if (!connection) continue;
    auto session = std::make_unique<Session>();
    session->connection = std::move(connection);
    Session* raw = session.get();
    std::lock_guard lock(sessions_mutex_);
    if (sessions_.size() >= kMaxSessions) {
      emit(str_cat("refused ", raw->connection->peer(), ": ", kMaxSessions, " connections open"));
      continue;
    }
    sessions_.push_back(std::move(session));
    raw->thread = std::thread([this, raw] {
      serve(*raw);
      raw->done = true;
    });
  }
}

void Node::serve(Session& session) {
  Connection& connection = *session.connection;
  std::string peer_id;
  try {
    peer_id =
        authenticate_server(connection, secret_, node_id_, options_.handshake_timeout).peer_id;
  } catch (const Error& e) {
    // Nothing more is read from a peer that failed: drop it now.
    emit(str_cat("refused ", connection.peer(), ": ", e.what()));
    connection.shutdown();
    return;
  }
  auto idle_since = Clock::now();
  while (!stopping_) {
    try {
      if (!connection.wait_readable(kPollSlice)) {
        if (Clock::now() - idle_since > options_.idle_timeout) break;
        continue;
      }
      const Frame frame = connection.receive(options_.handshake_timeout);
      handle(connection, peer_id, frame);
      idle_since = Clock::now();
    } catch (const Error&) {
      break;  // the peer went away or misbehaved: its connection ends here
    }
  }
  connection.shutdown();
}

void Node::handle(Connection& connection, const std::string& peer_id, const Frame& frame) {
  if (answer_link_probe(connection, frame)) return;
  switch (frame.type) {
    case MessageType::kJoin: {
      const auto join = from_frame<Join>(frame);
      if (join.self.node_id != peer_id) throw Error("join names another node than the peer");
      if (table_->heard_from(join.self, Clock::now())) {
        emit(str_cat("member joined: ", describe(join.self)));
      }
      connection.send_message(Membership{table_->members()});
      return;
    }
    case MessageType::kMembershipRequest:
      (void)from_frame<MembershipRequest>(frame);
      connection.send_message(Membership{table_->members()});
      return;
    case MessageType::kInfoRequest:
      (void)from_frame<InfoRequest>(frame);
      connection.send_message(NodeInfoMessage{info()});
      return;
    case MessageType::kLoadStage:
      // This session becomes the stage's compute thread until the coordinator leaves.
      stages_->serve_coordinator(connection, frame);
      throw Error("pipeline stage ended");
    case MessageType::kStageConnect:
      stages_->serve_upstream(connection, frame);
      throw Error("stage link ended");
    case MessageType::kLinkMeasureRequest: {
      const auto request = from_frame<LinkMeasureRequest>(frame);
      LinkOptions link;
      link.ping_count = std::min<uint32_t>(request.ping_count, 1000);
      link.bulk_bytes = request.bulk_bytes;
      connection.send_message(measure_to(request.target, link));
      return;
    }
    case MessageType::kModelFileRequest:
      connection.send_message(look_up_model(from_frame<ModelFileRequest>(frame)));
      return;
    default:
      connection.send_message(ErrorMessage{static_cast<uint32_t>(ErrorCode::kUnexpectedMessage),
                                           str_cat("unexpected ", type_name(frame.type))});
      throw Error(str_cat("unexpected ", type_name(frame.type), " from ", peer_id));
  }
}

LinkReport Node::measure_to(const std::string& target, const LinkOptions& options) {
  LinkReport report;
  report.from_node = node_id_;
  try {
    std::string peer_id;
    auto connection =
        connect_authenticated(parse_host_port(target), options_.handshake_timeout, &peer_id);
    const LinkReport numbers = measure_link(*connection, options);
    report = numbers;
    report.from_node = node_id_;
    report.to_node = peer_id;
  } catch (const Error& e) {
    report.to_node = target;
    report.error = e.what();
  }
  return report;
}

ModelFileReport Node::look_up_model(const ModelFileRequest& request) const {
  ModelFileReport report;
  const std::string& name = request.file_name;
  // A bare name only: a peer must not make us read (and hash) files elsewhere.
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    report.error = str_cat("not a plain file name: '", name, "'");
    return report;
  }
  const std::string dir = options_.models_dir.empty() ? options_.cache_dir : options_.models_dir;
  report.path = (std::filesystem::path(dir) / name).string();
  std::error_code error;
  if (!std::filesystem::is_regular_file(report.path, error)) return report;
  report.present = true;
  try {
    if (request.want_hash) {
      const FileHash hash = hash_model_file(report.path, options_.cache_dir);
      report.size_bytes = hash.size_bytes;
      report.sha256 = hash.sha256;
      report.hash_seconds = hash.seconds;
    } else {
      report.size_bytes = stamp_file(report.path).size_bytes;
    }
  } catch (const Error& e) {
    report.error = e.what();
  }
  return report;
}

std::unique_ptr<Connection> Node::connect_authenticated(const HostPort& address,
                                                        Milliseconds timeout,
                                                        std::string* peer_id) {
  auto connection = transport_->connect(address, timeout);
  const AuthResult auth = authenticate_client(*connection, secret_, node_id_, timeout);
  if (peer_id != nullptr) *peer_id = auth.peer_id;
  return connection;
}

void Node::merge(const std::vector<Member>& members, const std::string& direct_id) {
  const auto now = Clock::now();
  for (const Member& member : members) {
    const bool added =
        member.node_id == direct_id ? table_->heard_from(member, now) : table_->learn(member, now);
    if (added) emit(str_cat("member joined: ", describe(member)));
  }
}

void Node::join_through(const HostPort& address) {
  std::string peer_id;
  auto connection = connect_authenticated(address, options_.handshake_timeout, &peer_id);
  connection->send_message(Join{table_->self()});
  const auto membership =
      connection->receive_message<Membership>(options_.handshake_timeout, kMaxControlPayload);
  merge(membership.members, peer_id);
}

void Node::heartbeat_peer(const Member& peer) {
  // A stopped or unreachable peer must not hold up the beats of the others for long.
  const Milliseconds timeout = std::min(options_.handshake_timeout, options_.failure_timeout / 2);
  auto& connection = outgoing_[peer.node_id];
  try {
    if (!connection) {
      std::string peer_id;
      connection = connect_authenticated(parse_host_port(peer.address), timeout, &peer_id);
      if (peer_id != peer.node_id) {
        throw Error(str_cat(peer.address, " is now ", peer_id, ", not ", peer.node_id));
      }
    }
    connection->send_message(Join{table_->self()});
    const auto membership = connection->receive_message<Membership>(timeout, kMaxControlPayload);
    merge(membership.members, peer.node_id);
  } catch (const Error&) {
    outgoing_.erase(peer.node_id);  // retried next beat; expiry decides when it is gone
  }
}

void Node::heartbeat_loop() {
  std::optional<Socket> beacon_socket;
  while (!stopping_) {
    for (const Member& peer : table_->peers()) {
      if (stopping_) break;
      heartbeat_peer(peer);
    }
    for (const Member& gone : table_->expire(Clock::now(), options_.failure_timeout)) {
      outgoing_.erase(gone.node_id);
      emit(str_cat("member left: ", describe(gone), ": no answer for ",
                   options_.failure_timeout.count(), " ms"));
    }
    if (!options_.beacon_targets.empty()) {
      try {
        if (!beacon_socket) beacon_socket = udp_bind({"0.0.0.0", 0}, true);
        const auto datagram = encode_frame(to_frame(Beacon{cluster_id(secret_), table_->self()}));
        for (const HostPort& target : options_.beacon_targets) {
          udp_send_to(*beacon_socket, target, datagram);
        }
      } catch (const Error& e) {
        emit(str_cat("beacon not sent: ", e.what()));
      }
    }
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, options_.heartbeat, [this] { return stopping_.load(); });
  }
}

void Node::discovery_loop() {
  const ClusterId own_cluster = cluster_id(secret_);
  std::vector<uint8_t> buffer(kFrameHeaderSize + kMaxControlPayload);
  while (!stopping_) {
    HostPort from;
    const auto size = udp_receive(discovery_socket_, buffer, &from, kPollSlice);
    if (!size) continue;
    Beacon beacon;
    try {
      beacon = from_frame<Beacon>(decode_frame(std::span(buffer).first(*size)));
    } catch (const Error&) {
      continue;  // not ours, or garbage: beacons are unauthenticated hints
    }
    if (beacon.cluster_id != own_cluster || table_->contains(beacon.self.node_id)) continue;
    try {
      join_through(parse_host_port(beacon.self.address));
    } catch (const Error& e) {
      emit(str_cat("discovered ", beacon.self.address, " but could not join: ", e.what()));
    }
  }
}

}  // namespace tandem::cluster
