#pragma once
// Splits generated text, as it streams, into what the OpenAI API returns apart:
// reasoning (<think> ... </think>), content, and tool calls
// (<tool_call>{"name": ..., "arguments": {...}}</tool_call>, Qwen's format).
// Text that might be the start of a tag is held back until it is known not to be.

#include <string>
#include <string_view>
#include <vector>

namespace tandem {

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // JSON text of the arguments object
};

struct ParsedDelta {
  std::string content;
  std::string reasoning;
  std::vector<ParsedToolCall> tool_calls;
  bool empty() const { return content.empty() && reasoning.empty() && tool_calls.empty(); }
};

struct OutputParserOptions {
  bool parse_reasoning = true;
  bool starts_in_reasoning = false;  // the prompt already opened <think>
  bool parse_tool_calls = true;
};

class OutputParser {
 public:
  explicit OutputParser(const OutputParserOptions& options);
  // Feeds newly generated text; returns what can be released now.
  ParsedDelta feed(std::string_view text);
  // End of generation: releases everything held back (an unclosed tool call as content).
  ParsedDelta finish();

 private:
  enum class Mode { kContent, kReasoning, kToolCall };
  void emit(ParsedDelta& out, std::string_view text);
  ParsedToolCall parse_tool_call(const std::string& body) const;
  // A tool call that did not parse goes back to the content as the model wrote it.
  std::string str_tool_text() const { return "<tool_call>" + tool_body_ + "</tool_call>"; }

  OutputParserOptions options_;
  Mode mode_;
  std::string pending_;         // text not yet released
  std::string tool_body_;       // inside <tool_call> ... </tool_call>
  bool skip_newlines_ = false;  // after </think>: the blank lines before the answer
};

}  // namespace tandem
