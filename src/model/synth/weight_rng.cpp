#include "model/synth/weight_rng.h"

#include <cmath>
#include <numbers>

namespace tandem::synth {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

WeightRng::WeightRng(uint64_t seed) {
  for (uint64_t& s : state_) s = splitmix64(seed);
}

uint64_t WeightRng::next() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

double WeightRng::uniform() {
  // 53 random bits, shifted by half a step so 0 and 1 never occur.
  return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53;
}

double WeightRng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double radius = std::sqrt(-2.0 * std::log(uniform()));
  const double angle = 2.0 * std::numbers::pi * uniform();
  spare_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

uint64_t tensor_seed(uint64_t seed, std::string_view name) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a
  for (char ch : name) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 0x100000001b3ull;
  }
  uint64_t mixed = seed ^ hash;
  return splitmix64(mixed);
}

void fill_weights(const WeightInit& init, WeightRng& rng, std::span<float> out) {
  switch (init.kind) {
    case InitKind::kNormal:
      for (float& v : out) v = static_cast<float>(init.scale * rng.normal());
      return;
    case InitKind::kOnePlusNormal:
      for (float& v : out) v = static_cast<float>(1.0 + init.scale * rng.normal());
      return;
    case InitKind::kUniform:
      for (float& v : out)
        v = static_cast<float>(init.low + (init.high - init.low) * rng.uniform());
      return;
  }
}

}  // namespace tandem::synth
