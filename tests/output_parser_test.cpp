#include "serving/output_parser.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

// Feeds `text` in pieces of `step` bytes and gathers everything released.
ParsedDelta run(const std::string& text, size_t step, OutputParserOptions options = {}) {
  OutputParser parser(options);
  ParsedDelta all;
  auto add = [&](const ParsedDelta& d) {
    all.content += d.content;
    all.reasoning += d.reasoning;
    all.tool_calls.insert(all.tool_calls.end(), d.tool_calls.begin(), d.tool_calls.end());
  };
  for (size_t i = 0; i < text.size(); i += step) add(parser.feed(text.substr(i, step)));
  add(parser.finish());
  return all;
}

TEST(OutputParser, SplitsReasoningFromContentAtAnyChunking) {
  const std::string text = "<think>\nLet me see.\n</think>\n\nParis is the capital.";
  for (size_t step = 1; step <= text.size(); ++step) {
    const ParsedDelta d = run(text, step);
    EXPECT_EQ(d.reasoning, "\nLet me see.\n") << step;
    EXPECT_EQ(d.content, "Paris is the capital.") << step;
  }
}

TEST(OutputParser, StartsInReasoningWhenThePromptOpenedIt) {
  OutputParserOptions options;
  options.starts_in_reasoning = true;
  const ParsedDelta d = run("hmm</think>\n\nyes", 3, options);
  EXPECT_EQ(d.reasoning, "hmm");
  EXPECT_EQ(d.content, "yes");
}

TEST(OutputParser, ExtractsToolCalls) {
  const std::string text =
      "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\"}}\n</tool_call>";
  for (size_t step : {1u, 2u, 7u, 100u}) {
    const ParsedDelta d = run(text, step);
    EXPECT_EQ(d.content, "Checking.\n");
    ASSERT_EQ(d.tool_calls.size(), 1u);
    EXPECT_EQ(d.tool_calls[0].name, "get_weather");
    EXPECT_EQ(d.tool_calls[0].arguments, "{\"city\":\"Paris\"}");
  }
}

TEST(OutputParser, KeepsTextThatOnlyLooksLikeATag) {
  EXPECT_EQ(run("a <thin b <tool x", 1).content, "a <thin b <tool x");
  EXPECT_EQ(run("<tool_call>not json</tool_call>", 4).content, "<tool_call>not json</tool_call>");
  EXPECT_EQ(run("<tool_call>{\"name\": \"f\"", 4).content, "<tool_call>{\"name\": \"f\"");
  OutputParserOptions plain;
  plain.parse_reasoning = false;
  plain.parse_tool_calls = false;
  EXPECT_EQ(run("<think>x</think>", 2, plain).content, "<think>x</think>");
}

}  // namespace
}  // namespace tandem
