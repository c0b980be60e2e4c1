#pragma once
// From a parsed OpenAI request to what the serving layer runs: the chat template
// rendered (or the completion prompt read), tokenized, checked against the context, and
// the output parser told how the answer starts. Shared by `tandem serve` and `tandem run`.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "serving/generation.h"
#include "serving/openai_api.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace tandem {

// What a front end needs of the loaded model to build prompts.
struct PromptContext {
  const Tokenizer& tokenizer;
  const ChatTemplate& chat_template;
  int32_t context_length = 0;  // positions one sequence may use
};

// The chat request as ChatTemplate::render reads it: messages, tools and template flags.
nlohmann::ordered_json chat_template_request(const CompletionRequest& request);

// True when the text ends inside an unclosed <think> block (a template that opens the
// reasoning for the model): the generated text starts as reasoning.
bool ends_inside_reasoning(std::string_view prompt);

// Builds the generation of a request. `seed` is used when the request gives none.
// Throws ApiError kInvalidRequest for a prompt that does not fit the context (or leaves
// no room for max_tokens) and for a template that fails to render.
GenerationRequest build_generation(const CompletionRequest& request, const PromptContext& context,
                                   uint64_t seed);

// Prompt text of a chat request after the template (what build_generation tokenizes).
std::string render_chat_prompt(const CompletionRequest& request, const ChatTemplate& chat_template);

}  // namespace tandem
