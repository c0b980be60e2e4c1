#pragma once
// Token sampling from one row of logits, in llama.cpp's order: repetition /
// presence / frequency penalties -> top-k -> top-p -> min-p -> temperature -> draw.
// A temperature of 0 (or below) is greedy: the highest logit, lowest id on ties.
// The same seed and inputs give the same tokens on every machine.

#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <vector>

namespace tandem {

struct SamplingParams {
  float temperature = 0.8f;
  int top_k = 40;                   // 0 = all tokens
  float top_p = 0.95f;              // 1 = off
  float min_p = 0.05f;              // 0 = off
  float repetition_penalty = 1.0f;  // 1 = off; divides positive logits, multiplies negative
  float presence_penalty = 0.0f;    // subtracted once from every token seen
  float frequency_penalty = 0.0f;   // subtracted per occurrence
  int penalty_last_n = 64;          // how many recent tokens the penalties look at; -1 = all
  uint64_t seed = 0;
};

// Small, portable, well-mixed generator (SplitMix64): the same stream everywhere.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform in [0, 1) with 53 bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Picks the next token from `logits` (one row, vocabulary size). Does not record it.
  int32_t sample(std::span<const float> logits);
  // Records a token of the context (prompt or generated) for the penalties.
  void accept(int32_t token);

  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  void apply_penalties(std::vector<Candidate>& candidates) const;

  SamplingParams params_;
  Random random_;
  std::deque<int32_t> recent_;
  std::unordered_map<int32_t, int> recent_counts_;
  std::vector<Candidate> scratch_;
};

}  // namespace tandem
