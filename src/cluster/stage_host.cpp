#include "cluster/stage_host.h"

#include <algorithm>

#include "cluster/stage_compute.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

constexpr Milliseconds kPollSlice{100};
// The coordinator streams one stage's shard at a time: a node may wait for others'.
constexpr Milliseconds kShardChunkTimeout{600'000};

// Best effort: the coordinator may be the party that went away.
void report_failure(Connection& coordinator, const std::string& message) {
  try {
    coordinator.send_message(ErrorMessage{static_cast<uint32_t>(ErrorCode::kStageFailed), message});
  } catch (const Error&) {
  }
}

FloatMatrix to_matrix(const Activations& message) {
  const std::vector<float> values = unpack_activations(message);
  FloatMatrix hidden(message.rows, message.cols);  // [tokens][hidden]
  std::copy(values.begin(), values.end(), hidden.data().begin());
  return hidden;
}

}  // namespace

StageHost::StageHost(Connector connect, EventSink events, const std::atomic<bool>& stopping,
                     Milliseconds io_timeout, ShardPlaces places)
    : connect_(std::move(connect)),
      events_(std::move(events)),
      stopping_(stopping),
      io_timeout_(io_timeout),
      places_(std::move(places)) {}

void StageHost::emit(const std::string& line) const {
  if (events_) events_(line);
}

void StageHost::serve_coordinator(Connection& coordinator, const Frame& load_frame) {
  LoadStage load;
  std::unique_ptr<StageCompute> compute;
  try {
    load = from_frame<LoadStage>(load_frame);
    const std::string path = resolve_stage_file(load, places_, coordinator, kShardChunkTimeout,
                                                [this](const std::string& line) { emit(line); });
    compute = std::make_unique<StageCompute>(load, path);
  } catch (const Error& e) {
    emit(str_cat("stage not loaded: ", e.what()));
    report_failure(coordinator, str_cat("cannot load the stage: ", e.what()));
    return;
  }
  const StageKey key{load.pipeline_id, load.stage_index};
  auto inbox = std::make_shared<Inbox>();
  {
    std::lock_guard lock(stages_mutex_);
    inboxes_[key] = inbox;
  }
  emit(str_cat("stage ", load.stage_index + 1, "/", load.stage_count, " loaded: layers ",
               load.first_layer, "..", load.end_layer, " of ", load.model_path));
  std::unique_ptr<Connection> next;
  std::string ended = "coordinator closed the pipeline";
  try {
    coordinator.send_message(StageReady{load.stage_index, compute->weight_bytes()});
    while (!stopping_) {
      if (!coordinator.wait_readable(kPollSlice)) continue;
      const Frame frame = coordinator.receive(io_timeout_);
      if (frame.type == MessageType::kLinkStage) {
        const auto link = from_frame<LinkStage>(frame);
        next = connect_(parse_host_port(link.next_address), io_timeout_);
        next->send_message(StageConnect{load.pipeline_id, load.stage_index});
        (void)next->receive_message<StageReady>(io_timeout_, kMaxControlPayload);
        coordinator.send_message(StageReady{load.stage_index, compute->weight_bytes()});
        continue;
      }
      const auto step = from_frame<RunStep>(frame);
      const Batch batch = compute->prepare(step);
      FloatMatrix hidden;  // [batch rows][hidden]
      if (load.has_embedding) {
        hidden = compute->embed(batch);
      } else {
        hidden = to_matrix(
            wait_activations(*inbox, step.plan.step_id, Milliseconds(load.step_timeout_ms)));
      }
      compute->run(batch, hidden);
      if (load.has_output) {
        if (step.return_logits) {
          coordinator.send_message(compute->logits(step.plan.step_id, batch, hidden));
        } else {
          coordinator.send_message(compute->sample(step, batch, hidden));
        }
      } else {
        if (!next) throw Error("the coordinator never linked this stage to the next one");
        next->send_message(pack_activations(step.plan.step_id, static_cast<uint32_t>(hidden.rows()),
                                            static_cast<uint32_t>(hidden.cols()), hidden.data(),
                                            load.activation_format));
      }
    }
  } catch (const Error& e) {
    ended = e.what();
    report_failure(coordinator, str_cat("stage ", load.stage_index + 1, "/", load.stage_count,
                                        " failed: ", e.what()));
  }
  if (next) next->shutdown();  // the next stage fails now instead of timing out
  {
    std::lock_guard lock(inbox->mutex);
    inbox->stage_done = true;
  }
  {
    std::lock_guard lock(stages_mutex_);
    inboxes_.erase(key);
  }
  emit(str_cat("stage ", load.stage_index + 1, "/", load.stage_count, " ended: ", ended));
}

void StageHost::serve_upstream(Connection& upstream, const Frame& connect_frame) {
  const auto hello = from_frame<StageConnect>(connect_frame);
  std::shared_ptr<Inbox> inbox;
  {
    std::lock_guard lock(stages_mutex_);
    auto it = inboxes_.find(StageKey{hello.pipeline_id, hello.from_stage + 1});
    if (it != inboxes_.end()) inbox = it->second.lock();
  }
  if (!inbox) {
    upstream.send_message(ErrorMessage{static_cast<uint32_t>(ErrorCode::kStageFailed),
                                       "no such pipeline stage on this node"});
    throw Error(str_cat("stage link for unknown pipeline ", hello.pipeline_id));
  }
  upstream.send_message(StageReady{hello.from_stage + 1, 0});
  std::string why = "the previous stage closed its link";
  try {
    while (!stopping_) {
      if (!upstream.wait_readable(kPollSlice)) {
        std::lock_guard lock(inbox->mutex);
        if (inbox->stage_done) return;
        continue;
      }
      auto activations = upstream.receive_message<Activations>(io_timeout_);
      std::lock_guard lock(inbox->mutex);
      inbox->queue.push_back(std::move(activations));
      inbox->arrived.notify_all();
    }
    why = "the node is stopping";
  } catch (const Error& e) {
    why = str_cat("link from the previous stage failed: ", e.what());
  }
  std::lock_guard lock(inbox->mutex);
  inbox->closed = why;
  inbox->arrived.notify_all();
}

Activations StageHost::wait_activations(Inbox& inbox, uint64_t step_id,
                                        Milliseconds timeout) const {
  const Deadline deadline = deadline_after(timeout);
  std::unique_lock lock(inbox.mutex);
  while (inbox.queue.empty()) {
    if (!inbox.closed.empty()) throw Error(inbox.closed);
    if (stopping_) throw Error("the node is stopping");
    if (Clock::now() >= deadline) {
      throw Error(str_cat("no activations for step ", step_id, " from the previous stage within ",
                          timeout.count(), " ms"));
    }
    inbox.arrived.wait_for(lock, kPollSlice);
  }
  Activations front = std::move(inbox.queue.front());
  inbox.queue.pop_front();
  if (front.step_id != step_id) {
    throw Error(str_cat("activations of step ", front.step_id, " arrived for step ", step_id));
  }
  return front;
}

}  // namespace tandem::cluster
