#include "model/sampler.h"

#include "ops/kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
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
  EXPECT_EQ(argmax(logits), 1u);
}

// The scan with skipped blocks keeps exactly the first k of a full sort, ties by id
// included: logits from a few values (many ties), rising runs (few skips), a vocabulary
// that is not a whole number of blocks.
TEST(Sampler, SelectTopKEqualsSortingEveryToken) {
  std::mt19937 rng(11);
  for (size_t n : {size_t{1}, size_t{15}, size_t{16}, size_t{1000}, size_t{5003}}) {
    for (int shape = 0; shape < 3; ++shape) {
      std::vector<float> logits(n);
      for (size_t i = 0; i < n; ++i) {
        if (shape == 0) logits[i] = static_cast<float>(rng() % 7);
        if (shape == 1) logits[i] = std::normal_distribution<float>(0.0f, 3.0f)(rng);
        if (shape == 2) logits[i] = static_cast<float>(i % 40) + (i % 97 == 0 ? 100.0f : 0.0f);
      }
      std::vector<TokenLogit> all(n);
      for (size_t i = 0; i < n; ++i) all[i] = {static_cast<int32_t>(i), logits[i]};
      std::sort(all.begin(), all.end(), [](const TokenLogit& a, const TokenLogit& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
      });
      for (size_t k : {size_t{1}, size_t{7}, size_t{40}, n}) {
        if (k > n) continue;
        std::vector<TokenLogit> top;
        select_top_k(logits, k, top);
        ASSERT_EQ(top.size(), k);
        for (size_t i = 0; i < k; ++i) {
          ASSERT_EQ(top[i].id, all[i].id) << "n " << n << " shape " << shape << " k " << k;
          ASSERT_EQ(top[i].logit, all[i].logit);
        }
      }
    }
  }
}

TEST(Sampler, LogitBiasMovesAndBansTokens) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.5f, -2.0f};
  SamplingParams banned = plain(0.0f);
  banned.logit_bias = {{1, -std::numeric_limits<float>::infinity()}};
  EXPECT_EQ(Sampler(banned).sample(logits), 2);
  SamplingParams lifted = plain(0.0f);
  lifted.logit_bias = {{3, 5.5f}, {7, 100.0f}};  // an id past the vocabulary is ignored
  EXPECT_EQ(Sampler(lifted).sample(logits), 3);
  // A banned token is never drawn at any temperature.
  SamplingParams hot = plain(2.0f);
  hot.seed = 5;
  hot.logit_bias = {{0, -std::numeric_limits<float>::infinity()},
                    {1, -std::numeric_limits<float>::infinity()}};
  Sampler sampler(hot);
  for (int i = 0; i < 200; ++i) {
    const int32_t token = sampler.sample(logits);
    EXPECT_TRUE(token == 2 || token == 3) << token;
  }
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i));
  SamplingParams p = plain(1.0f);
  p.seed = 42;
  Sampler a(p), b(p);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.sample(logits), b.sample(logits));
}

TEST(Sampler, EachDrawDependsOnlyOnSeedAndIndex) {
  // A request resumed by a fresh sampler (a rebuilt pipeline stage) draws token i from
  // (seed, i) alone: the same tokens as one sampler that drew all along.
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::cos(0.7f * static_cast<float>(i));
  SamplingParams p = plain(1.0f);
  p.seed = 99;
  Sampler running(p);
  std::vector<int32_t> drawn;
  for (uint64_t i = 0; i < 200; ++i) drawn.push_back(running.sample(logits, 1000 + i));
  for (uint64_t i = 0; i < 200; ++i) EXPECT_EQ(Sampler(p).sample(logits, 1000 + i), drawn[i]);
  // The draws are Random's stream: index i is the (i+1)-th value of Random(seed).
  Random stream(p.seed);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(Random::uniform_at(p.seed, i), stream.uniform());
  // And they vary with the index and the seed.
  std::map<int32_t, int> seen;
  for (int32_t token : drawn) ++seen[token];
  EXPECT_GT(seen.size(), 10u);
  p.seed = 100;
  int same = 0;
  for (uint64_t i = 0; i < 200; ++i) same += Sampler(p).sample(logits, 1000 + i) == drawn[i];
  EXPECT_LT(same, 100);
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
