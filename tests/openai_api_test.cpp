#include "serving/openai_api.h"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "serving/engine_core.h"

namespace tandem {
namespace {

using nlohmann::ordered_json;

const std::string kUserHi = R"("messages": [{"role": "user", "content": "hi"}])";

// The error a body gives, or a test failure when it is accepted.
HttpError rejection(ApiEndpoint endpoint, const std::string& body,
                    const ParseOptions& options = {}) {
  try {
    parse_request(endpoint, body, options);
  } catch (const std::exception& e) {
    return to_http_error(e);
  }
  ADD_FAILURE() << "accepted: " << body;
  return {};
}

struct BadCase {
  std::string body;   // JSON members added to a valid chat request, or a whole body
  std::string param;  // expected "param" ("" for null)
  std::string code;   // expected "code"
};

void expect_rejected(ApiEndpoint endpoint, const BadCase& c, const std::string& body) {
  const HttpError error = rejection(endpoint, body);
  SCOPED_TRACE(body);
  EXPECT_EQ(error.status, 400);
  const auto& e = error.body["error"];
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["param"], c.param.empty() ? ordered_json(nullptr) : ordered_json(c.param));
  EXPECT_EQ(e["code"], c.code);
  EXPECT_TRUE(e["message"].is_string());
  EXPECT_FALSE(e["message"].get<std::string>().empty());
  EXPECT_TRUE(error.headers.empty());
}

TEST(OpenAiParse, RejectsMalformedBodies) {
  for (const BadCase& c :
       std::vector<BadCase>{{"not json", "", "invalid_json"},
                            {"[1, 2]", "", "invalid_json"},
                            {"{\"messages\": [}", "", "invalid_json"},
                            {"{}", "messages", "missing_required_parameter"},
                            {R"({"messages": null})", "messages", "missing_required_parameter"}}) {
    expect_rejected(ApiEndpoint::kChatCompletions, c, c.body);
  }
}

TEST(OpenAiParse, RejectsBadChatParameters) {
  const std::vector<BadCase> cases = {
      // messages
      {R"("messages": "hi")", "messages", "invalid_type"},
      {R"("messages": [])", "messages", "invalid_value"},
      {R"("messages": [1])", "messages[0]", "invalid_type"},
      {R"("messages": [{"content": "x"}])", "messages[0].role", "missing_required_parameter"},
      {R"("messages": [{"role": 3, "content": "x"}])", "messages[0].role", "invalid_type"},
      {R"("messages": [{"role": "robot", "content": "x"}])", "messages[0].role", "invalid_value"},
      {R"("messages": [{"role": "user"}])", "messages[0].content", "missing_required_parameter"},
      {R"("messages": [{"role": "assistant"}])", "messages[0].content",
       "missing_required_parameter"},
      {R"("messages": [{"role": "user", "content": 5}])", "messages[0].content", "invalid_type"},
      {R"("messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}])",
       "messages[0].content[0].type", "unsupported_parameter"},
      {R"("messages": [{"role": "user", "content": [{"type": "text"}]}])",
       "messages[0].content[0].text", "missing_required_parameter"},
      {R"("messages": [{"role": "user", "content": [{"text": "a"}]}])",
       "messages[0].content[0].type", "missing_required_parameter"},
      {R"("messages": [{"role": "user", "content": "a", "name": 1}])", "messages[0].name",
       "invalid_type"},
      {R"("messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "r"}])",
       "messages[1].tool_call_id", "missing_required_parameter"},
      {R"("messages": [{"role": "tool", "content": "r", "tool_call_id": 7}])",
       "messages[0].tool_call_id", "invalid_type"},
      {R"("messages": [{"role": "user", "content": "a", "tool_calls": []}])",
       "messages[0].tool_calls", "invalid_value"},
      {R"("messages": [{"role": "assistant", "tool_calls": {}}])", "messages[0].tool_calls",
       "invalid_type"},
      {R"("messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}])",
       "messages[0].tool_calls[0].function", "missing_required_parameter"},
      {R"("messages": [{"role": "assistant", "tool_calls": [{"type": "code", "function": {"name": "f"}}]}])",
       "messages[0].tool_calls[0].type", "invalid_value"},
      {R"("messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}])",
       "messages[0].tool_calls[0].function.name", "missing_required_parameter"},
      {R"("messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 3}}]}])",
       "messages[0].tool_calls[0].function.arguments", "invalid_type"},
      {R"("messages": [{"role": "user", "content": "a", "reasoning_content": "r"}])",
       "messages[0].reasoning_content", "invalid_value"},
      // tools
      {kUserHi + R"(, "tools": {})", "tools", "invalid_type"},
      {kUserHi + R"(, "tools": [{"type": "code"}])", "tools[0].type", "invalid_value"},
      {kUserHi + R"(, "tools": [{"type": "function"}])", "tools[0].function",
       "missing_required_parameter"},
      {kUserHi + R"(, "tools": [{"type": "function", "function": {}}])", "tools[0].function.name",
       "missing_required_parameter"},
      {kUserHi + R"(, "tools": [{"type": "function", "function": {"name": "bad name"}}])",
       "tools[0].function.name", "invalid_value"},
      {kUserHi +
           R"(, "tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}])",
       "tools[0].function.parameters", "invalid_type"},
      {kUserHi +
           R"(, "tools": [{"type": "function", "function": {"name": "f", "description": 1}}])",
       "tools[0].function.description", "invalid_type"},
      {kUserHi + R"(, "tool_choice": "sometimes")", "tool_choice", "invalid_value"},
      {kUserHi + R"(, "tool_choice": 1)", "tool_choice", "invalid_type"},
      {kUserHi + R"(, "tool_choice": "required")", "tool_choice", "invalid_value"},
      {kUserHi + R"(, "tool_choice": {"type": "function", "function": {"name": "g"}})",
       "tool_choice", "invalid_value"},
      {kUserHi + R"(, "tool_choice": {"type": "function"})", "tool_choice",
       "missing_required_parameter"},
      {kUserHi + R"(, "parallel_tool_calls": "yes")", "parallel_tool_calls", "invalid_type"},
      // lengths and sampling
      {kUserHi + R"(, "model": 5)", "model", "invalid_type"},
      {kUserHi + R"(, "max_tokens": 0)", "max_tokens", "invalid_value"},
      {kUserHi + R"(, "max_tokens": "5")", "max_tokens", "invalid_type"},
      {kUserHi + R"(, "max_tokens": 1.5)", "max_tokens", "invalid_type"},
      {kUserHi + R"(, "max_tokens": 4294967296)", "max_tokens", "invalid_value"},
      {kUserHi + R"(, "max_completion_tokens": -1)", "max_completion_tokens", "invalid_value"},
      {kUserHi + R"(, "temperature": 2.5)", "temperature", "invalid_value"},
      {kUserHi + R"(, "temperature": -0.1)", "temperature", "invalid_value"},
      {kUserHi + R"(, "temperature": "hot")", "temperature", "invalid_type"},
      {kUserHi + R"(, "top_p": 1.5)", "top_p", "invalid_value"},
      {kUserHi + R"(, "top_p": true)", "top_p", "invalid_type"},
      {kUserHi + R"(, "top_k": -2)", "top_k", "invalid_value"},
      {kUserHi + R"(, "top_k": 1.5)", "top_k", "invalid_type"},
      {kUserHi + R"(, "min_p": 1.01)", "min_p", "invalid_value"},
      {kUserHi + R"(, "presence_penalty": 2.5)", "presence_penalty", "invalid_value"},
      {kUserHi + R"(, "frequency_penalty": -3)", "frequency_penalty", "invalid_value"},
      {kUserHi + R"(, "repetition_penalty": 0)", "repetition_penalty", "invalid_value"},
      {kUserHi + R"(, "repeat_penalty": "x")", "repeat_penalty", "invalid_type"},
      {kUserHi + R"(, "repeat_last_n": -2)", "repeat_last_n", "invalid_value"},
      {kUserHi + R"(, "seed": "1")", "seed", "invalid_type"},
      {kUserHi + R"(, "seed": 1.5)", "seed", "invalid_type"},
      {kUserHi + R"(, "stop": 5)", "stop", "invalid_type"},
      {kUserHi + R"(, "stop": "")", "stop", "invalid_value"},
      {kUserHi + R"(, "stop": ["a", 1])", "stop[1]", "invalid_type"},
      {kUserHi + R"(, "stop": ["a", ""])", "stop[1]", "invalid_value"},
      {kUserHi +
           R"(, "stop": ["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"])",
       "stop", "invalid_value"},
      {kUserHi + R"(, "ignore_eos": 1)", "ignore_eos", "invalid_type"},
      {kUserHi + R"(, "n": 2)", "n", "unsupported_parameter"},
      {kUserHi + R"(, "n": 0)", "n", "invalid_value"},
      {kUserHi + R"(, "logprobs": true)", "logprobs", "unsupported_parameter"},
      {kUserHi + R"(, "response_format": {"type": "json_object"})", "response_format",
       "unsupported_parameter"},
      {kUserHi + R"(, "response_format": "text")", "response_format", "invalid_type"},
      // streaming
      {kUserHi + R"(, "stream": "yes")", "stream", "invalid_type"},
      {kUserHi + R"(, "stream_options": {"include_usage": true})", "stream_options",
       "invalid_value"},
      {kUserHi + R"(, "stream": true, "stream_options": [])", "stream_options", "invalid_type"},
      {kUserHi + R"(, "stream": true, "stream_options": {"include_usage": 1})",
       "stream_options.include_usage", "invalid_type"},
      // reasoning and template options
      {kUserHi + R"(, "chat_template_kwargs": [])", "chat_template_kwargs", "invalid_type"},
      {kUserHi + R"(, "chat_template_kwargs": {"enable_thinking": "no"})",
       "chat_template_kwargs.enable_thinking", "invalid_type"},
      {kUserHi + R"(, "reasoning_effort": "max")", "reasoning_effort", "invalid_value"},
      {kUserHi + R"(, "reasoning_effort": 1)", "reasoning_effort", "invalid_type"},
      {kUserHi + R"(, "reasoning_format": "x")", "reasoning_format", "invalid_value"},
  };
  for (const BadCase& c : cases)
    expect_rejected(ApiEndpoint::kChatCompletions, c, "{" + c.body + "}");
}

TEST(OpenAiParse, RejectsBadCompletionParameters) {
  const std::vector<BadCase> cases = {
      {R"("max_tokens": 5)", "prompt", "missing_required_parameter"},
      {R"("prompt": 5)", "prompt", "invalid_type"},
      {R"("prompt": [])", "prompt", "invalid_type"},
      {R"("prompt": ["a", "b"])", "prompt", "unsupported_parameter"},
      {R"("prompt": [1, -1])", "prompt[1]", "invalid_value"},
      {R"("prompt": [1, "a"])", "prompt[1]", "invalid_type"},
      {R"("prompt": [[]])", "prompt[0]", "invalid_value"},
      {R"("prompt": [{}])", "prompt[0]", "invalid_type"},
      {R"("prompt": "a", "echo": true)", "echo", "unsupported_parameter"},
      {R"("prompt": "a", "suffix": "b")", "suffix", "unsupported_parameter"},
      {R"("prompt": "a", "logprobs": 5)", "logprobs", "unsupported_parameter"},
      {R"("prompt": "a", "logprobs": 50)", "logprobs", "invalid_value"},
      {R"("prompt": "a", "top_p": -1)", "top_p", "invalid_value"},
  };
  for (const BadCase& c : cases) expect_rejected(ApiEndpoint::kCompletions, c, "{" + c.body + "}");
}

TEST(OpenAiParse, UnknownModelIs404) {
  ParseOptions options;
  options.models = {"qwen3"};
  const HttpError error =
      rejection(ApiEndpoint::kChatCompletions, "{" + kUserHi + R"(, "model": "gpt-5"})", options);
  EXPECT_EQ(error.status, 404);
  EXPECT_EQ(
      error.body.dump(),
      R"({"error":{"message":"The model 'gpt-5' does not exist","type":"invalid_request_error",)"
      R"("param":"model","code":"model_not_found"}})");
  // Not given: the first served model; given and served: kept.
  EXPECT_EQ(parse_request(ApiEndpoint::kChatCompletions, "{" + kUserHi + "}", options).model,
            "qwen3");
  EXPECT_EQ(parse_request(ApiEndpoint::kChatCompletions, "{" + kUserHi + R"(, "model": "qwen3"})",
                          options)
                .model,
            "qwen3");
  // Serving no list: any name is accepted as is.
  EXPECT_EQ(
      parse_request(ApiEndpoint::kChatCompletions, "{" + kUserHi + R"(, "model": "x"})", {}).model,
      "x");
}

TEST(OpenAiParse, FullChatRequest) {
  const std::string body = R"({
    "model": "m",
    "messages": [
      {"role": "system", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
      {"role": "assistant", "content": null, "reasoning_content": "think",
       "tool_calls": [{"id": "call_1", "type": "function",
                       "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}},
                      {"id": "call_2", "type": "function",
                       "function": {"name": "get_time", "arguments": {"tz": "CET"}}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
      {"role": "developer", "content": "dev", "name": "ops"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
              {"type": "function", "function": {"name": "get_time"}}],
    "tool_choice": {"type": "function", "function": {"name": "get_time"}},
    "parallel_tool_calls": false,
    "max_tokens": 10, "max_completion_tokens": 20,
    "temperature": 0.5, "top_p": 0.9, "top_k": -1, "min_p": 0.1, "seed": -1,
    "stop": ["END", "###"], "presence_penalty": 0.5, "frequency_penalty": -0.5,
    "repetition_penalty": 1.1, "repeat_last_n": 128,
    "stream": true, "stream_options": {"include_usage": true}, "ignore_eos": true, "n": 1,
    "chat_template_kwargs": {"enable_thinking": false, "custom": 3},
    "reasoning_effort": "high", "reasoning_format": "none",
    "logprobs": false, "response_format": {"type": "text"}, "user": "u", "top_logprobs": null
  })";
  const CompletionRequest r = parse_request(ApiEndpoint::kChatCompletions, body, {});
  EXPECT_EQ(r.endpoint, ApiEndpoint::kChatCompletions);
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 5u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[0].content, "be brief");
  EXPECT_EQ(r.messages[1].content, "one\ntwo");
  EXPECT_EQ(r.messages[2].role, "assistant");
  EXPECT_TRUE(r.messages[2].content_null);
  EXPECT_EQ(r.messages[2].reasoning_content, "think");
  ASSERT_EQ(r.messages[2].tool_calls.size(), 2u);
  EXPECT_EQ(r.messages[2].tool_calls[0].id, "call_1");
  EXPECT_EQ(r.messages[2].tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.messages[2].tool_calls[0].arguments, R"({"city": "Oslo"})");
  EXPECT_EQ(r.messages[2].tool_calls[1].arguments, R"({"tz":"CET"})");
  EXPECT_EQ(r.messages[3].role, "tool");
  EXPECT_EQ(r.messages[3].tool_call_id, "call_1");
  EXPECT_EQ(r.messages[3].content, "sunny");
  EXPECT_EQ(r.messages[4].name, "ops");
  ASSERT_EQ(r.tools.size(), 2u);
  EXPECT_EQ(r.tools[0].name, "get_weather");
  EXPECT_EQ(r.tools[0].description, "Weather");
  EXPECT_EQ(r.tools[0].parameters.dump(),
            R"({"type":"object","properties":{"city":{"type":"string"}}})");  // order kept
  EXPECT_EQ(r.tools[1].parameters, ordered_json::object());
  EXPECT_EQ(r.tool_choice, ToolChoice::kFunction);
  EXPECT_EQ(r.tool_choice_name, "get_time");
  EXPECT_FALSE(r.parallel_tool_calls);
  EXPECT_EQ(r.max_tokens, 20);  // max_completion_tokens wins
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 0);  // -1 means all tokens
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.1f);
  EXPECT_EQ(r.sampling.seed, ~uint64_t{0});
  EXPECT_TRUE(r.seed_given);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"END", "###"}));
  EXPECT_FLOAT_EQ(r.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(r.sampling.penalty_last_n, 128);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.ignore_eos);
  EXPECT_EQ(r.chat_template_kwargs.dump(), R"({"enable_thinking":false,"custom":3})");
  EXPECT_EQ(r.enable_thinking, false);  // the template kwarg wins over reasoning_effort
  EXPECT_EQ(r.reasoning_effort, "high");
  EXPECT_FALSE(r.separate_reasoning);
}

TEST(OpenAiParse, DefaultsAndNulls) {
  ParseOptions options;
  options.default_sampling.temperature = 0.7f;
  options.default_sampling.top_k = 20;
  const std::string body =
      "{" + kUserHi +
      R"(, "temperature": null, "max_tokens": null, "stop": null, "tools": null,
                               "stream": false, "reasoning_effort": "none"})";
  const CompletionRequest r = parse_request(ApiEndpoint::kChatCompletions, body, options);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.7f);
  EXPECT_EQ(r.sampling.top_k, 20);
  EXPECT_FALSE(r.seed_given);
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_TRUE(r.stop.empty());
  EXPECT_TRUE(r.tools.empty());
  EXPECT_EQ(r.tool_choice, ToolChoice::kAuto);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_FALSE(r.ignore_eos);
  EXPECT_EQ(r.enable_thinking, false);
  EXPECT_TRUE(r.separate_reasoning);
  const CompletionRequest plain =
      parse_request(ApiEndpoint::kChatCompletions, "{" + kUserHi + "}", {});
  EXPECT_FALSE(plain.enable_thinking.has_value());
  EXPECT_EQ(
      parse_request(ApiEndpoint::kChatCompletions, "{" + kUserHi + R"(, "stop": "x"})", {}).stop,
      std::vector<std::string>{"x"});
}

TEST(OpenAiParse, LogitBias) {
  auto parse = [](const std::string& members) {
    return parse_request(ApiEndpoint::kCompletions, R"({"prompt": "x", )" + members + "}", {});
  };
  const auto inf = std::numeric_limits<float>::infinity();
  using Biases = std::vector<std::pair<int32_t, float>>;
  EXPECT_EQ(parse(R"("logit_bias": {"12": -100, "3": 5.5, "7": false})").sampling.logit_bias,
            (Biases{{3, 5.5f}, {7, -inf}, {12, -100.0f}}));
  EXPECT_EQ(parse(R"("logit_bias": [[9, 1], [2, false]])").sampling.logit_bias,
            (Biases{{2, -inf}, {9, 1.0f}}));
  EXPECT_TRUE(parse(R"("logit_bias": {})").sampling.logit_bias.empty());
  for (const std::string bad :
       {R"("logit_bias": {"x": 1})", R"("logit_bias": {"-1": 1})", R"("logit_bias": {"1": 101})",
        R"("logit_bias": {"1": "a"})", R"("logit_bias": {"1": true})", R"("logit_bias": 3)",
        R"("logit_bias": [[1]])", R"("logit_bias": {"99999999999": 1})"}) {
    const HttpError error = rejection(ApiEndpoint::kCompletions, R"({"prompt": "x", )" + bad + "}");
    SCOPED_TRACE(bad);
    EXPECT_EQ(error.status, 400);
    EXPECT_EQ(error.body["error"]["param"], "logit_bias");
  }
}

TEST(OpenAiParse, CompletionPrompts) {
  auto parse = [](const std::string& members) {
    return parse_request(ApiEndpoint::kCompletions, "{" + members + "}", {});
  };
  EXPECT_EQ(parse(R"("prompt": "Once")").prompt, "Once");
  EXPECT_EQ(parse(R"("prompt": ["Once"])").prompt, "Once");
  EXPECT_EQ(parse(R"("prompt": [1, 2, 3])").prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(parse(R"("prompt": [[4, 5]])").prompt_tokens, (std::vector<int32_t>{4, 5}));
  const CompletionRequest r =
      parse(R"("prompt": "x", "max_tokens": 3, "stop": "\n", "logprobs": 0)");
  EXPECT_EQ(r.endpoint, ApiEndpoint::kCompletions);
  EXPECT_EQ(r.max_tokens, 3);
  EXPECT_TRUE(r.messages.empty());
}

TEST(OpenAiErrors, OneMappingToHttp) {
  struct Expected {
    ApiErrorKind kind;
    int status;
    const char* type;
    bool retry_after;
  };
  for (const Expected& x :
       std::vector<Expected>{{ApiErrorKind::kInvalidRequest, 400, "invalid_request_error", false},
                             {ApiErrorKind::kAuthentication, 401, "authentication_error", false},
                             {ApiErrorKind::kModelNotFound, 404, "invalid_request_error", false},
                             {ApiErrorKind::kNotFound, 404, "not_found_error", false},
                             {ApiErrorKind::kRateLimited, 429, "rate_limit_error", true},
                             {ApiErrorKind::kUnavailable, 503, "unavailable_error", true},
                             {ApiErrorKind::kInternal, 500, "server_error", false}}) {
    const HttpError error = to_http_error(ApiError(x.kind, "why", "", "", 7));
    EXPECT_EQ(error.status, x.status);
    EXPECT_EQ(error.body.dump(), std::string(R"({"error":{"message":"why","type":")") + x.type +
                                     R"(","param":null,"code":null}})");
    if (x.retry_after) {
      ASSERT_EQ(error.headers.size(), 1u);
      EXPECT_EQ(error.headers[0], (std::pair<std::string, std::string>{"Retry-After", "7"}));
    } else {
      EXPECT_TRUE(error.headers.empty());
    }
  }
  const HttpError auth =
      to_http_error(ApiError(ApiErrorKind::kAuthentication, "bad key", "", "invalid_api_key"));
  EXPECT_EQ(auth.body.dump(),
            R"({"error":{"message":"bad key","type":"authentication_error","param":null,)"
            R"("code":"invalid_api_key"}})");

  const HttpError full = to_http_error(QueueFullError("too many requests waiting"));
  EXPECT_EQ(full.status, 503);
  EXPECT_EQ(full.body.dump(),
            R"({"error":{"message":"too many requests waiting","type":"unavailable_error",)"
            R"("param":null,"code":"server_overloaded"}})");
  ASSERT_EQ(full.headers.size(), 1u);
  EXPECT_EQ(full.headers[0].first, "Retry-After");
  EXPECT_EQ(full.headers[0].second, "1");
  EXPECT_EQ(to_http_error(Error("prompt longer than the context")).status, 400);
  const HttpError internal = to_http_error(std::runtime_error("bug"));
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(internal.body["error"]["type"], "server_error");
}

TEST(OpenAiErrors, Authorization) {
  EXPECT_NO_THROW(check_authorization("", ""));  // no key configured
  EXPECT_NO_THROW(check_authorization("Bearer s3cret", "s3cret"));
  for (const char* header : {"", "s3cret", "Bearer ", "Bearer s3cre", "Bearer s3cret2",
                             "Bearer S3cret", "Basic s3cret"}) {
    try {
      check_authorization(header, "s3cret");
      ADD_FAILURE() << "accepted '" << header << "'";
    } catch (const ApiError& e) {
      const HttpError error = to_http_error(e);
      EXPECT_EQ(error.status, 401) << header;
      EXPECT_EQ(error.body["error"]["type"], "authentication_error");
      EXPECT_EQ(error.body["error"]["code"], "invalid_api_key");
    }
  }
}

}  // namespace
}  // namespace tandem
