#pragma once
// Syntax tree of a parsed template. Expressions and statements are tagged structs with
// child vectors; the meaning of each child slot is given per kind below.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/value.h"

namespace tandem::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,    // literal
    kName,       // name
    kAttribute,  // children[0].name
    kIndex,      // children[0][children[1]]
    kSlice,      // children[0][children[1]:children[2]:children[3]] (null = omitted)
    kCall,       // children[0](children[1..], keywords)
    kFilter,     // children[0] | name(children[1..], keywords)
    kTest,       // children[0] is [not] name(children[1..]); negated for `is not`
    kUnary,      // name in {"not", "-", "+"}; children[0]
    kBinary,     // children[0] name children[1]; name is the operator ("and", "in", "not in", ...)
    kConditional,  // children[0] if children[1] else children[2] (children[2] may be null)
    kList,         // [children...]
    kTuple,        // (children...)
    kDict,         // {children[0]: children[1], children[2]: children[3], ...}
  };

  Kind kind;
  int line = 0;
  int column = 0;
  int depth = 1;  // height of this subtree, bounded by the parser
  std::string name;
  Value literal;
  bool negated = false;
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
};

struct Node;
using NodeList = std::vector<std::unique_ptr<Node>>;

struct MacroParameter {
  std::string name;
  ExprPtr default_value;  // null when required
};

struct Node {
  enum class Kind {
    kText,         // text
    kOutput,       // {{ expr }}
    kIf,           // branches: (condition, body)...; else_body
    kFor,          // for targets in expr [if condition]: body [else else_body]
    kSet,          // set targets = expr, or set target.attribute = expr
    kSetBlock,     // {% set targets[0] %}body{% endset %}, optional filter in expr
    kMacro,        // macro name(parameters): body
    kCallBlock,    // {% call[(parameters)] expr %}body{% endcall %}
    kFilterBlock,  // {% filter expr %}body{% endfilter %}; expr's children[0] is null
    kBreak,
    kContinue,
  };

  Kind kind;
  int line = 0;
  int column = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  std::vector<std::string> targets;
  std::string attribute;  // set ns.attribute
  std::vector<std::pair<ExprPtr, NodeList>> branches;
  NodeList body;
  NodeList else_body;
  std::vector<MacroParameter> parameters;
};

}  // namespace tandem::jinja
