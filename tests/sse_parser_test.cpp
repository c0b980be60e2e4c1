#include "cli/bench/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tandem::bench {
namespace {

std::vector<SseEvent> parse_in_pieces(const std::string& stream, std::vector<size_t> cuts) {
  SseParser parser;
  std::vector<SseEvent> events;
  size_t from = 0;
  cuts.push_back(stream.size());
  for (size_t cut : cuts) {
    for (auto& e : parser.feed(std::string_view(stream).substr(from, cut - from))) {
      events.push_back(std::move(e));
    }
    from = cut;
  }
  for (auto& e : parser.finish()) events.push_back(std::move(e));
  return events;
}

void expect_same(const std::vector<SseEvent>& got, const std::vector<SseEvent>& want,
                 const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].type, want[i].type) << where << " event " << i;
    EXPECT_EQ(got[i].data, want[i].data) << where << " event " << i;
    EXPECT_EQ(got[i].id, want[i].id) << where << " event " << i;
  }
}

// A stream using every rule: CRLF, LF and CR endings, comments, multi-line data,
// event and id fields, no space after the colon, a field without a colon, an event
// with no data (dropped), an unknown field, and [DONE].
const std::string kStream =
    ": keep-alive\r\n"
    "\r\n"
    "data: {\"a\": 1}\r\n"
    "\r\n"
    "event: update\n"
    "id: 7\n"
    "data:first\r\n"
    "data:  second\r\n"
    "\r\n"
    "retry: 100\r"
    "event: nothing\r"
    "\r"
    "data\r\n"
    "\r\n"
    "unknown: x\n"
    "data: caf\xC3\xA9\n"
    "\n"
    "data: [DONE]\n"
    "\n";

std::vector<SseEvent> expected_events() {
  return {{"message", "{\"a\": 1}", ""},
          {"update", "first\n second", "7"},
          {"message", "", "7"},
          {"message", "caf\xC3\xA9", "7"},
          {"message", "[DONE]", "7"}};
}

TEST(SseParser, WholeStream) {
  expect_same(parse_in_pieces(kStream, {}), expected_events(), "whole");
}

TEST(SseParser, SplitAtEveryByte) {
  for (size_t cut = 0; cut <= kStream.size(); ++cut) {
    expect_same(parse_in_pieces(kStream, {cut}), expected_events(), "cut " + std::to_string(cut));
  }
}

TEST(SseParser, SplitAtEveryPairOfBytes) {
  for (size_t a = 0; a <= kStream.size(); ++a) {
    for (size_t b = a; b <= kStream.size(); ++b) {
      expect_same(parse_in_pieces(kStream, {a, b}), expected_events(),
                  "cuts " + std::to_string(a) + "," + std::to_string(b));
      if (HasFailure()) return;
    }
  }
}

TEST(SseParser, OneByteAtATime) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < kStream.size(); ++i) cuts.push_back(i);
  expect_same(parse_in_pieces(kStream, cuts), expected_events(), "bytewise");
}

TEST(SseParser, StripsByteOrderMarkEvenWhenSplit) {
  const std::string stream =
      "\xEF\xBB\xBF"
      "data: x\n\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    const auto events = parse_in_pieces(stream, {cut});
    ASSERT_EQ(events.size(), 1u) << cut;
    EXPECT_EQ(events[0].data, "x") << cut;
  }
}

TEST(SseParser, FinishDeliversAnUnterminatedLastEvent) {
  SseParser parser;
  EXPECT_TRUE(parser.feed("data: [DONE]").empty());
  const auto events = parser.finish();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "[DONE]");
  EXPECT_TRUE(parser.finish().empty());
}

TEST(SseParser, CrThenLfInTheNextPieceIsOneLineEnd) {
  SseParser parser;
  EXPECT_TRUE(parser.feed("data: a\r").empty());
  // Had the LF counted as a second line end, this would dispatch the event now.
  EXPECT_TRUE(parser.feed("\n").empty());
  const auto events = parser.feed("\r\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a");
}

}  // namespace
}  // namespace tandem::bench
