// Response and stream-chunk builders of the OpenAI API.

#include <string>

#include "serving/openai_api.h"

namespace tandem {

using nlohmann::ordered_json;

const char* finish_reason_name(ApiFinishReason reason) {
  switch (reason) {
    case ApiFinishReason::kStop:
      return "stop";
    case ApiFinishReason::kLength:
      return "length";
    case ApiFinishReason::kToolCalls:
      return "tool_calls";
  }
  return "stop";
}

namespace {

ordered_json finish_json(std::optional<ApiFinishReason> finish) {
  return finish ? ordered_json(finish_reason_name(*finish)) : ordered_json(nullptr);
}

ordered_json header(const ResponseMeta& meta, const char* object) {
  return {{"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model}};
}

// Tool calls as the API writes them; `first_index` numbers them within the response.
ordered_json tool_calls_json(const std::vector<ToolCall>& calls, int first_index, bool indexed) {
  ordered_json out = ordered_json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    ordered_json call;
    if (indexed) call["index"] = first_index + static_cast<int>(i);
    call["id"] = calls[i].id;
    call["type"] = "function";
    call["function"] = {{"name", calls[i].name}, {"arguments", calls[i].arguments}};
    out.push_back(std::move(call));
  }
  return out;
}

}  // namespace

ordered_json usage_json(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

ordered_json chat_completion_json(const ResponseMeta& meta, const ChatOutput& output,
                                  const Usage& usage) {
  ordered_json message = {{"role", "assistant"}};
  message["content"] = output.content.empty() && !output.tool_calls.empty()
                           ? ordered_json(nullptr)
                           : ordered_json(output.content);
  if (!output.reasoning.empty()) message["reasoning_content"] = output.reasoning;
  if (!output.tool_calls.empty())
    message["tool_calls"] = tool_calls_json(output.tool_calls, 0, false);
  ordered_json out = header(meta, "chat.completion");
  out["choices"] = ordered_json::array({{{"index", 0},
                                         {"message", std::move(message)},
                                         {"logprobs", nullptr},
                                         {"finish_reason", finish_reason_name(output.finish)}}});
  out["usage"] = usage_json(usage);
  return out;
}

ordered_json text_completion_json(const ResponseMeta& meta, const std::string& text,
                                  ApiFinishReason finish, const Usage& usage) {
  ordered_json out = header(meta, "text_completion");
  out["choices"] = ordered_json::array({{{"index", 0},
                                         {"text", text},
                                         {"logprobs", nullptr},
                                         {"finish_reason", finish_reason_name(finish)}}});
  out["usage"] = usage_json(usage);
  return out;
}

ordered_json chat_chunk_json(const ResponseMeta& meta, const ChatDelta& delta,
                             std::optional<ApiFinishReason> finish, bool with_usage_field) {
  ordered_json delta_json = ordered_json::object();
  if (delta.role) delta_json["role"] = "assistant";
  // The first chunk carries "content": "" with the role, as OpenAI sends it.
  if (!delta.content.empty() ||
      (delta.role && delta.reasoning.empty() && delta.tool_calls.empty())) {
    delta_json["content"] = delta.content;
  }
  if (!delta.reasoning.empty()) delta_json["reasoning_content"] = delta.reasoning;
  if (!delta.tool_calls.empty()) {
    delta_json["tool_calls"] = tool_calls_json(delta.tool_calls, delta.first_tool_index, true);
  }
  ordered_json out = header(meta, "chat.completion.chunk");
  out["choices"] = ordered_json::array({{{"index", 0},
                                         {"delta", std::move(delta_json)},
                                         {"logprobs", nullptr},
                                         {"finish_reason", finish_json(finish)}}});
  if (with_usage_field) out["usage"] = nullptr;
  return out;
}

ordered_json text_chunk_json(const ResponseMeta& meta, const std::string& text,
                             std::optional<ApiFinishReason> finish, bool with_usage_field) {
  ordered_json out = header(meta, "text_completion");
  out["choices"] = ordered_json::array({{{"index", 0},
                                         {"text", text},
                                         {"logprobs", nullptr},
                                         {"finish_reason", finish_json(finish)}}});
  if (with_usage_field) out["usage"] = nullptr;
  return out;
}

ordered_json usage_chunk_json(const ResponseMeta& meta, ApiEndpoint endpoint, const Usage& usage) {
  ordered_json out =
      header(meta, endpoint == ApiEndpoint::kChatCompletions ? "chat.completion.chunk"
                                                             : "text_completion");
  out["choices"] = ordered_json::array();
  out["usage"] = usage_json(usage);
  return out;
}

ordered_json model_list_json(const std::vector<std::string>& models, int64_t created) {
  ordered_json data = ordered_json::array();
  for (const std::string& id : models) {
    data.push_back({{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "tandem"}});
  }
  return {{"object", "list"}, {"data", std::move(data)}};
}

std::string sse_event(const ordered_json& data) {
  // Invalid UTF-8 (a token that ends inside a character) becomes U+FFFD instead of
  // failing the whole response.
  return "data: " + data.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n\n";
}

std::string sse_done() { return "data: [DONE]\n\n"; }

}  // namespace tandem
