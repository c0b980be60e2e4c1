#pragma once
// Deterministic random weights: the same seed and tensor name give the same values on every
// platform and for any chunking (std::normal_distribution is implementation-defined, so the
// generator and the normal transform are spelled out here).

#include <cstdint>
#include <span>
#include <string_view>

#include "model/synth/synth_spec.h"

namespace tandem::synth {

// xoshiro256** seeded through splitmix64.
class WeightRng {
 public:
  explicit WeightRng(uint64_t seed);
  uint64_t next();
  double uniform();  // in (0, 1)
  double normal();   // N(0, 1), Box-Muller

 private:
  uint64_t state_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

// The seed of one tensor's stream: the model seed mixed with a hash of the name.
uint64_t tensor_seed(uint64_t seed, std::string_view name);

// Fills `out` with the next out.size() values of `init` drawn from `rng`.
void fill_weights(const WeightInit& init, WeightRng& rng, std::span<float> out);

}  // namespace tandem::synth
