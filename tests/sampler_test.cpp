#include "model/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace tandem {
namespace {

SamplingParams plain(float temperature) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

TEST(Sampler, GreedyTakesLowestIdOnTies) {
  Sampler sampler(plain(0.0f));
  std::vector<float> logits = {1.0f, 3.0f, 3.0f, -2.0f};
  EXPECT_EQ(sampler.sample(logits), 1);
  EXPECT_EQ(argmax_token(logits), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i));
  SamplingParams p = plain(1.0f);
  p.seed = 42;
  Sampler a(p), b(p);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.sample(logits), b.sample(logits));
}

TEST(Sampler, FrequenciesFollowSoftmax) {
  // Three tokens with probabilities 0.5, 0.3, 0.2 at temperature 1.
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplingParams p = plain(1.0f);
  p.seed = 7;
  Sampler sampler(p);
  std::map<int, int> counts;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) ++counts[sampler.sample(logits)];
  // 4 standard deviations of a binomial with n = 20000.
  EXPECT_NEAR(counts[0] / double(draws), 0.5, 4 * std::sqrt(0.25 / draws));
  EXPECT_NEAR(counts[1] / double(draws), 0.3, 4 * std::sqrt(0.21 / draws));
  EXPECT_NEAR(counts[2] / double(draws), 0.2, 4 * std::sqrt(0.16 / draws));
}

TEST(Sampler, TopKTopPMinPCut) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  for (int i = 0; i < 200; ++i) {
    SamplingParams p = plain(1.0f);
    p.seed = static_cast<uint64_t>(i);
    p.top_k = 2;
    EXPECT_LT(Sampler(p).sample(logits), 2);
    p = plain(1.0f);
    p.seed = static_cast<uint64_t>(i);
    p.top_p = 0.75f;  // 0.5 + 0.3 reaches 0.75: tokens 0 and 1
    EXPECT_LT(Sampler(p).sample(logits), 2);
    p = plain(1.0f);
    p.seed = static_cast<uint64_t>(i);
    p.min_p = 0.5f;  // keeps p >= 0.25: tokens 0 and 1
    EXPECT_LT(Sampler(p).sample(logits), 2);
  }
}

TEST(Sampler, PenaltiesChangeTheChoice) {
  std::vector<float> logits = {2.0f, 1.5f, -1.0f};
  SamplingParams p = plain(0.0f);
  p.repetition_penalty = 2.0f;  // 2.0 -> 1.0 < 1.5
  Sampler repetition(p);
  repetition.accept(0);
  EXPECT_EQ(repetition.sample(logits), 1);

  p = plain(0.0f);
  p.frequency_penalty = 0.3f;  // seen twice: 2.0 - 0.6 = 1.4 < 1.5
  Sampler frequency(p);
  frequency.accept(0);
  EXPECT_EQ(frequency.sample(logits), 0);  // once: 1.7 > 1.5
  frequency.accept(0);
  EXPECT_EQ(frequency.sample(logits), 1);

  p = plain(0.0f);
  p.presence_penalty = 0.6f;
  p.penalty_last_n = 1;  // only the last token counts
  Sampler presence(p);
  presence.accept(0);
  EXPECT_EQ(presence.sample(logits), 1);
  presence.accept(2);  // token 0 leaves the window
  EXPECT_EQ(presence.sample(logits), 0);
}

}  // namespace
}  // namespace tandem
