#pragma once
// The OpenAI HTTP API as plain data: request bodies of POST /v1/chat/completions and
// POST /v1/completions parsed and validated into a CompletionRequest, builders for the
// JSON of responses and of streamed (SSE) chunks, and the one mapping from failures
// to HTTP status codes and OpenAI error bodies:
//
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "top_p",
//              "code": "invalid_value"}}
//
// Nothing here does I/O; the HTTP front end reads bodies, calls these and writes out.

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/sampler.h"
#include "platform/error.h"

namespace tandem {

// ---------------------------------------------------------------- errors

enum class ApiErrorKind {
  kInvalidRequest,  // 400 invalid_request_error
  kAuthentication,  // 401 authentication_error
  kModelNotFound,   // 404 invalid_request_error, code model_not_found
  kNotFound,        // 404 not_found_error (an unknown route)
  kRateLimited,     // 429 rate_limit_error, with Retry-After
  kUnavailable,     // 503 unavailable_error, with Retry-After (queue full, loading)
  kInternal,        // 500 server_error
};

// A failure with everything the OpenAI error body needs. `param` and `code` may be
// empty (written as null).
class ApiError : public Error {
 public:
  ApiError(ApiErrorKind kind, const std::string& message, std::string param = {},
           std::string code = {}, int retry_after_s = 1)
      : Error(message),
        kind_(kind),
        param_(std::move(param)),
        code_(std::move(code)),
        retry_after_s_(retry_after_s) {}

  ApiErrorKind kind() const { return kind_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  int retry_after_s() const { return retry_after_s_; }  // used for 429 and 503 only

 private:
  ApiErrorKind kind_;
  std::string param_;
  std::string code_;
  int retry_after_s_;
};

struct HttpError {
  int status = 500;
  nlohmann::ordered_json body;  // {"error": {"message", "type", "param", "code"}}
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After
};

int http_status(ApiErrorKind kind);
const char* error_type(ApiErrorKind kind);

// The one place failures become HTTP responses: ApiError by its kind; QueueFullError
// (the engine's queue is full) 503 with Retry-After; any other tandem::Error 400 (at
// serving time these come from the request, e.g. a prompt longer than the context);
// anything else 500.
HttpError to_http_error(const std::exception& error);

// Checks an Authorization header ("Bearer KEY") against the server's key; throws
// ApiError kAuthentication when it is missing or wrong. No check when api_key is empty.
// The comparison takes the same time wherever the first difference is.
void check_authorization(std::string_view header, std::string_view api_key);

// ---------------------------------------------------------------- requests

enum class ApiEndpoint { kChatCompletions, kCompletions };

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text of the arguments object
};

struct ChatMessage {
  std::string role;                  // system, developer, user, assistant or tool
  std::string content;               // text parts joined with '\n'
  bool content_null = false;         // an assistant message with only tool calls
  std::string reasoning_content;     // assistant: earlier reasoning, when the client sends it
  std::vector<ToolCall> tool_calls;  // assistant
  std::string tool_call_id;          // tool: the call this answers
  std::string name;                  // optional participant or tool name
};

struct ToolDefinition {
  std::string name;
  std::string description;
  nlohmann::ordered_json parameters = nlohmann::ordered_json::object();  // JSON schema
};

enum class ToolChoice { kAuto, kNone, kRequired, kFunction };

struct CompletionRequest {
  ApiEndpoint endpoint = ApiEndpoint::kChatCompletions;
  std::string model;  // as asked, or the first served model when not given

  std::vector<ChatMessage> messages;   // chat
  std::string prompt;                  // completions, given as text
  std::vector<int32_t> prompt_tokens;  // completions, given as token ids (then prompt is empty)

  std::vector<ToolDefinition> tools;
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_choice_name;  // kFunction: the tool that must be called
  bool parallel_tool_calls = true;

  std::optional<int32_t> max_tokens;  // max_completion_tokens, else max_tokens
  SamplingParams sampling;            // the defaults, overridden by what the body gives
  bool seed_given = false;            // false: the server picks a seed
  std::vector<std::string> stop;
  bool ignore_eos = false;

  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage

  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
  std::optional<bool> enable_thinking;  // chat_template_kwargs.enable_thinking, or
                                        // false for reasoning_effort "none"
  std::string reasoning_effort;         // none, minimal, low, medium, high; empty if not given
  bool separate_reasoning = true;       // false for reasoning_format "none": <think> stays content
};

struct ParseOptions {
  std::vector<std::string> models;  // names served; empty: any name is accepted
  SamplingParams default_sampling;
  size_t max_stop_strings = 16;
};

// Parses and validates a request body. Throws ApiError (kInvalidRequest naming the
// parameter, or kModelNotFound) for anything wrong.
CompletionRequest parse_request(ApiEndpoint endpoint, std::string_view body,
                                const ParseOptions& options);

// The messages and tools as a chat template reads them (the Hugging Face shape):
// content null for tool-call-only messages, tool call arguments as a JSON object when
// they parse as one (templates apply `tojson` to them) and as the text otherwise.
nlohmann::ordered_json template_messages(const std::vector<ChatMessage>& messages);
nlohmann::ordered_json template_tools(const std::vector<ToolDefinition>& tools);

// ---------------------------------------------------------------- responses

enum class ApiFinishReason { kStop, kLength, kToolCalls };
const char* finish_reason_name(ApiFinishReason reason);

// Shared by every response and chunk of one request.
struct ResponseMeta {
  std::string id;       // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct ChatOutput {
  std::string content;
  std::string reasoning;  // becomes message.reasoning_content when not empty
  std::vector<ToolCall> tool_calls;
  ApiFinishReason finish = ApiFinishReason::kStop;
};

// {"id", "object": "chat.completion", "created", "model", "choices": [{"index": 0,
//  "message": {"role": "assistant", "content", ["reasoning_content"], ["tool_calls"]},
//  "logprobs": null, "finish_reason"}], "usage": {...}}. content is null when there are
// tool calls and no text.
nlohmann::ordered_json chat_completion_json(const ResponseMeta& meta, const ChatOutput& output,
                                            const Usage& usage);
// {"id", "object": "text_completion", "created", "model",
//  "choices": [{"index": 0, "text", "logprobs": null, "finish_reason"}], "usage"}.
nlohmann::ordered_json text_completion_json(const ResponseMeta& meta, const std::string& text,
                                            ApiFinishReason finish, const Usage& usage);

struct ChatDelta {
  bool role = false;  // the first chunk carries "role": "assistant"
  std::string content;
  std::string reasoning;
  std::vector<ToolCall> tool_calls;
  int first_tool_index = 0;  // the index of tool_calls[0] among this response's calls
};

// One "chat.completion.chunk". `with_usage_field` (include_usage was asked) adds
// "usage": null, as OpenAI does on every chunk before the usage chunk.
nlohmann::ordered_json chat_chunk_json(const ResponseMeta& meta, const ChatDelta& delta,
                                       std::optional<ApiFinishReason> finish,
                                       bool with_usage_field);
// One streamed "text_completion" chunk.
nlohmann::ordered_json text_chunk_json(const ResponseMeta& meta, const std::string& text,
                                       std::optional<ApiFinishReason> finish,
                                       bool with_usage_field);
// The last chunk when include_usage was asked: "choices": [] and the usage.
nlohmann::ordered_json usage_chunk_json(const ResponseMeta& meta, ApiEndpoint endpoint,
                                        const Usage& usage);
// GET /v1/models.
nlohmann::ordered_json model_list_json(const std::vector<std::string>& models, int64_t created);

nlohmann::ordered_json usage_json(const Usage& usage);
// "data: <json>\n\n" and "data: [DONE]\n\n".
std::string sse_event(const nlohmann::ordered_json& data);
std::string sse_done();

}  // namespace tandem
