#pragma once
// Token sampling from one row of logits, in llama.cpp's order: repetition /
// presence / frequency penalties -> top-k -> top-p -> min-p -> temperature -> draw.
// A temperature of 0 (or below) is greedy: the highest logit, lowest id on ties.
// The same seed and inputs give the same tokens on every machine. Each draw is a pure
// function of (seed, index), not of earlier draws, so a request resumed on another
// machine (a pipeline rebuilt after a node died) draws exactly what it would have.

#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <utility>
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
  // Added to the logits of these tokens after the penalties (OpenAI's logit_bias);
  // -infinity bans a token. Sorted by id, one entry per id.
  std::vector<std::pair<int32_t, float>> logit_bias;
};

// A token and its (adjusted) logit.
struct TokenLogit {
  int32_t id;
  float logit;
};

// The k best entries of `logits` (higher logit first, lower id first on ties; k <= size),
// sorted, into `out`: the first k of sorting every (id, logit) pair, found in one scan that
// skips each block of 16 logits none of which beats the k-th best so far.
void select_top_k(std::span<const float> logits, size_t k, std::vector<TokenLogit>& out);

// Small, portable, well-mixed generator (SplitMix64): the same stream everywhere.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform in [0, 1) with 53 bits.
  double uniform() { return to_unit(next()); }
  // The value of uniform() after `index` earlier calls on Random(seed), without them.
  static double uniform_at(uint64_t seed, uint64_t index);

 private:
  static uint64_t mix(uint64_t z);
  static double to_unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }
  uint64_t state_;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Picks a token from `logits` (one row, vocabulary size) with draw number
  // `draw_index`; runners pass the position the token will take in its sequence, which
  // survives a rebuilt pipeline. Does not record the token.
  int32_t sample(std::span<const float> logits, uint64_t draw_index);
  // The same with draws numbered 0, 1, 2, ... by this sampler.
  int32_t sample(std::span<const float> logits) { return sample(logits, draws_++); }
  // Records a token of the context (prompt or generated) for the penalties.
  void accept(int32_t token);

  const SamplingParams& params() const { return params_; }

 private:
  void apply_penalties(std::span<float> logits) const;
  void apply_logit_bias(std::span<float> logits) const;

  SamplingParams params_;
  uint64_t draws_ = 0;
  std::deque<int32_t> recent_;
  std::unordered_map<int32_t, int> recent_counts_;
  std::vector<float> adjusted_;  // the row's logits after penalties and bias
  std::vector<TokenLogit> candidates_;
};

}  // namespace tandem
