#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/kernels.h"
#include "platform/error.h"

namespace tandem {

namespace {

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;  // SplitMix64's increment

}  // namespace

uint64_t Random::next() { return mix(state_ += kGamma); }

// SplitMix64's state after n + 1 calls is seed + (n + 1) * gamma: any draw is direct.
double Random::uniform_at(uint64_t seed, uint64_t index) {
  return to_unit(mix(seed + (index + 1) * kGamma));
}

uint64_t Random::mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Sampler::Sampler(const SamplingParams& params) : params_(params) {}

void Sampler::accept(int32_t token) {
  recent_.push_back(token);
  ++recent_counts_[token];
  const size_t limit = params_.penalty_last_n < 0 ? std::numeric_limits<size_t>::max()
                                                  : static_cast<size_t>(params_.penalty_last_n);
  while (recent_.size() > limit) {
    auto it = recent_counts_.find(recent_.front());
    if (--it->second == 0) recent_counts_.erase(it);
    recent_.pop_front();
  }
}

void Sampler::apply_penalties(std::span<float> logits) const {
  const bool active = params_.repetition_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                      params_.frequency_penalty != 0.0f;
  if (!active) return;
  for (const auto& [token, count] : recent_counts_) {
    if (token < 0 || static_cast<size_t>(token) >= logits.size()) continue;
    float& logit = logits[static_cast<size_t>(token)];
    if (params_.repetition_penalty != 1.0f) {
      logit = logit > 0 ? logit / params_.repetition_penalty : logit * params_.repetition_penalty;
    }
    logit -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
}

void Sampler::apply_logit_bias(std::span<float> logits) const {
  for (const auto& [token, bias] : params_.logit_bias) {
    if (token < 0 || static_cast<size_t>(token) >= logits.size()) continue;
    logits[static_cast<size_t>(token)] += bias;
  }
}

namespace {

// a before b: the higher logit, the lower id on ties.
bool better(const TokenLogit& a, const TokenLogit& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}  // namespace

void select_top_k(std::span<const float> logits, size_t k, std::vector<TokenLogit>& out) {
  TANDEM_CHECK(k <= logits.size(), "top ", k, " of ", logits.size());
  out.clear();
  if (k == 0) return;
  const size_t n = logits.size();
  size_t i = 0;
  for (; i < k; ++i) out.push_back({static_cast<int32_t>(i), logits[i]});
  // A heap whose front is the worst of the k kept so far. Every kept id is below the one
  // scanned, so a logit equal to the front's loses too.
  std::make_heap(out.begin(), out.end(), better);
  constexpr size_t kBlock = 16;
  while (i < n) {
    if (i % kBlock == 0 && n - i >= kBlock) {
      float block_max = logits[i];
      for (size_t j = 1; j < kBlock; ++j) block_max = std::max(block_max, logits[i + j]);
      if (block_max <= out.front().logit) {
        i += kBlock;
        continue;
      }
    }
    const TokenLogit candidate{static_cast<int32_t>(i), logits[i]};
    if (better(candidate, out.front())) {
      std::pop_heap(out.begin(), out.end(), better);
      out.back() = candidate;
      std::push_heap(out.begin(), out.end(), better);
    }
    ++i;
  }
  std::sort_heap(out.begin(), out.end(), better);
}

int32_t Sampler::sample(std::span<const float> logits, uint64_t draw_index) {
  TANDEM_CHECK(!logits.empty());
  adjusted_.assign(logits.begin(), logits.end());
  apply_penalties(adjusted_);
  apply_logit_bias(adjusted_);

  // Greedy: the first of the highest, the lowest id on ties.
  if (params_.temperature <= 0.0f) return static_cast<int32_t>(argmax(adjusted_));

  // Top-k: keep the k best, sorted. Without top-k, all of them (top-p needs the order).
  size_t keep = adjusted_.size();
  if (params_.top_k > 0) keep = std::min(keep, static_cast<size_t>(params_.top_k));
  std::vector<TokenLogit>& candidates = candidates_;
  select_top_k(adjusted_, keep, candidates);

  // Probabilities at temperature 1 for the top-p and min-p cuts (as llama.cpp does:
  // the cuts come before temperature scaling).
  const float max_logit = candidates.front().logit;
  std::vector<double> probs(candidates.size());
  double total = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    probs[i] = std::exp(static_cast<double>(candidates[i].logit - max_logit));
    total += probs[i];
  }
  if (params_.top_p < 1.0f) {
    double cumulative = 0;
    size_t cut = candidates.size();
    for (size_t i = 0; i < candidates.size(); ++i) {
      cumulative += probs[i] / total;
      if (cumulative >= params_.top_p) {
        cut = i + 1;
        break;
      }
    }
    candidates.resize(cut);
  }
  if (params_.min_p > 0.0f) {
    // probs[0] is the largest; keep tokens with p >= min_p * p_max.
    size_t cut = 1;
    while (cut < candidates.size() && probs[cut] >= params_.min_p * probs[0]) ++cut;
    candidates.resize(cut);
  }

  // Temperature, then draw from the softmax of what is left.
  std::vector<double> weights(candidates.size());
  double sum = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    weights[i] =
        std::exp(static_cast<double>(candidates[i].logit - max_logit) / params_.temperature);
    sum += weights[i];
  }
  double target = Random::uniform_at(params_.seed, draw_index) * sum;
  for (size_t i = 0; i < candidates.size(); ++i) {
    target -= weights[i];
    if (target < 0) return candidates[i].id;
  }
  return candidates.back().id;
}

}  // namespace tandem
