#pragma once
// Continuous batching (vLLM v1 style): every step mixes one decode token per running
// request with chunks of prefill of new ones, under a token budget per step and a
// KV-cache budget in blocks. There are no separate prefill and decode phases: a
// request simply has tokens it has not run yet.
//
// Prefill is first come, first served: the oldest unfinished prompt takes what the
// decode tokens leave of the step budget until it is done. With a small budget (64) a
// prompt's prefill spans many steps while the others keep decoding, so prompts that
// arrive together get their first tokens many steps apart, their answers end apart, and
// closed-loop clients stop arriving in lockstep (with one whole prompt per step they
// would stay one step apart and each would wait for the previous one's prefill).
//
// Requests own a sequence slot while admitted. A finished request leaves its tokens
// in the slot, so a later prompt that shares a prefix (a system prompt) reuses them.
// When the KV budget runs out, the newest running request is preempted: its slot is
// freed and it waits again with its prompt plus what it generated, losing nothing.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/sampler.h"
#include "serving/step_plan.h"

namespace tandem {

struct SchedulerConfig {
  int32_t slots = 4;              // sequences that can hold KV at once
  int32_t context_length = 4096;  // most positions one sequence may use
  int32_t kv_block_tokens = 16;   // positions per KV block
  int32_t kv_blocks = 1024;       // KV budget shared by all slots
  int32_t max_step_tokens = 512;  // tokens per step (decode + prefill chunks)
  // Recurrent models (DeltaNet) cannot rewind their state, so a cached slot is reused
  // only when the new prompt extends all of it.
  bool recurrent_state = false;
};

struct RequestSpec {
  uint64_t id = 0;
  std::vector<int32_t> prompt;
  int32_t max_new_tokens = 16;
  std::vector<int32_t> stop_tokens;  // end of generation ids (ignored when ignore_eos)
  SamplingParams sampling;
};

enum class FinishReason { kNone, kStop, kLength, kAborted, kError };

struct RequestUpdate {
  uint64_t id = 0;
  std::optional<int32_t> token;  // newly generated token, if any
  FinishReason finish = FinishReason::kNone;
  std::string error;  // with kError: what went wrong, for the client
};

class Scheduler {
 public:
  explicit Scheduler(const SchedulerConfig& config);

  // Queues a request. Throws tandem::Error when it can never fit (prompt + max_new_tokens
  // over the context, or more blocks than the whole budget).
  void add(RequestSpec spec);
  // Throws the error add() would throw for a request that can never fit. Thread-safe.
  void check_fits(const RequestSpec& spec) const;
  // Ends a request now (client gone). Its slot is freed at once; a result still in
  // flight for it is ignored.
  void abort(uint64_t id);

  // The runner lost every sequence's KV cache and every step in flight (a pipeline node
  // died and the pipeline was rebuilt empty). Every admitted request waits again, in
  // admission order ahead of the queue, as if preempted: it recomputes its prompt plus
  // what it generated and goes on. Cached prefixes are forgotten; returns how many
  // requests were requeued.
  size_t restart_all();

  // Plans the next step from requests that are not waiting for a result, with at most
  // `max_entries` requests (a pipeline splits the requests into groups that way). An
  // empty plan means there is nothing to run now.
  StepPlan schedule(size_t max_entries = SIZE_MAX);
  // Applies a step's sampled tokens; returns one update per request that got a token or finished.
  std::vector<RequestUpdate> update(const StepResult& result);

  size_t waiting() const { return waiting_.size(); }
  size_t running() const { return running_.size(); }
  int32_t free_blocks() const { return config_.kv_blocks - used_blocks_; }
  int32_t cached_prefix_hits() const { return prefix_hits_; }
  int32_t preemptions() const { return preemptions_; }

 private:
  struct Request {
    RequestSpec spec;
    std::vector<int32_t> tokens;  // prompt + generated
    int32_t generated = 0;
    int32_t computed = 0;  // tokens whose KV the slot holds
    int32_t slot = -1;
    int32_t blocks = 0;
    bool in_flight = false;
    bool aborted = false;
  };
  struct Slot {
    std::vector<int32_t> cached;  // tokens whose KV are in this slot (when free)
    std::optional<uint64_t> owner;
    int32_t blocks = 0;  // KV blocks this slot holds, owned or cached
    uint64_t last_used = 0;
  };

  int32_t blocks_for(int32_t positions) const;
  // Makes the slot of `request` hold blocks for `positions`; evicts cached slots and
  // preempts newer requests as needed. False when even that cannot make room.
  bool reserve(Request& request, int32_t positions, StepPlan& plan);
  bool evict_one_cache(StepPlan& plan);
  bool preempt_one_newer_than(uint64_t id);
  std::optional<int32_t> pick_slot(const Request& request, int32_t& reuse) const;
  bool admit(Request& request);
  void release(Request& request);
  void schedule_tokens(Request& request, int32_t count, StepPlan& plan);
  RequestUpdate finish_check(const Request& request, int32_t token) const;

  SchedulerConfig config_;
  std::unordered_map<uint64_t, Request> requests_;
  std::deque<uint64_t> waiting_;
  std::vector<uint64_t> running_;  // admission order
  std::vector<Slot> slots_;
  std::unordered_map<uint64_t, std::vector<uint64_t>> steps_in_flight_;  // step -> requests
  std::vector<uint64_t> finished_;  // ended since the last plan
  int32_t used_blocks_ = 0;
  uint64_t next_step_ = 1;
  uint64_t clock_ = 0;
  int32_t prefix_hits_ = 0;
  int32_t preemptions_ = 0;
};

}  // namespace tandem
