// Errors and request parsing of the OpenAI API (responses are in openai_response.cpp).

#include "serving/openai_api.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "serving/engine_core.h"

namespace tandem {

using nlohmann::ordered_json;

int http_status(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::kInvalidRequest:
      return 400;
    case ApiErrorKind::kAuthentication:
      return 401;
    case ApiErrorKind::kModelNotFound:
    case ApiErrorKind::kNotFound:
      return 404;
    case ApiErrorKind::kRateLimited:
      return 429;
    case ApiErrorKind::kUnavailable:
      return 503;
    case ApiErrorKind::kInternal:
      return 500;
  }
  return 500;
}

const char* error_type(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::kInvalidRequest:
    case ApiErrorKind::kModelNotFound:
      return "invalid_request_error";
    case ApiErrorKind::kAuthentication:
      return "authentication_error";
    case ApiErrorKind::kNotFound:
      return "not_found_error";
    case ApiErrorKind::kRateLimited:
      return "rate_limit_error";
    case ApiErrorKind::kUnavailable:
      return "unavailable_error";
    case ApiErrorKind::kInternal:
      return "server_error";
  }
  return "server_error";
}

namespace {

ordered_json null_if_empty(const std::string& text) {
  return text.empty() ? ordered_json(nullptr) : ordered_json(text);
}

HttpError make_http_error(ApiErrorKind kind, const std::string& message, const std::string& param,
                          const std::string& code, int retry_after_s) {
  HttpError out;
  out.status = http_status(kind);
  out.body = {{"error",
               {{"message", message},
                {"type", error_type(kind)},
                {"param", null_if_empty(param)},
                {"code", null_if_empty(code)}}}};
  if (kind == ApiErrorKind::kRateLimited || kind == ApiErrorKind::kUnavailable) {
    out.headers.emplace_back("Retry-After", std::to_string(std::max(retry_after_s, 1)));
  }
  return out;
}

}  // namespace

HttpError to_http_error(const std::exception& error) {
  if (const auto* api = dynamic_cast<const ApiError*>(&error)) {
    return make_http_error(api->kind(), api->what(), api->param(), api->code(),
                           api->retry_after_s());
  }
  if (dynamic_cast<const QueueFullError*>(&error)) {
    return make_http_error(ApiErrorKind::kUnavailable, error.what(), "", "server_overloaded", 1);
  }
  if (dynamic_cast<const Error*>(&error)) {
    return make_http_error(ApiErrorKind::kInvalidRequest, error.what(), "", "", 0);
  }
  return make_http_error(ApiErrorKind::kInternal, error.what(), "", "", 0);
}

void check_authorization(std::string_view header, std::string_view api_key) {
  if (api_key.empty()) return;
  constexpr std::string_view kScheme = "Bearer ";
  if (header.substr(0, kScheme.size()) != kScheme) {
    throw ApiError(ApiErrorKind::kAuthentication,
                   "Missing API key: send the header 'Authorization: Bearer KEY'", "",
                   "invalid_api_key");
  }
  const std::string_view given = header.substr(kScheme.size());
  unsigned char difference = given.size() == api_key.size() ? 0 : 1;
  for (size_t i = 0; i < api_key.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    difference |= static_cast<unsigned char>(g ^ api_key[i]);
  }
  if (difference != 0) {
    throw ApiError(ApiErrorKind::kAuthentication, "Incorrect API key", "", "invalid_api_key");
  }
}

namespace {

// ---------------------------------------------------------------- validation helpers

[[noreturn]] void fail(const std::string& param, const std::string& message,
                       const std::string& code = "invalid_value") {
  throw ApiError(ApiErrorKind::kInvalidRequest, message, param, code);
}

[[noreturn]] void wrong_type(const std::string& param, const char* expected) {
  fail(param, str_cat("'", param, "' must be ", expected), "invalid_type");
}

// The member, or nullptr when it is absent or null (OpenAI treats null as "not given").
const ordered_json* member(const ordered_json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

bool get_bool(const ordered_json& value, const std::string& param) {
  if (!value.is_boolean()) wrong_type(param, "a boolean");
  return value.get<bool>();
}

std::string get_string(const ordered_json& value, const std::string& param) {
  if (!value.is_string()) wrong_type(param, "a string");
  return value.get<std::string>();
}

int64_t get_integer(const ordered_json& value, const std::string& param, int64_t min, int64_t max) {
  if (!value.is_number_integer()) wrong_type(param, "an integer");
  if (value.is_number_unsigned() &&
      value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    fail(param, str_cat("'", param, "' must be at most ", max));
  }
  const int64_t v = value.get<int64_t>();
  if (v < min) fail(param, str_cat("'", param, "' must be at least ", min, ", got ", v));
  if (v > max) fail(param, str_cat("'", param, "' must be at most ", max, ", got ", v));
  return v;
}

double get_number(const ordered_json& value, const std::string& param, double min, double max) {
  if (!value.is_number()) wrong_type(param, "a number");
  const double v = value.get<double>();
  if (!(v >= min && v <= max)) {
    fail(param, str_cat("'", param, "' must be in [", min, ", ", max, "], got ", v));
  }
  return v;
}

const ordered_json& get_object(const ordered_json& value, const std::string& param) {
  if (!value.is_object()) wrong_type(param, "an object");
  return value;
}

const ordered_json& get_array(const ordered_json& value, const std::string& param) {
  if (!value.is_array()) wrong_type(param, "an array");
  return value;
}

[[noreturn]] void unsupported(const std::string& param, const std::string& what) {
  fail(param, what + " is not supported", "unsupported_parameter");
}

// ---------------------------------------------------------------- parts of a request

// Message content: a string, or an array of {"type": "text", "text": ...} parts.
std::string parse_content(const ordered_json& value, const std::string& param) {
  if (value.is_string()) return value.get<std::string>();
  if (!value.is_array()) wrong_type(param, "a string or an array of content parts");
  std::string text;
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string part_param = str_cat(param, "[", i, "]");
    const ordered_json& part = get_object(value[i], part_param);
    const ordered_json* type = member(part, "type");
    if (!type)
      fail(part_param + ".type", "a content part needs a 'type'", "missing_required_parameter");
    const std::string type_name = get_string(*type, part_param + ".type");
    if (type_name != "text")
      unsupported(part_param + ".type", "content of type '" + type_name + "'");
    const ordered_json* part_text = member(part, "text");
    if (!part_text)
      fail(part_param + ".text", "a text part needs 'text'", "missing_required_parameter");
    if (i) text += '\n';
    text += get_string(*part_text, part_param + ".text");
  }
  return text;
}

ToolCall parse_tool_call(const ordered_json& value, const std::string& param) {
  get_object(value, param);
  ToolCall call;
  if (const auto* id = member(value, "id")) call.id = get_string(*id, param + ".id");
  if (const auto* type = member(value, "type")) {
    if (get_string(*type, param + ".type") != "function") {
      fail(param + ".type", "tool call type must be 'function'");
    }
  }
  const ordered_json* function = member(value, "function");
  if (!function)
    fail(param + ".function", "a tool call needs 'function'", "missing_required_parameter");
  get_object(*function, param + ".function");
  const ordered_json* name = member(*function, "name");
  if (!name)
    fail(param + ".function.name", "a tool call needs a name", "missing_required_parameter");
  call.name = get_string(*name, param + ".function.name");
  if (const auto* arguments = member(*function, "arguments")) {
    // Clients send the arguments as JSON text (OpenAI) or, some of them, as an object.
    if (arguments->is_object()) {
      call.arguments = arguments->dump();
    } else {
      call.arguments = get_string(*arguments, param + ".function.arguments");
    }
  } else {
    call.arguments = "{}";
  }
  return call;
}

ChatMessage parse_message(const ordered_json& value, const std::string& param) {
  get_object(value, param);
  ChatMessage message;
  const ordered_json* role = member(value, "role");
  if (!role) fail(param + ".role", "a message needs a 'role'", "missing_required_parameter");
  message.role = get_string(*role, param + ".role");
  static constexpr const char* kRoles[] = {"system", "developer", "user", "assistant", "tool"};
  if (std::find(std::begin(kRoles), std::end(kRoles), message.role) == std::end(kRoles)) {
    fail(param + ".role",
         str_cat("unknown role '", message.role, "' (system, developer, user, assistant or tool)"));
  }
  const bool assistant = message.role == "assistant";
  if (const auto* name = member(value, "name")) message.name = get_string(*name, param + ".name");
  if (const auto* calls = member(value, "tool_calls")) {
    if (!assistant) fail(param + ".tool_calls", "only assistant messages have tool_calls");
    get_array(*calls, param + ".tool_calls");
    for (size_t i = 0; i < calls->size(); ++i) {
      message.tool_calls.push_back(
          parse_tool_call((*calls)[i], str_cat(param, ".tool_calls[", i, "]")));
    }
  }
  if (const auto* content = member(value, "content")) {
    message.content = parse_content(*content, param + ".content");
  } else if (assistant && !message.tool_calls.empty()) {
    message.content_null = true;
  } else {
    fail(param + ".content", "'content' is required unless an assistant message has tool_calls",
         "missing_required_parameter");
  }
  if (const auto* reasoning = member(value, "reasoning_content")) {
    if (!assistant) fail(param + ".reasoning_content", "only assistant messages have reasoning");
    message.reasoning_content = get_string(*reasoning, param + ".reasoning_content");
  }
  if (message.role == "tool") {
    const ordered_json* id = member(value, "tool_call_id");
    if (!id)
      fail(param + ".tool_call_id", "a tool message needs 'tool_call_id'",
           "missing_required_parameter");
    message.tool_call_id = get_string(*id, param + ".tool_call_id");
  }
  return message;
}

ToolDefinition parse_tool(const ordered_json& value, const std::string& param) {
  get_object(value, param);
  const ordered_json* type = member(value, "type");
  if (!type || get_string(*type, param + ".type") != "function") {
    fail(param + ".type", "tool type must be 'function'");
  }
  const ordered_json* function = member(value, "function");
  if (!function) fail(param + ".function", "a tool needs 'function'", "missing_required_parameter");
  get_object(*function, param + ".function");
  ToolDefinition tool;
  const ordered_json* name = member(*function, "name");
  if (!name) fail(param + ".function.name", "a tool needs a name", "missing_required_parameter");
  tool.name = get_string(*name, param + ".function.name");
  const bool name_ok = !tool.name.empty() && tool.name.size() <= 64 &&
                       std::all_of(tool.name.begin(), tool.name.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                       });
  if (!name_ok) fail(param + ".function.name", "tool names are 1 to 64 of a-z, A-Z, 0-9, _ and -");
  if (const auto* description = member(*function, "description")) {
    tool.description = get_string(*description, param + ".function.description");
  }
  if (const auto* parameters = member(*function, "parameters")) {
    tool.parameters = get_object(*parameters, param + ".function.parameters");
  }
  return tool;
}

void parse_tool_choice(const ordered_json& value, CompletionRequest& request) {
  if (value.is_string()) {
    const std::string choice = value.get<std::string>();
    if (choice == "auto") {
      request.tool_choice = ToolChoice::kAuto;
    } else if (choice == "none") {
      request.tool_choice = ToolChoice::kNone;
    } else if (choice == "required") {
      request.tool_choice = ToolChoice::kRequired;
    } else {
      fail("tool_choice", "tool_choice must be 'auto', 'none', 'required' or a function");
    }
  } else if (value.is_object()) {
    const ordered_json* function = member(value, "function");
    const ordered_json* name =
        function && function->is_object() ? member(*function, "name") : nullptr;
    if (!name) fail("tool_choice", "tool_choice needs function.name", "missing_required_parameter");
    request.tool_choice = ToolChoice::kFunction;
    request.tool_choice_name = get_string(*name, "tool_choice.function.name");
    const bool known =
        std::any_of(request.tools.begin(), request.tools.end(),
                    [&](const ToolDefinition& t) { return t.name == request.tool_choice_name; });
    if (!known)
      fail("tool_choice",
           str_cat("tool_choice names '", request.tool_choice_name, "', which is not in tools"));
  } else {
    wrong_type("tool_choice", "a string or an object");
  }
  if (request.tools.empty() && request.tool_choice == ToolChoice::kRequired) {
    fail("tool_choice", "tool_choice 'required' needs tools");
  }
}

void parse_prompt(const ordered_json& value, CompletionRequest& request) {
  auto parse_tokens = [&](const ordered_json& tokens, const std::string& param) {
    if (tokens.empty()) fail(param, "the prompt has no tokens");
    for (size_t i = 0; i < tokens.size(); ++i) {
      request.prompt_tokens.push_back(static_cast<int32_t>(get_integer(
          tokens[i], str_cat(param, "[", i, "]"), 0, std::numeric_limits<int32_t>::max())));
    }
  };
  if (value.is_string()) {
    request.prompt = value.get<std::string>();
    return;
  }
  if (!value.is_array() || value.empty()) {
    wrong_type("prompt", "a string, an array of token ids, or an array of one of those");
  }
  if (value[0].is_number()) {
    parse_tokens(value, "prompt");
    return;
  }
  if (value.size() > 1) unsupported("prompt", "more than one prompt per request");
  if (value[0].is_string()) {
    request.prompt = value[0].get<std::string>();
  } else if (value[0].is_array()) {
    parse_tokens(value[0], "prompt[0]");
  } else {
    wrong_type("prompt[0]", "a string or an array of token ids");
  }
}

// logit_bias: OpenAI's {"token id": bias in [-100, 100]}; as in llama-server, a bias of
// false bans the token, and [[id, bias], ...] is accepted too. Ids are checked against the
// vocabulary when the prompt is built.
void parse_logit_bias(const ordered_json& value, SamplingParams& s) {
  constexpr const char* kParam = "logit_bias";
  std::map<int32_t, float> biases;
  const auto add = [&](int64_t token, const ordered_json& bias) {
    if (token < 0 || token > std::numeric_limits<int32_t>::max()) {
      fail(kParam, str_cat("'logit_bias' token id ", token, " is out of range"));
    }
    if (bias.is_boolean()) {
      if (bias.get<bool>()) fail(kParam, "'logit_bias' takes a number or false for each token");
      biases[static_cast<int32_t>(token)] = -std::numeric_limits<float>::infinity();
    } else {
      biases[static_cast<int32_t>(token)] = static_cast<float>(get_number(bias, kParam, -100, 100));
    }
  };
  if (value.is_object()) {
    for (const auto& [key, bias] : value.items()) {
      int64_t token = 0;
      const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), token);
      if (error != std::errc() || end != key.data() + key.size()) {
        fail(kParam, str_cat("'logit_bias' keys must be token ids, got '", key, "'"));
      }
      add(token, bias);
    }
  } else if (value.is_array()) {
    for (const ordered_json& pair : value) {
      if (!pair.is_array() || pair.size() != 2)
        wrong_type(kParam, "an object or [[id, bias], ...]");
      add(get_integer(pair[0], kParam, 0, std::numeric_limits<int32_t>::max()), pair[1]);
    }
  } else {
    wrong_type(kParam, "an object");
  }
  s.logit_bias.assign(biases.begin(), biases.end());
}

void parse_sampling(const ordered_json& body, CompletionRequest& request) {
  SamplingParams& s = request.sampling;
  if (const auto* v = member(body, "temperature"))
    s.temperature = static_cast<float>(get_number(*v, "temperature", 0, 2));
  if (const auto* v = member(body, "top_p"))
    s.top_p = static_cast<float>(get_number(*v, "top_p", 0, 1));
  if (const auto* v = member(body, "top_k")) {
    // -1 (vLLM) and 0 (llama.cpp) both mean "all tokens".
    s.top_k = static_cast<int>(
        std::max<int64_t>(0, get_integer(*v, "top_k", -1, std::numeric_limits<int32_t>::max())));
  }
  if (const auto* v = member(body, "min_p"))
    s.min_p = static_cast<float>(get_number(*v, "min_p", 0, 1));
  if (const auto* v = member(body, "presence_penalty"))
    s.presence_penalty = static_cast<float>(get_number(*v, "presence_penalty", -2, 2));
  if (const auto* v = member(body, "frequency_penalty"))
    s.frequency_penalty = static_cast<float>(get_number(*v, "frequency_penalty", -2, 2));
  // vLLM calls it repetition_penalty, llama.cpp repeat_penalty.
  for (const char* name : {"repetition_penalty", "repeat_penalty"}) {
    if (const auto* v = member(body, name)) {
      const double penalty = get_number(*v, name, 0, 100);
      if (penalty == 0) fail(name, str_cat("'", name, "' must be greater than 0"));
      s.repetition_penalty = static_cast<float>(penalty);
    }
  }
  if (const auto* v = member(body, "repeat_last_n")) {
    s.penalty_last_n =
        static_cast<int>(get_integer(*v, "repeat_last_n", -1, std::numeric_limits<int32_t>::max()));
  }
  if (const auto* v = member(body, "seed")) {
    if (!v->is_number_integer()) wrong_type("seed", "an integer");
    // Negative seeds are accepted as their two's-complement bits.
    s.seed =
        v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
    request.seed_given = true;
  }
  if (const auto* v = member(body, "logit_bias")) parse_logit_bias(*v, s);
}

void parse_stop(const ordered_json& value, CompletionRequest& request,
                const ParseOptions& options) {
  if (value.is_string()) {
    if (value.get_ref<const std::string&>().empty()) fail("stop", "stop strings must not be empty");
    request.stop.push_back(value.get<std::string>());
    return;
  }
  if (!value.is_array()) wrong_type("stop", "a string or an array of strings");
  if (value.size() > options.max_stop_strings) {
    fail("stop", str_cat("at most ", options.max_stop_strings, " stop strings are allowed"));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    std::string text = get_string(value[i], str_cat("stop[", i, "]"));
    if (text.empty()) fail(str_cat("stop[", i, "]"), "stop strings must not be empty");
    request.stop.push_back(std::move(text));
  }
}

void parse_reasoning(const ordered_json& body, CompletionRequest& request) {
  if (const auto* v = member(body, "reasoning_effort")) {
    request.reasoning_effort = get_string(*v, "reasoning_effort");
    static constexpr const char* kEfforts[] = {"none", "minimal", "low", "medium", "high"};
    if (std::find(std::begin(kEfforts), std::end(kEfforts), request.reasoning_effort) ==
        std::end(kEfforts)) {
      fail("reasoning_effort", "reasoning_effort must be none, minimal, low, medium or high");
    }
    request.enable_thinking = request.reasoning_effort != "none";
  }
  if (const auto* v = member(body, "reasoning_format")) {
    const std::string format = get_string(*v, "reasoning_format");
    if (format != "none" && format != "auto" && format != "deepseek") {
      fail("reasoning_format", "reasoning_format must be none, auto or deepseek");
    }
    request.separate_reasoning = format != "none";
  }
  if (const auto* v = member(body, "chat_template_kwargs")) {
    request.chat_template_kwargs = get_object(*v, "chat_template_kwargs");
    if (const auto* thinking = member(request.chat_template_kwargs, "enable_thinking")) {
      request.enable_thinking = get_bool(*thinking, "chat_template_kwargs.enable_thinking");
    }
  }
}

}  // namespace

CompletionRequest parse_request(ApiEndpoint endpoint, std::string_view text,
                                const ParseOptions& options) {
  const ordered_json body = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) fail("", "the request body is not valid JSON", "invalid_json");
  if (!body.is_object()) fail("", "the request body must be a JSON object", "invalid_json");
  const bool chat = endpoint == ApiEndpoint::kChatCompletions;
  CompletionRequest request;
  request.endpoint = endpoint;
  request.sampling = options.default_sampling;

  if (const auto* model = member(body, "model")) request.model = get_string(*model, "model");
  if (!options.models.empty()) {
    if (request.model.empty()) {
      request.model = options.models.front();
    } else if (std::find(options.models.begin(), options.models.end(), request.model) ==
               options.models.end()) {
      throw ApiError(ApiErrorKind::kModelNotFound,
                     str_cat("The model '", request.model, "' does not exist"), "model",
                     "model_not_found");
    }
  }

  if (chat) {
    const ordered_json* messages = member(body, "messages");
    if (!messages) fail("messages", "'messages' is required", "missing_required_parameter");
    get_array(*messages, "messages");
    if (messages->empty()) fail("messages", "'messages' must not be empty");
    for (size_t i = 0; i < messages->size(); ++i) {
      request.messages.push_back(parse_message((*messages)[i], str_cat("messages[", i, "]")));
    }
    if (const auto* tools = member(body, "tools")) {
      get_array(*tools, "tools");
      for (size_t i = 0; i < tools->size(); ++i) {
        request.tools.push_back(parse_tool((*tools)[i], str_cat("tools[", i, "]")));
      }
    }
    if (const auto* choice = member(body, "tool_choice")) parse_tool_choice(*choice, request);
    if (const auto* v = member(body, "parallel_tool_calls"))
      request.parallel_tool_calls = get_bool(*v, "parallel_tool_calls");
    parse_reasoning(body, request);
  } else {
    const ordered_json* prompt = member(body, "prompt");
    if (!prompt) fail("prompt", "'prompt' is required", "missing_required_parameter");
    parse_prompt(*prompt, request);
    if (const auto* v = member(body, "echo"); v && get_bool(*v, "echo"))
      unsupported("echo", "echo");
    if (const auto* v = member(body, "suffix"); v && !get_string(*v, "suffix").empty())
      unsupported("suffix", "suffix");
  }

  // max_completion_tokens replaces max_tokens in the chat API; it wins when both are given.
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (const auto* v = member(body, name)) {
      request.max_tokens =
          static_cast<int32_t>(get_integer(*v, name, 1, std::numeric_limits<int32_t>::max()));
    }
  }
  parse_sampling(body, request);
  if (const auto* v = member(body, "stop")) parse_stop(*v, request, options);
  if (const auto* v = member(body, "ignore_eos")) request.ignore_eos = get_bool(*v, "ignore_eos");
  if (const auto* v = member(body, "n"); v && get_integer(*v, "n", 1, 128) != 1) {
    unsupported("n", "n other than 1");
  }
  if (const auto* v = member(body, "logprobs")) {
    // A boolean in the chat API, a count in the completions API.
    const bool wanted = v->is_boolean() ? v->get<bool>() : get_integer(*v, "logprobs", 0, 20) > 0;
    if (wanted) unsupported("logprobs", "logprobs");
  }
  if (const auto* v = member(body, "response_format")) {
    const ordered_json* type = member(get_object(*v, "response_format"), "type");
    if (!type || get_string(*type, "response_format.type") != "text") {
      unsupported("response_format", "a response_format other than text");
    }
  }
  if (const auto* v = member(body, "stream")) request.stream = get_bool(*v, "stream");
  if (const auto* v = member(body, "stream_options")) {
    if (!request.stream)
      fail("stream_options", "stream_options is only allowed when stream is true");
    if (const auto* usage = member(get_object(*v, "stream_options"), "include_usage")) {
      request.include_usage = get_bool(*usage, "stream_options.include_usage");
    }
  }
  return request;
}

}  // namespace tandem
