// The exact JSON the OpenAI API returns, written out by hand from its reference.

#include <gtest/gtest.h>

#include <string>

#include "serving/openai_api.h"

namespace tandem {
namespace {

const ResponseMeta kMeta{"chatcmpl-1", 1700000000, "qwen3"};

TEST(OpenAiResponse, ChatCompletion) {
  ChatOutput output;
  output.content = "Hello";
  output.reasoning = "greet";
  output.finish = ApiFinishReason::kLength;
  EXPECT_EQ(chat_completion_json(kMeta, output, {12, 5}).dump(),
            R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"qwen3",)"
            R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello",)"
            R"("reasoning_content":"greet"},"logprobs":null,"finish_reason":"length"}],)"
            R"("usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}})");
}

TEST(OpenAiResponse, ChatCompletionWithToolCalls) {
  ChatOutput output;
  output.tool_calls = {{"call_a", "get_weather", R"({"city":"Oslo"})"}};
  output.finish = ApiFinishReason::kToolCalls;
  EXPECT_EQ(
      chat_completion_json(kMeta, output, {3, 4}).dump(),
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"qwen3",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":null,)"
      R"("tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather",)"
      R"("arguments":"{\"city\":\"Oslo\"}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],)"
      R"("usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})");
}

TEST(OpenAiResponse, TextCompletion) {
  const ResponseMeta meta{"cmpl-9", 5, "m"};
  EXPECT_EQ(
      text_completion_json(meta, " upon a time", ApiFinishReason::kStop, {2, 3}).dump(),
      R"({"id":"cmpl-9","object":"text_completion","created":5,"model":"m",)"
      R"("choices":[{"index":0,"text":" upon a time","logprobs":null,"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}})");
}

TEST(OpenAiResponse, ChatChunks) {
  const std::string head =
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3",)";
  ChatDelta first;
  first.role = true;
  EXPECT_EQ(chat_chunk_json(kMeta, first, std::nullopt, false).dump(),
            head + R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},)"
                   R"("logprobs":null,"finish_reason":null}]})");
  ChatDelta content;
  content.content = "Hi";
  EXPECT_EQ(chat_chunk_json(kMeta, content, std::nullopt, true).dump(),
            head + R"("choices":[{"index":0,"delta":{"content":"Hi"},)"
                   R"("logprobs":null,"finish_reason":null}],"usage":null})");
  ChatDelta reasoning;
  reasoning.reasoning = "hmm";
  EXPECT_EQ(chat_chunk_json(kMeta, reasoning, std::nullopt, false).dump(),
            head + R"("choices":[{"index":0,"delta":{"reasoning_content":"hmm"},)"
                   R"("logprobs":null,"finish_reason":null}]})");
  ChatDelta tools;
  tools.tool_calls = {{"call_b", "f", "{}"}};
  tools.first_tool_index = 1;
  EXPECT_EQ(chat_chunk_json(kMeta, tools, std::nullopt, false).dump(),
            head + R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b",)"
                   R"("type":"function","function":{"name":"f","arguments":"{}"}}]},)"
                   R"("logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(
      chat_chunk_json(kMeta, ChatDelta{}, ApiFinishReason::kToolCalls, false).dump(),
      head + R"("choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]})");
  EXPECT_EQ(
      usage_chunk_json(kMeta, ApiEndpoint::kChatCompletions, {7, 2}).dump(),
      head + R"("choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}})");
}

TEST(OpenAiResponse, TextChunks) {
  const ResponseMeta meta{"cmpl-9", 5, "m"};
  EXPECT_EQ(text_chunk_json(meta, "a", std::nullopt, false).dump(),
            R"({"id":"cmpl-9","object":"text_completion","created":5,"model":"m",)"
            R"("choices":[{"index":0,"text":"a","logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(
      text_chunk_json(meta, "", ApiFinishReason::kLength, true).dump(),
      R"({"id":"cmpl-9","object":"text_completion","created":5,"model":"m",)"
      R"("choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"length"}],"usage":null})");
  EXPECT_EQ(usage_chunk_json(meta, ApiEndpoint::kCompletions, {1, 1}).dump(),
            R"({"id":"cmpl-9","object":"text_completion","created":5,"model":"m","choices":[],)"
            R"("usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}})");
}

TEST(OpenAiResponse, SseFramingAndModels) {
  EXPECT_EQ(sse_event(nlohmann::ordered_json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
  // A token that ends inside a UTF-8 character does not break the stream.
  EXPECT_EQ(sse_event(nlohmann::ordered_json{{"t", std::string("\xE2\x82")}}),
            "data: {\"t\":\"\xEF\xBF\xBD\"}\n\n");
  EXPECT_EQ(
      model_list_json({"qwen3"}, 42).dump(),
      R"({"object":"list","data":[{"id":"qwen3","object":"model","created":42,"owned_by":"tandem"}]})");
  EXPECT_STREQ(finish_reason_name(ApiFinishReason::kStop), "stop");
  EXPECT_STREQ(finish_reason_name(ApiFinishReason::kLength), "length");
  EXPECT_STREQ(finish_reason_name(ApiFinishReason::kToolCalls), "tool_calls");
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

TEST(OpenAiTemplate, MessagesAndToolsInTheHuggingFaceShape) {
  const CompletionRequest r = parse_request(ApiEndpoint::kChatCompletions, R"({
    "messages": [
      {"role": "user", "content": "weather?", "name": "ann"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Oslo\"}"}},
        {"id": "c2", "type": "function", "function": {"name": "v", "arguments": "not json"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
    "tools": [{"type": "function", "function": {"name": "w", "description": "Weather",
               "parameters": {"type": "object"}}}]})",
                                            {});
  EXPECT_EQ(template_messages(r.messages).dump(),
            R"([{"role":"user","content":"weather?","name":"ann"},)"
            R"({"role":"assistant","content":null,"tool_calls":[)"
            R"({"id":"c1","type":"function","function":{"name":"w","arguments":{"city":"Oslo"}}},)"
            R"({"id":"c2","type":"function","function":{"name":"v","arguments":"not json"}}]},)"
            R"({"role":"tool","content":"sunny","tool_call_id":"c1"}])");
  EXPECT_EQ(template_tools(r.tools).dump(),
            R"([{"type":"function","function":{"name":"w","description":"Weather",)"
            R"("parameters":{"type":"object"}}}])");
}

}  // namespace
}  // namespace tandem
