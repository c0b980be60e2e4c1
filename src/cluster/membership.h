#pragma once
// Who is in the cluster, as one node sees it. Thread-safe. A member is kept while it
// answers; one silent for longer than the failure timeout is removed and remembered
// as departed for a while, so gossip from peers that have not noticed yet does not
// bring it back. Only direct contact from the departed node itself re-admits it.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/wire.h"
#include "platform/socket.h"

namespace tandem::cluster {

class MembershipTable {
 public:
  MembershipTable(Member self, Milliseconds departed_memory);

  // Direct contact (a Join from the node, or our heartbeat answered): adds or refreshes.
  // Returns true when the member is new.
  bool heard_from(const Member& member, Clock::time_point now);
  // Second-hand (a member list from a peer): adds unknown, not-departed members, with
  // `now` as their last contact so they get a full failure timeout to answer.
  bool learn(const Member& member, Clock::time_point now);
  // Removes members silent for longer than `failure_timeout`; returns them.
  std::vector<Member> expire(Clock::time_point now, Milliseconds failure_timeout);

  const Member& self() const { return self_; }
  bool contains(const std::string& node_id) const;
  std::vector<Member> members() const;  // self included, sorted by node id
  std::vector<Member> peers() const;    // self excluded

 private:
  struct Entry {
    Member member;
    Clock::time_point last_contact;
  };
  Member self_;
  Milliseconds departed_memory_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> peers_;
  std::map<std::string, Clock::time_point> departed_;  // node id -> when removed
};

}  // namespace tandem::cluster
