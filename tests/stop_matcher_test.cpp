#include "serving/stop_matcher.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

std::pair<std::string, bool> run(const std::vector<std::string>& stops, const std::string& text,
                                 size_t step) {
  StopMatcher matcher(stops);
  std::string out;
  for (size_t i = 0; i < text.size(); i += step) {
    auto r = matcher.feed(text.substr(i, step));
    out += r.text;
    if (r.stopped) return {out, true};
  }
  return {out + matcher.finish(), false};
}

TEST(StopMatcher, CutsAtTheFirstStopAtAnyChunking) {
  for (size_t step = 1; step < 12; ++step) {
    auto [text, stopped] = run({"END", "\n\n"}, "hello wor\n\nld END", step);
    EXPECT_TRUE(stopped);
    EXPECT_EQ(text, "hello wor") << step;
  }
}

TEST(StopMatcher, ReleasesTextThatIsNotAStop) {
  StopMatcher matcher({"STOP"});
  EXPECT_EQ(matcher.feed("abc ST").text, "abc ");  // "ST" may begin STOP
  EXPECT_EQ(matcher.feed("AR").text, "STAR");
  auto [text, stopped] = run({"STOP"}, "no stop here, ST", 3);
  EXPECT_FALSE(stopped);
  EXPECT_EQ(text, "no stop here, ST");
  EXPECT_EQ(run({}, "plain", 2).first, "plain");
}

}  // namespace
}  // namespace tandem
