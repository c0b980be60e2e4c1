#include "text/chat_template.h"

#include "gguf/model_file.h"
#include "platform/error.h"

namespace tandem {
namespace {

using Json = nlohmann::ordered_json;

// Marks the end of a prefilled assistant message in the rendered text. Control
// characters keep it from colliding with real content.
constexpr std::string_view kPrefillMark = "\x1e\x1ftandem-prefill-end\x1f\x1e";

std::string normalize_content(const Json& content, size_t index) {
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (content.is_array()) {
    std::string text;
    bool first = true;
    for (const Json& part : content) {
      if (!part.is_object() || part.value("type", "") != "text") continue;
      const Json* part_text = part.contains("text") ? &part.at("text") : nullptr;
      if (part_text == nullptr || !part_text->is_string()) {
        throw Error(str_cat("messages[", index, "]: a text part needs a string 'text'"));
      }
      if (!first) text += '\n';
      text += part_text->get<std::string>();
      first = false;
    }
    return text;
  }
  throw Error(str_cat("messages[", index, "].content must be a string, an array or null"));
}

std::string optional_string(const Json& object, const char* key, const std::string& where) {
  if (!object.contains(key) || object.at(key).is_null()) return "";
  if (!object.at(key).is_string()) throw Error(str_cat(where, ".", key, " must be a string"));
  return object.at(key).get<std::string>();
}

Json normalize_tool_call(const Json& call, const std::string& where) {
  if (!call.is_object()) throw Error(str_cat(where, " must be an object"));
  const Json& function = call.contains("function") ? call.at("function") : call;
  if (!function.is_object()) throw Error(str_cat(where, ".function must be an object"));
  Json arguments = function.contains("arguments") ? function.at("arguments") : Json::object();
  if (arguments.is_string()) {
    // The templates expect an object; a string that is not JSON stays as it is.
    Json parsed = Json::parse(arguments.get<std::string>(), nullptr, false);
    if (!parsed.is_discarded()) arguments = std::move(parsed);
  }
  Json out = Json::object();
  out["type"] = "function";
  out["function"] = Json{{"name", optional_string(function, "name", where + ".function")},
                         {"arguments", std::move(arguments)}};
  std::string id = optional_string(call, "id", where);
  if (!id.empty()) out["id"] = id;
  return out;
}

Json normalize_message(const Json& message, size_t index) {
  std::string where = str_cat("messages[", index, "]");
  if (!message.is_object()) throw Error(str_cat(where, " must be an object"));
  if (!message.contains("role") || !message.at("role").is_string()) {
    throw Error(str_cat(where, " needs a string 'role'"));
  }
  Json out = Json::object();
  out["role"] = message.at("role");
  out["content"] =
      normalize_content(message.contains("content") ? message.at("content") : Json(), index);
  std::string reasoning = optional_string(message, "reasoning_content", where);
  if (!reasoning.empty()) out["reasoning_content"] = reasoning;
  std::string name = optional_string(message, "name", where);
  if (!name.empty()) out["name"] = name;
  std::string tool_call_id = optional_string(message, "tool_call_id", where);
  if (!tool_call_id.empty()) out["tool_call_id"] = tool_call_id;
  if (message.contains("tool_calls") && !message.at("tool_calls").is_null()) {
    const Json& calls = message.at("tool_calls");
    if (!calls.is_array()) throw Error(str_cat(where, ".tool_calls must be an array"));
    if (!calls.empty()) {
      Json normalized = Json::array();
      for (size_t i = 0; i < calls.size(); ++i) {
        normalized.push_back(normalize_tool_call(calls[i], str_cat(where, ".tool_calls[", i, "]")));
      }
      out["tool_calls"] = std::move(normalized);
    }
  }
  return out;
}

Json normalize_tool(const Json& tool, size_t index) {
  std::string where = str_cat("tools[", index, "]");
  if (!tool.is_object() || !tool.contains("function") || !tool.at("function").is_object()) {
    throw Error(str_cat(where, " must be {\"type\": \"function\", \"function\": {...}}"));
  }
  const Json& function = tool.at("function");
  if (!function.contains("name") || !function.at("name").is_string()) {
    throw Error(str_cat(where, ".function needs a string 'name'"));
  }
  Json out = Json::object();
  out["type"] = "function";
  out["function"] = Json{
      {"name", function.at("name")},
      {"description", optional_string(function, "description", where + ".function")},
      {"parameters", function.contains("parameters") ? function.at("parameters") : Json::object()}};
  return out;
}

}  // namespace

ChatTemplate::ChatTemplate(std::string_view source, std::string bos_token, std::string eos_token)
    : template_(source), bos_token_(std::move(bos_token)), eos_token_(std::move(eos_token)) {}

ChatTemplate ChatTemplate::from_model(const ModelFile& model) {
  std::string source =
      model.get_string_opt("tokenizer.chat_template").value_or(std::string(kChatMlTemplate));
  std::string bos;
  std::string eos;
  if (const GgufValue* tokens = model.find("tokenizer.ggml.tokens");
      tokens != nullptr && tokens->type == GgufValueType::kArray) {
    const GgufValue::Array& vocab = tokens->as_array();
    auto token_text = [&](const char* key) -> std::string {
      std::optional<uint64_t> id = model.get_uint_opt(key);
      if (!id || *id >= vocab.size() || vocab[*id].type != GgufValueType::kString) return "";
      return vocab[*id].as_string();
    };
    bos = token_text("tokenizer.ggml.bos_token_id");
    eos = token_text("tokenizer.ggml.eos_token_id");
  }
  return ChatTemplate(source, std::move(bos), std::move(eos));
}

Json ChatTemplate::template_context(const Json& request) const {
  if (!request.is_object()) throw Error("chat request must be a JSON object");
  if (!request.contains("messages") || !request.at("messages").is_array()) {
    throw Error("chat request needs a 'messages' array");
  }
  Json context = Json::object();
  if (request.contains("chat_template_kwargs")) {
    const Json& kwargs = request.at("chat_template_kwargs");
    if (!kwargs.is_object()) throw Error("chat_template_kwargs must be an object");
    for (const auto& [key, value] : kwargs.items()) context[key] = value;
  }
  Json messages = Json::array();
  const Json& input = request.at("messages");
  for (size_t i = 0; i < input.size(); ++i) messages.push_back(normalize_message(input[i], i));
  context["messages"] = std::move(messages);
  if (request.contains("tools") && !request.at("tools").is_null()) {
    const Json& tools = request.at("tools");
    if (!tools.is_array()) throw Error("'tools' must be an array");
    if (!tools.empty()) {
      Json normalized = Json::array();
      for (size_t i = 0; i < tools.size(); ++i) normalized.push_back(normalize_tool(tools[i], i));
      context["tools"] = std::move(normalized);
    }
  }
  bool add_generation_prompt = true;
  if (request.contains("add_generation_prompt")) {
    if (!request.at("add_generation_prompt").is_boolean()) {
      throw Error("'add_generation_prompt' must be a boolean");
    }
    add_generation_prompt = request.at("add_generation_prompt").get<bool>();
  }
  context["add_generation_prompt"] = add_generation_prompt;
  const Json* thinking =
      context.contains("enable_thinking") ? &context.at("enable_thinking") : nullptr;
  context["enable_thinking"] =
      !(thinking != nullptr && thinking->is_boolean() && !thinking->get<bool>());
  context["bos_token"] = bos_token_;
  context["eos_token"] = eos_token_;
  return context;
}

std::string ChatTemplate::render(const Json& request) const {
  Json context = template_context(request);
  Json& messages = context["messages"];
  bool prefill = !messages.empty() && messages.back()["role"] == "assistant";
  if (!prefill) return template_.render(context);

  // Continue the last assistant message: render it as a finished turn with a mark after
  // its content, then cut the prompt at the mark.
  context["add_generation_prompt"] = false;
  Json& last = messages.back();
  last["content"] = last["content"].get<std::string>() + std::string(kPrefillMark);
  std::string prompt = template_.render(context);
  size_t mark = prompt.rfind(kPrefillMark);
  if (mark != std::string::npos) return prompt.substr(0, mark);

  // The template dropped the content: fall back to a generation prompt followed by it.
  std::string content = last["content"].get<std::string>();
  content.resize(content.size() - kPrefillMark.size());
  messages.erase(messages.size() - 1);
  context["add_generation_prompt"] = true;
  return template_.render(context) + content;
}

}  // namespace tandem
