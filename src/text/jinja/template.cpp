#include "text/jinja/template.h"

#include "text/jinja/parser.h"

namespace tandem::jinja {

Template::Template(std::string_view source, const LexerOptions& options)
    : nodes_(parse(tokenize(source, options))) {}

std::string Template::render(const nlohmann::ordered_json& context,
                             const RenderLimits& limits) const {
  if (!context.is_object()) throw Error("template context must be a JSON object");
  Value converted = Value::from_json(context);
  return render(converted.as_dict(), limits);
}

std::string Template::render(ValueDict globals, const RenderLimits& limits) const {
  Interpreter interpreter(limits, std::move(globals));
  return interpreter.render(nodes_);
}

}  // namespace tandem::jinja
