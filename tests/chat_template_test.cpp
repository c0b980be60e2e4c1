#include "text/chat_template.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gguf/model_file.h"
#include "platform/error.h"
#include "test_paths.h"

namespace tandem {
namespace {

using Json = nlohmann::ordered_json;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Every golden of llama.cpp's /apply-template, rendered byte for byte.
TEST(ChatTemplate, MatchesLlamaCppGoldens) {
  TANDEM_REQUIRE_SHARED();
  ChatTemplate chat(read_text(testing::reference_path("qwen3_chat_template.jinja")),
                    "<|endoftext|>", "<|endoftext|>");
  std::ifstream goldens(testing::reference_path("chat_template_goldens.jsonl"));
  std::string line;
  int cases = 0;
  while (std::getline(goldens, line)) {
    if (line.empty()) continue;
    Json golden = Json::parse(line);
    SCOPED_TRACE(golden["id"].get<std::string>());
    EXPECT_EQ(chat.render(golden["request"]), golden["prompt"].get<std::string>());
    ++cases;
  }
  EXPECT_EQ(cases, 29);
}

TEST(ChatTemplate, TinyModelTemplateRendersConversation) {
  TANDEM_REQUIRE_SHARED();
  ModelFile model(testing::reference_path("qwen3moe-tiny-Q8_0.gguf"));
  ASSERT_TRUE(model.has("tokenizer.chat_template"));
  ChatTemplate chat = ChatTemplate::from_model(model);
  Json request = {{"messages",
                   {{{"role", "user"}, {"content", "Hi"}},
                    {{"role", "assistant"}, {"content", "Hello!"}},
                    {{"role", "user"}, {"content", "Bye"}}}}};
  // The model's Qwen2-style ChatML template adds a default system turn.
  EXPECT_EQ(chat.render(request),
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
            "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, ChatMlFallback) {
  ChatTemplate chat(ChatTemplate::kChatMlTemplate, "", "");
  Json request = {
      {"messages",
       {{{"role", "system"}, {"content", "S"}}, {{"role", "user"}, {"content", nullptr}}}},
      {"add_generation_prompt", false}};
  EXPECT_EQ(chat.render(request),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n<|im_end|>\n");
  request["add_generation_prompt"] = true;
  EXPECT_EQ(
      chat.render(request),
      "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, ContextNormalization) {
  ChatTemplate chat("{{ messages | tojson }}|{{ tools | tojson }}|{{ enable_thinking }}|{{ x }}",
                    "", "");
  Json request = Json::parse(R"({
    "messages": [
      {"role": "assistant", "content": null, "reasoning_content": "",
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "x"},
                                                        {"type": "image_url"},
                                                        {"type": "text", "text": "y"}]},
      {"role": "user", "content": "q"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "chat_template_kwargs": {"enable_thinking": false, "x": 7}})");
  EXPECT_EQ(
      chat.render(request),
      R"([{"role": "assistant", "content": "", "tool_calls": [{"type": "function", )"
      R"("function": {"name": "f", "arguments": {"a": 1}}, "id": "c1"}]}, )"
      R"({"role": "tool", "content": "x\ny", "tool_call_id": "c1"}, {"role": "user", "content": "q"}])"
      R"(|[{"type": "function", "function": {"name": "f", "description": "", )"
      R"("parameters": {"type": "object"}}}]|False|7)");
}

TEST(ChatTemplate, RejectsMalformedRequests) {
  ChatTemplate chat(ChatTemplate::kChatMlTemplate, "", "");
  EXPECT_THROW(chat.render(Json::array()), Error);
  EXPECT_THROW(chat.render(Json{{"messages", "hi"}}), Error);
  EXPECT_THROW(chat.render(Json{{"messages", {{{"content", "no role"}}}}}), Error);
  EXPECT_THROW(chat.render(Json{{"messages", {{{"role", "user"}, {"content", 5}}}}}), Error);
  EXPECT_THROW(ChatTemplate("{% if %}", "", ""), Error);
}

TEST(ChatTemplate, PrefillWithEmptyContentEndsAfterHeader) {
  ChatTemplate chat(ChatTemplate::kChatMlTemplate, "", "");
  Json request = {
      {"messages",
       {{{"role", "user"}, {"content", "Q"}}, {{"role", "assistant"}, {"content", ""}}}}};
  EXPECT_EQ(chat.render(request), "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n");
}

}  // namespace
}  // namespace tandem
