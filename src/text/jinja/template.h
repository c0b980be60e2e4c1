#pragma once
// A compiled Jinja2 template (the subset chat templates use), rendered with the
// settings transformers uses for chat templates: trim_blocks, lstrip_blocks, no
// autoescape, `tojson` as Python's json.dumps(ensure_ascii=False).
//
//   jinja::Template t("{% for m in messages %}{{ m.role }}{% endfor %}");
//   std::string text = t.render(nlohmann::ordered_json{{"messages", ...}});
//
// Syntax and evaluation errors throw tandem::Error "template:LINE:COL: message".

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "text/jinja/ast.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/lexer.h"

namespace tandem::jinja {

class Template {
 public:
  explicit Template(std::string_view source, const LexerOptions& options = {});

  // `context` must be a JSON object; its members become the template's global variables.
  std::string render(const nlohmann::ordered_json& context, const RenderLimits& limits = {}) const;
  // Same, with values already converted (e.g. holding functions).
  std::string render(ValueDict globals, const RenderLimits& limits = {}) const;

 private:
  NodeList nodes_;
};

}  // namespace tandem::jinja
