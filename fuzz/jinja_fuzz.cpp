// libFuzzer target: any template text must either render or be refused with
// tandem::Error, never crash, hang or exhaust memory. Rendered against a small fixed
// chat context with tight limits so each input finishes quickly.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/error.h"
#include "text/jinja/template.h"

namespace {

const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json kContext = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": "<think>\nhm\n</think>\n\nChecking.",
       "tool_calls": [{"type": "function",
                       "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "content": "18 C"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "add_generation_prompt": true, "enable_thinking": false,
    "bos_token": "<s>", "eos_token": "</s>", "n": 3, "x": 1.5, "ok": true, "nothing": null})");
  return kContext;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tandem::jinja::RenderLimits limits;
  limits.max_output_bytes = 1 << 16;
  limits.max_steps = 200'000;
  limits.max_depth = 200;
  try {
    tandem::jinja::Template tmpl(std::string_view(reinterpret_cast<const char*>(data), size));
    std::string out = tmpl.render(context(), limits);
    (void)out;
  } catch (const tandem::Error&) {
  }
  return 0;
}
