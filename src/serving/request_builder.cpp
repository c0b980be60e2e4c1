#include "serving/request_builder.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "platform/error.h"

namespace tandem {

nlohmann::ordered_json chat_template_request(const CompletionRequest& request) {
  nlohmann::ordered_json body = nlohmann::ordered_json::object();
  body["messages"] = template_messages(request.messages);
  if (!request.tools.empty() && request.tool_choice != ToolChoice::kNone) {
    body["tools"] = template_tools(request.tools);
  }
  nlohmann::ordered_json kwargs = request.chat_template_kwargs;
  if (request.enable_thinking) kwargs["enable_thinking"] = *request.enable_thinking;
  if (!kwargs.empty()) body["chat_template_kwargs"] = std::move(kwargs);
  return body;
}

bool ends_inside_reasoning(std::string_view prompt) {
  const size_t open = prompt.rfind("<think>");
  if (open == std::string_view::npos) return false;
  return prompt.find("</think>", open) == std::string_view::npos;
}

std::string render_chat_prompt(const CompletionRequest& request,
                               const ChatTemplate& chat_template) {
  try {
    return chat_template.render(chat_template_request(request));
  } catch (const ApiError&) {
    throw;
  } catch (const Error& e) {
    throw ApiError(ApiErrorKind::kInvalidRequest, str_cat("chat template: ", e.what()), "messages");
  }
}

GenerationRequest build_generation(const CompletionRequest& request, const PromptContext& context,
                                   uint64_t seed) {
  GenerationRequest generation;
  const bool chat = request.endpoint == ApiEndpoint::kChatCompletions;
  std::string prompt_param = chat ? "messages" : "prompt";
  if (chat) {
    const std::string prompt = render_chat_prompt(request, context.chat_template);
    generation.prompt = context.tokenizer.encode(prompt, /*parse_special=*/true);
    generation.parse.parse_reasoning = request.separate_reasoning;
    generation.parse.starts_in_reasoning =
        request.separate_reasoning && ends_inside_reasoning(prompt);
    generation.parse.parse_tool_calls =
        !request.tools.empty() && request.tool_choice != ToolChoice::kNone;
  } else {
    generation.prompt = request.prompt_tokens.empty()
                            ? context.tokenizer.encode(request.prompt, /*parse_special=*/true)
                            : request.prompt_tokens;
    if (request.prompt_tokens.empty() && context.tokenizer.add_bos() &&
        context.tokenizer.bos_id() >= 0) {
      generation.prompt.insert(generation.prompt.begin(), context.tokenizer.bos_id());
    }
    generation.parse.parse_reasoning = false;
    generation.parse.parse_tool_calls = false;
    for (int32_t id : generation.prompt) {
      if (id < 0 || id >= context.tokenizer.vocab_size()) {
        throw ApiError(ApiErrorKind::kInvalidRequest,
                       str_cat("token id ", id, " is outside the vocabulary of ",
                               context.tokenizer.vocab_size()),
                       "prompt");
      }
    }
  }
  const auto prompt_tokens = static_cast<int32_t>(generation.prompt.size());
  if (prompt_tokens == 0) {
    throw ApiError(ApiErrorKind::kInvalidRequest, "the prompt is empty", prompt_param);
  }
  const int32_t room = context.context_length - prompt_tokens;
  if (room <= 0) {
    throw ApiError(ApiErrorKind::kInvalidRequest,
                   str_cat("the prompt has ", prompt_tokens, " tokens; the context holds ",
                           context.context_length),
                   prompt_param, "context_length_exceeded");
  }
  if (request.max_tokens && *request.max_tokens > room) {
    throw ApiError(ApiErrorKind::kInvalidRequest,
                   str_cat("max_tokens ", *request.max_tokens, " and the prompt's ", prompt_tokens,
                           " tokens exceed the context of ", context.context_length),
                   "max_tokens", "context_length_exceeded");
  }
  generation.max_new_tokens = request.max_tokens.value_or(room);
  generation.sampling = request.sampling;
  for (const auto& [token, bias] : generation.sampling.logit_bias) {
    if (token >= context.tokenizer.vocab_size()) {
      throw ApiError(ApiErrorKind::kInvalidRequest,
                     str_cat("logit_bias token id ", token, " is outside the vocabulary of ",
                             context.tokenizer.vocab_size()),
                     "logit_bias");
    }
  }
  if (!request.seed_given) generation.sampling.seed = seed;
  generation.stop = request.stop;
  generation.ignore_eos = request.ignore_eos;
  return generation;
}

}  // namespace tandem
