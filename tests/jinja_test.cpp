// Engine behaviour that Python's jinja2 cannot serve as an oracle for: error positions,
// resource limits on hostile templates, and Value printing details.

#include <gtest/gtest.h>

#include <string>

#include "platform/error.h"
#include "text/jinja/template.h"
#include "text/jinja/value.h"

namespace tandem::jinja {
namespace {

using Json = nlohmann::ordered_json;

// The message of the Error thrown by parsing and rendering `source`, or "" if none.
std::string error_of(const std::string& source, const Json& context = Json::object(),
                     const RenderLimits& limits = {}) {
  try {
    Template(source).render(context, limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JinjaErrors, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("a\n  {% foo %}"), "template:2:6: unknown tag 'foo'");
  EXPECT_EQ(error_of("{{ 1 + }}"), "template:1:8: unexpected '}}'");
  EXPECT_EQ(error_of("x\n{% if a %}\nb"),
            "template:3:2: unexpected end of template, expected 'endif'");
  EXPECT_EQ(error_of("ab {{ 'open }}"), "template:1:7: unterminated string literal");
  EXPECT_EQ(error_of("\n\n {# never closed"), "template:3:2: unclosed comment");
  EXPECT_EQ(error_of("{{ a b }}"), "template:1:6: expected '}}', got 'b'");
  EXPECT_EQ(error_of("{% for x in %}{% endfor %}"), "template:1:13: unexpected '%}'");
  EXPECT_EQ(error_of("{% set x %}"),
            "template:1:12: unexpected end of template, expected 'endset'");
  EXPECT_EQ(error_of("{{ x @ y }}"), "template:1:6: unexpected character '@'");
  EXPECT_EQ(error_of("{% endif %}"), "template:1:4: unknown tag 'endif'");
  EXPECT_EQ(error_of("{{ x.99999999999999999999 }}"), "template:1:6: integer literal out of range");
  EXPECT_EQ(error_of("{{ 99999999999999999999 }}"), "template:1:4: integer literal out of range");
}

TEST(JinjaErrors, EvaluationErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("ok\n {{ 1 + 'a' }}"),
            "template:2:7: unsupported operand types for +: int and string");
  EXPECT_EQ(error_of("{{ raise_exception('No user query found') }}"),
            "template:1:4: raise_exception: No user query found");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "template:1:6: division by zero");
  EXPECT_EQ(error_of("{{ x | nosuchfilter }}"), "template:1:8: unknown filter 'nosuchfilter'");
  EXPECT_EQ(error_of("{{ x is nosuchtest }}"), "template:1:9: unknown test 'nosuchtest'");
  EXPECT_EQ(error_of("{{ 5() }}"), "template:1:4: '5' (int) is not callable");
  EXPECT_EQ(error_of("{% for a, b in [1] %}{% endfor %}"),
            "template:1:4: cannot unpack int into 2 names");
  EXPECT_EQ(error_of("{% set x = 1 %}{% set x.y = 2 %}"),
            "template:1:19: cannot set attribute 'y' on int 'x'");
  EXPECT_EQ(error_of("{% for x in 5 %}{% endfor %}"), "template:1:4: 'int' object is not iterable");
}

TEST(JinjaLimits, RecursiveMacroFailsCleanly) {
  std::string message = error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_NE(message.find("recursion too deep"), std::string::npos) << message;
}

TEST(JinjaLimits, DeeplyNestedSourceFailsCleanly) {
  for (const std::string& source :
       {"{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}",
        "{{ " + std::string(100000, '[') + " }}", "{{ 1" + std::string(300000, '+') + " }}",
        "{{ x" + std::string(100000, '.') + " }}", "{{ not" + std::string(100000, '-') + "1 }}",
        [] {
          std::string s = "{{ 1";
          for (int i = 0; i < 50000; ++i) s += " ~ 1";
          return s + " }}";
        }(),
        [] {
          std::string s;
          for (int i = 0; i < 50000; ++i) s += "{% if true %}";
          return s;
        }()}) {
    std::string message = error_of(source);
    EXPECT_NE(message.find("template:"), std::string::npos)
        << source.substr(0, 20) << ": " << message;
  }
}

TEST(JinjaLimits, OutputAndWorkAreBounded) {
  RenderLimits limits;
  limits.max_output_bytes = 1 << 20;
  limits.max_steps = 2'000'000;
  const char* hostile[] = {
      "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxxxxxxxx{% endfor %}{% "
      "endfor %}",
      "{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}",
      "{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% "
      "endfor %}",
      "{{ 'a' * 10000000000 }}",
      "{{ [1] * 10000000000 }}",
      "{{ range(10000000000) | length }}",
      "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor "
      "%}",
      "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}",
      "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% "
      "endfor %}",
      "{{ ('x' * 1000000).replace('', 'yy') }}",
  };
  for (const char* source : hostile) {
    std::string message = error_of(source, Json::object(), limits);
    EXPECT_NE(message.find("template:"), std::string::npos) << source << ": " << message;
  }
}

TEST(JinjaValue, FloatsPrintLikePython) {
  EXPECT_EQ(format_float(1.0), "1.0");
  EXPECT_EQ(format_float(0.1), "0.1");
  EXPECT_EQ(format_float(-2.5), "-2.5");
  EXPECT_EQ(format_float(1e16), "1e+16");
  EXPECT_EQ(format_float(123456789012345.0), "123456789012345.0");
  EXPECT_EQ(format_float(0.0001), "0.0001");
  EXPECT_EQ(format_float(0.00001), "1e-05");
  EXPECT_EQ(format_float(1.5e-300), "1.5e-300");
}

TEST(JinjaValue, JsonInputKeepsOrderAndTypes) {
  Json input = Json::parse(R"({"z": 1, "a": [true, null, 2.0, "s"], "m": {"y": {}, "b": []}})");
  Value value = Value::from_json(input);
  EXPECT_EQ(value.to_json(), R"({"z": 1, "a": [true, null, 2.0, "s"], "m": {"y": {}, "b": []}})");
  EXPECT_EQ(value.to_string(), R"({'z': 1, 'a': [True, None, 2.0, 's'], 'm': {'y': {}, 'b': []}})");
  std::string deep(2000, '[');
  deep += std::string(2000, ']');
  EXPECT_THROW(Value::from_json(Json::parse(deep)), Error);
}

TEST(JinjaTemplate, RendersManyTimesWithoutSharedState) {
  Template tmpl(
      "{% set ns = namespace(n=0) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n "
      "}}");
  EXPECT_EQ(tmpl.render(Json{{"xs", {1, 2, 3}}}), "6");
  EXPECT_EQ(tmpl.render(Json{{"xs", {4}}}), "4");
}

}  // namespace
}  // namespace tandem::jinja
