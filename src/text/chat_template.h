#pragma once
// Turns an OpenAI-style chat request into the prompt string, the way llama-server's
// /apply-template does with --jinja: the model's Jinja chat template rendered after
// llama.cpp's normalizations of the request.
//
//   ChatTemplate chat = ChatTemplate::from_model(model_file);
//   std::string prompt = chat.render(request);  // request: {"messages": [...], "tools": [...]}
//
// Normalizations (matching llama.cpp):
// - add_generation_prompt defaults to true; enable_thinking is always passed, true unless
//   chat_template_kwargs.enable_thinking is false; other chat_template_kwargs become
//   template variables too.
// - tools are rewritten as {"type": "function", "function": {"name", "description",
//   "parameters"}} (description "" when missing).
// - messages are rewritten as {role, content, reasoning_content?, name?, tool_call_id?,
//   tool_calls?}: content null -> "", typed text parts joined with "\n",
//   reasoning_content only when non-empty, tool-call arguments given as JSON strings
//   parsed into objects.
// - When the last message is from the assistant it is continued (prefill): the prompt
//   ends right after its content, with no end-of-turn and no generation prompt.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "text/jinja/template.h"

namespace tandem {

class ModelFile;

class ChatTemplate {
 public:
  // Plain ChatML, for models without a template of their own.
  static constexpr std::string_view kChatMlTemplate =
      "{%- for message in messages -%}"
      "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' -}}"
      "{%- endfor -%}"
      "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

  // Throws tandem::Error "template:LINE:COL: ..." when the template does not parse.
  ChatTemplate(std::string_view source, std::string bos_token, std::string eos_token);

  // tokenizer.chat_template of the model (ChatML when absent), with the bos / eos token
  // strings from its vocabulary.
  static ChatTemplate from_model(const ModelFile& model);

  // Throws tandem::Error for a malformed request or a template that fails to render.
  std::string render(const nlohmann::ordered_json& request) const;

  // The request as the template sees it (messages and tools normalized, flags set).
  nlohmann::ordered_json template_context(const nlohmann::ordered_json& request) const;

 private:
  jinja::Template template_;
  std::string bos_token_;
  std::string eos_token_;
};

}  // namespace tandem
