#pragma once
// What the serving engine needs from whatever executes step plans: the model on this
// machine, or a pipeline of stages across a cluster. A runner may accept several
// plans before returning results (pipelining); results come back in launch order.

#include <cstddef>
#include <string>

#include "serving/step_plan.h"

namespace tandem {

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  // How many plans may be launched before the oldest result is collected.
  virtual size_t max_steps_in_flight() const { return 1; }
  // Starts a plan. Throws tandem::Error when the runner cannot run it.
  virtual void launch(const StepPlan& plan) = 0;
  // Waits for the oldest launched plan and returns its sampled tokens.
  virtual StepResult collect() = 0;
  // Called after launch() or collect() threw `why`. Every step in flight is dropped;
  // a runner that can rebuild itself (a pipeline re-planned over the nodes still alive)
  // does so and returns true: it then runs again, with every cache empty, and the caller
  // recomputes its requests from their tokens. False: it cannot run now.
  virtual bool recover(const std::string& why) {
    (void)why;
    return false;
  }
  // Why the runner cannot run now, "" while it can (for /health). Thread-safe.
  virtual std::string unavailable() const { return {}; }
};

}  // namespace tandem
