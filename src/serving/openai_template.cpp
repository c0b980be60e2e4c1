// Requests as chat templates read them.

#include "serving/openai_api.h"

namespace tandem {

using nlohmann::ordered_json;

ordered_json template_messages(const std::vector<ChatMessage>& messages) {
  ordered_json out = ordered_json::array();
  for (const ChatMessage& m : messages) {
    ordered_json message = {{"role", m.role}};
    message["content"] = m.content_null ? ordered_json(nullptr) : ordered_json(m.content);
    if (!m.name.empty()) message["name"] = m.name;
    if (!m.reasoning_content.empty()) message["reasoning_content"] = m.reasoning_content;
    if (!m.tool_calls.empty()) {
      ordered_json calls = ordered_json::array();
      for (const ToolCall& call : m.tool_calls) {
        ordered_json arguments = ordered_json::parse(call.arguments, nullptr, false);
        if (!arguments.is_object()) arguments = call.arguments;
        calls.push_back({{"id", call.id},
                         {"type", "function"},
                         {"function", {{"name", call.name}, {"arguments", std::move(arguments)}}}});
      }
      message["tool_calls"] = std::move(calls);
    }
    if (m.role == "tool") message["tool_call_id"] = m.tool_call_id;
    out.push_back(std::move(message));
  }
  return out;
}

ordered_json template_tools(const std::vector<ToolDefinition>& tools) {
  ordered_json out = ordered_json::array();
  for (const ToolDefinition& tool : tools) {
    ordered_json function = {{"name", tool.name}};
    if (!tool.description.empty()) function["description"] = tool.description;
    function["parameters"] = tool.parameters;
    out.push_back({{"type", "function"}, {"function", std::move(function)}});
  }
  return out;
}

}  // namespace tandem
