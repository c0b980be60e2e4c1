#pragma once
// Template text -> tokens. Text between tags becomes kText tokens with Jinja2's
// whitespace control already applied: `{%-`/`-%}` strip all whitespace on that side,
// trim_blocks drops the first newline after a block or comment tag, lstrip_blocks drops
// spaces and tabs between the start of a line and a block or comment tag (`{%+` opts out).
// Comments produce no tokens. Newlines are normalized to "\n" and one trailing newline
// of the template is dropped, as Jinja2 does by default.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::jinja {

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

enum class TokenType {
  kText,
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kInteger,
  kFloat,
  kString,    // value holds the unescaped text
  kOperator,  // value holds the operator text, e.g. "//", "(", "|"
  kEnd,
};

struct Token {
  TokenType type;
  std::string value;
  int line = 1;
  int column = 1;
};

// Throws tandem::Error "template:LINE:COL: ..." on malformed input.
std::vector<Token> tokenize(std::string_view source, const LexerOptions& options);

}  // namespace tandem::jinja
