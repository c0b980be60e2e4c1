#pragma once
// What the serving engine needs from whatever executes step plans: the model on this
// machine, or a pipeline of stages across a cluster. A runner may accept several
// plans before returning results (pipelining); results come back in launch order.

#include <cstddef>

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
};

}  // namespace tandem
