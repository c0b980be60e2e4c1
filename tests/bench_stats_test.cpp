#include "cli/bench/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cli/bench/synthetic_prompt.h"
#include "platform/error.h"

namespace tandem::bench {
namespace {

// Expected values worked out by hand from h = (n - 1) * p / 100 and linear
// interpolation between x[floor(h)] and x[floor(h) + 1].
TEST(BenchPercentile, InterpolatesBetweenClosestRanks) {
  const std::vector<double> four = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile(four, 50), 2.5);   // h = 1.5
  EXPECT_DOUBLE_EQ(percentile(four, 25), 1.75);  // h = 0.75
  const std::vector<double> five = {10, 20, 30, 40, 50};
  EXPECT_DOUBLE_EQ(percentile(five, 50), 30);    // h = 2 exactly
  EXPECT_DOUBLE_EQ(percentile(five, 95), 48);    // h = 3.8
  EXPECT_DOUBLE_EQ(percentile(five, 99), 49.6);  // h = 3.96
  const std::vector<double> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(percentile(ten, 25), 3.25);  // h = 2.25
  EXPECT_DOUBLE_EQ(percentile(ten, 90), 9.1);   // h = 8.1
}

TEST(BenchPercentile, EndsAreMinimumAndMaximum) {
  const std::vector<double> values = {7, -3, 12, 0.5};
  EXPECT_DOUBLE_EQ(percentile(values, 0), -3);
  EXPECT_DOUBLE_EQ(percentile(values, 100), 12);
}

TEST(BenchPercentile, SortsItsInput) {
  const std::vector<double> values = {30, 10, 20};
  EXPECT_DOUBLE_EQ(percentile(values, 50), 20);
  EXPECT_DOUBLE_EQ(percentile(values, 75), 25);  // h = 1.5 over {10, 20, 30}
}

TEST(BenchPercentile, SingleSampleAndEmpty) {
  const std::vector<double> one = {4.5};
  EXPECT_DOUBLE_EQ(percentile(one, 0), 4.5);
  EXPECT_DOUBLE_EQ(percentile(one, 99), 4.5);
  EXPECT_TRUE(std::isnan(percentile(std::vector<double>{}, 50)));
}

TEST(BenchPercentile, RejectsOutOfRangeP) {
  const std::vector<double> values = {1, 2};
  EXPECT_THROW(percentile(values, -1), Error);
  EXPECT_THROW(percentile(values, 100.5), Error);
  EXPECT_THROW(percentile(values, NAN), Error);
}

TEST(BenchSummary, AllFields) {
  const Summary s = summarize({4, 1, 3, 2});
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 4);
  EXPECT_DOUBLE_EQ(s.p50, 2.5);
  EXPECT_DOUBLE_EQ(s.p95, 3.85);  // h = 2.85
  EXPECT_DOUBLE_EQ(s.p99, 3.97);  // h = 2.97
  const Summary empty = summarize({});
  EXPECT_EQ(empty.count, 0u);
  EXPECT_TRUE(std::isnan(empty.mean));
  EXPECT_TRUE(std::isnan(empty.p99));
}

int count_words(const std::string& text) {
  int words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool letter = c != ' ' && c != '.';
    if (letter && !in_word) ++words;
    in_word = letter;
  }
  return words;
}

TEST(BenchSyntheticPrompt, DeterministicVariedAndSized) {
  EXPECT_EQ(synthetic_prompt(200, 7), synthetic_prompt(200, 7));
  const std::string a = synthetic_prompt(200, 7);
  const std::string b = synthetic_prompt(200, 8);
  EXPECT_NE(a, b);
  // Different from the first word on, so no shared prefix beyond "Text ".
  EXPECT_NE(a.substr(0, 8), b.substr(0, 8));
  for (int n : {16, 128, 1000}) {
    const std::string text = synthetic_prompt(n, 3);
    // Words plus periods approximate the token count.
    int periods = 0;
    for (char c : text) periods += c == '.';
    const int tokens = count_words(text) + periods;
    EXPECT_NEAR(tokens, n, 4 + n / 50) << text;
  }
}

}  // namespace
}  // namespace tandem::bench
