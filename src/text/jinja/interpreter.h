#pragma once
// Evaluates a parsed template against a context of global values.
//
// Templates are user input, so every resource is bounded: output bytes, work steps
// (each expression, loop iteration and copied string byte costs), and the depth of
// nested evaluation (blocks, expressions, macro calls). Exceeding a bound, like any
// other evaluation failure, throws TemplateError with the line and column.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/error.h"
#include "text/jinja/ast.h"
#include "text/jinja/value.h"

namespace tandem::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{32} << 20;
  uint64_t max_steps = 20'000'000;
  int max_depth = 500;
};

// An Error that already carries "template:LINE:COL:".
class TemplateError : public Error {
 public:
  using Error::Error;
};

class Interpreter {
 public:
  Interpreter(const RenderLimits& limits, ValueDict globals);
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  std::string render(const NodeList& nodes);

  // Calls a function value (macro or builtin).
  Value call(const Value& function, const CallArgs& args);
  Value apply_filter(const std::string& name, const Value& input, const CallArgs& args);
  bool apply_test(const std::string& name, const Value& input, const CallArgs& args);
  // Charges work for producing `bytes` of string data and checks the step budget.
  void charge(size_t bytes);
  const RenderLimits& limits() const { return limits_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Scope = std::unordered_map<std::string, Value>;

  class DepthGuard;

  Flow render_nodes(const NodeList& nodes, std::string& out);
  Flow render_node(const Node& node, std::string& out);
  void render_if(const Node& node, std::string& out, Flow& flow);
  Flow render_for(const Node& node, std::string& out);
  void render_set(const Node& node);
  void append(std::string& out, const std::string& text);

  Value evaluate(const Expr& expr);
  Value evaluate_binary(const Expr& expr);
  Value evaluate_call(const Expr& expr);
  Value evaluate_attribute(const Value& object, const std::string& name);
  Value evaluate_index(const Value& object, const Value& key);
  Value evaluate_slice(const Expr& expr);
  CallArgs evaluate_arguments(const Expr& expr, size_t first_child);

  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value value);
  void bind_targets(const std::vector<std::string>& targets, const Value& value, const Node& at);
  Value make_macro(const Node& node);
  Value call_macro(const Node& node, const CallArgs& args, const Value& caller);

  [[noreturn]] void fail(int line, int column, const std::string& message) const;

  RenderLimits limits_;
  std::vector<Scope> scopes_;  // scopes_[0]: globals and top-level variables
  size_t scope_floor_ = 1;     // local scopes below this belong to a macro's caller
  uint64_t steps_ = 0;
  size_t output_bytes_ = 0;
  int depth_ = 0;
};

// Builtins (builtins.cpp). They throw plain Error; the interpreter adds the position.
Value builtin_filter(Interpreter& interpreter, const std::string& name, const Value& input,
                     const CallArgs& args);
bool builtin_test(Interpreter& interpreter, const std::string& name, const Value& input,
                  const CallArgs& args);
// A method of a string, dict or list (e.g. "strip", "items"); sets `found` false if none.
Value call_method(Interpreter& interpreter, const Value& object, const std::string& name,
                  const CallArgs& args, bool& found);
bool has_method(const Value& object, const std::string& name);
// range, namespace, dict, raise_exception, strftime_now.
ValueDict builtin_globals();
// Iteration order of a value in a for loop: list items, dict keys, string characters.
ValueList iterate(const Value& value);

}  // namespace tandem::jinja
