#pragma once
// Tokens -> syntax tree, with Jinja2's operator precedence (lowest first): conditional
// `x if c else y`, or, and, not, comparisons / in / not in, + -, ~, * / // %, **,
// unary - +, then postfix (attribute, subscript, call) and filters / tests.

#include <vector>

#include "text/jinja/ast.h"
#include "text/jinja/lexer.h"

namespace tandem::jinja {

// Nesting of expressions and blocks is bounded so hostile input cannot exhaust the stack.
constexpr int kMaxParseDepth = 200;

// Throws tandem::Error "template:LINE:COL: ..." on a syntax error.
NodeList parse(const std::vector<Token>& tokens);

}  // namespace tandem::jinja
