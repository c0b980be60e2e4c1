#include "cluster/membership.h"

#include <algorithm>

namespace tandem::cluster {

MembershipTable::MembershipTable(Member self, Milliseconds departed_memory)
    : self_(std::move(self)), departed_memory_(departed_memory) {}

bool MembershipTable::heard_from(const Member& member, Clock::time_point now) {
  if (member.node_id == self_.node_id) return false;
  std::lock_guard lock(mutex_);
  departed_.erase(member.node_id);
  auto [it, added] = peers_.try_emplace(member.node_id, Entry{member, now});
  it->second.member = member;
  it->second.last_contact = now;
  return added;
}

bool MembershipTable::learn(const Member& member, Clock::time_point now) {
  if (member.node_id == self_.node_id || member.node_id.empty()) return false;
  std::lock_guard lock(mutex_);
  const auto departed = departed_.find(member.node_id);
  if (departed != departed_.end()) {
    if (now - departed->second < departed_memory_) return false;
    departed_.erase(departed);
  }
  return peers_.try_emplace(member.node_id, Entry{member, now}).second;
}

std::vector<Member> MembershipTable::expire(Clock::time_point now, Milliseconds failure_timeout) {
  std::lock_guard lock(mutex_);
  std::vector<Member> gone;
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (now - it->second.last_contact > failure_timeout) {
      gone.push_back(it->second.member);
      departed_[it->first] = now;
      it = peers_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

bool MembershipTable::contains(const std::string& node_id) const {
  std::lock_guard lock(mutex_);
  return node_id == self_.node_id || peers_.count(node_id) != 0;
}

std::vector<Member> MembershipTable::members() const {
  std::vector<Member> out = peers();
  out.push_back(self_);
  std::sort(out.begin(), out.end(),
            [](const Member& a, const Member& b) { return a.node_id < b.node_id; });
  return out;
}

std::vector<Member> MembershipTable::peers() const {
  std::lock_guard lock(mutex_);
  std::vector<Member> out;
  for (const auto& [id, entry] : peers_) out.push_back(entry.member);
  return out;
}

}  // namespace tandem::cluster
