#include "serving/output_parser.h"

#include <nlohmann/json.hpp>

namespace tandem {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kToolOpen = "<tool_call>";
constexpr std::string_view kToolClose = "</tool_call>";

// Length of the longest suffix of `text` that is a proper prefix of `tag`.
size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  for (size_t length = std::min(text.size(), tag.size() - 1); length > 0; --length) {
    if (text.substr(text.size() - length) == tag.substr(0, length)) return length;
  }
  return 0;
}

}  // namespace

OutputParser::OutputParser(const OutputParserOptions& options)
    : options_(options),
      mode_(options.parse_reasoning && options.starts_in_reasoning ? Mode::kReasoning
                                                                   : Mode::kContent) {}

void OutputParser::emit(ParsedDelta& out, std::string_view text) {
  if (skip_newlines_ && mode_ == Mode::kContent) {
    const size_t start = text.find_first_not_of('\n');
    text = start == std::string_view::npos ? std::string_view() : text.substr(start);
    if (!text.empty()) skip_newlines_ = false;
  }
  if (text.empty()) return;
  if (mode_ == Mode::kReasoning) {
    out.reasoning += text;
  } else {
    out.content += text;
  }
}

ParsedToolCall OutputParser::parse_tool_call(const std::string& body) const {
  ParsedToolCall call;
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_object() && json.contains("name") && json["name"].is_string()) {
    call.name = json["name"].get<std::string>();
    const auto arguments =
        json.contains("arguments") ? json["arguments"] : nlohmann::json::object();
    call.arguments = arguments.is_string() ? arguments.get<std::string>() : arguments.dump();
  }
  return call;
}

ParsedDelta OutputParser::feed(std::string_view text) {
  ParsedDelta out;
  pending_ += text;
  while (!pending_.empty()) {
    if (mode_ == Mode::kToolCall) {
      const size_t close = pending_.find(kToolClose);
      if (close == std::string::npos) {
        const size_t keep = partial_tag_suffix(pending_, kToolClose);
        tool_body_ += pending_.substr(0, pending_.size() - keep);
        pending_.erase(0, pending_.size() - keep);
        break;
      }
      tool_body_ += pending_.substr(0, close);
      pending_.erase(0, close + kToolClose.size());
      ParsedToolCall call = parse_tool_call(tool_body_);
      if (call.name.empty()) {
        out.content += str_tool_text();
      } else {
        out.tool_calls.push_back(std::move(call));
      }
      tool_body_.clear();
      mode_ = Mode::kContent;
      continue;
    }
    // Content or reasoning: look for the tags that change the mode.
    std::vector<std::string_view> tags;
    if (mode_ == Mode::kReasoning) {
      tags.push_back(kThinkClose);
    } else {
      if (options_.parse_reasoning) tags.push_back(kThinkOpen);
      if (options_.parse_tool_calls) tags.push_back(kToolOpen);
    }
    size_t first = std::string::npos;
    std::string_view found;
    for (std::string_view tag : tags) {
      const size_t at = pending_.find(tag);
      if (at < first) {
        first = at;
        found = tag;
      }
    }
    if (first == std::string::npos) {
      size_t keep = 0;
      for (std::string_view tag : tags) keep = std::max(keep, partial_tag_suffix(pending_, tag));
      emit(out, std::string_view(pending_).substr(0, pending_.size() - keep));
      pending_.erase(0, pending_.size() - keep);
      break;
    }
    emit(out, std::string_view(pending_).substr(0, first));
    pending_.erase(0, first + found.size());
    if (found == kThinkOpen) {
      mode_ = Mode::kReasoning;
    } else if (found == kThinkClose) {
      mode_ = Mode::kContent;
      skip_newlines_ = true;  // the template puts blank lines after </think>
    } else {
      mode_ = Mode::kToolCall;
    }
  }
  return out;
}

ParsedDelta OutputParser::finish() {
  ParsedDelta out;
  if (mode_ == Mode::kToolCall) {
    out.content += "<tool_call>" + tool_body_ + pending_;
    tool_body_.clear();
  } else {
    emit(out, pending_);
  }
  pending_.clear();
  return out;
}

}  // namespace tandem
