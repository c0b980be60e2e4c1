#include "text/jinja/interpreter.h"

#include <cmath>
#include <limits>

namespace tandem::jinja {

class Interpreter::DepthGuard {
 public:
  DepthGuard(Interpreter& interpreter, int line, int column) : interpreter_(interpreter) {
    if (++interpreter_.depth_ > interpreter_.limits_.max_depth) {
      interpreter_.fail(line, column, "template recursion too deep");
    }
  }
  ~DepthGuard() { --interpreter_.depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  Interpreter& interpreter_;
};

namespace {

// Pushes a scope and pops it again, also when an error unwinds.
class ScopePush {
 public:
  ScopePush(std::vector<std::unordered_map<std::string, Value>>& scopes, size_t& floor,
            bool new_floor)
      : scopes_(scopes), floor_(floor), saved_floor_(floor) {
    if (new_floor) floor_ = scopes_.size();
    scopes_.emplace_back();
  }
  ~ScopePush() {
    scopes_.pop_back();
    floor_ = saved_floor_;
  }
  ScopePush(const ScopePush&) = delete;
  ScopePush& operator=(const ScopePush&) = delete;

 private:
  std::vector<std::unordered_map<std::string, Value>>& scopes_;
  size_t& floor_;
  size_t saved_floor_;
};

// Python semantics: floor division and modulo round toward negative infinity.
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t as_integer(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1 : 0) : v.as_int(); }
bool is_integral(const Value& v) { return v.is_int() || v.is_bool(); }
bool is_numeric(const Value& v) { return v.is_number() || v.is_bool(); }
double as_real(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1.0 : 0.0) : v.as_double(); }

Value repeat(Interpreter& interpreter, const Value& sequence, int64_t count) {
  if (count <= 0) return sequence.is_string() ? Value(std::string()) : Value(ValueList{});
  size_t unit = sequence.is_string() ? sequence.as_string().size() : sequence.as_list().size();
  size_t cap = sequence.is_string() ? interpreter.limits().max_output_bytes : kMaxItems;
  if (unit != 0 && static_cast<uint64_t>(count) > cap / unit)
    throw Error("repetition result too large");
  interpreter.charge(unit * static_cast<size_t>(count) *
                     (sequence.is_string() ? 1 : sizeof(Value)));
  if (sequence.is_string()) {
    std::string out;
    for (int64_t i = 0; i < count; ++i) out += sequence.as_string();
    return Value(std::move(out));
  }
  ValueList out;
  for (int64_t i = 0; i < count; ++i) {
    out.insert(out.end(), sequence.as_list().begin(), sequence.as_list().end());
  }
  return Value(std::move(out));
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) throw Error("'in <string>' requires a string as left operand");
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& v : container.as_list()) {
      if (values_equal(v, item)) return true;
    }
    return false;
  }
  if (container.is_mapping()) return item.is_string() && container.get(item.as_string()) != nullptr;
  if (container.is_undefined()) return false;
  throw Error(str_cat("argument of type ", container.type_name(), " is not iterable"));
}

}  // namespace

Interpreter::Interpreter(const RenderLimits& limits, ValueDict globals) : limits_(limits) {
  scopes_.emplace_back();
  for (auto& [name, value] : builtin_globals()) scopes_[0][name] = std::move(value);
  for (auto& [name, value] : globals) scopes_[0][name] = std::move(value);
}

void Interpreter::fail(int line, int column, const std::string& message) const {
  throw TemplateError(str_cat("template:", line, ":", column, ": ", message));
}

void Interpreter::charge(size_t bytes) {
  steps_ += 1 + bytes / 32;
  if (steps_ > limits_.max_steps) throw Error("template exceeded its work budget");
}

std::string Interpreter::render(const NodeList& nodes) {
  std::string out;
  if (render_nodes(nodes, out) != Flow::kNormal) fail(0, 0, "'break' or 'continue' outside a loop");
  return out;
}

void Interpreter::append(std::string& out, const std::string& text) {
  output_bytes_ += text.size();
  if (output_bytes_ > limits_.max_output_bytes) {
    throw Error(str_cat("template output exceeds ", limits_.max_output_bytes, " bytes"));
  }
  charge(text.size());
  out += text;
}

Interpreter::Flow Interpreter::render_nodes(const NodeList& nodes, std::string& out) {
  for (const auto& node : nodes) {
    Flow flow = render_node(*node, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::render_node(const Node& node, std::string& out) {
  DepthGuard guard(*this, node.line, node.column);
  Flow flow = Flow::kNormal;
  try {
    switch (node.kind) {
      case Node::Kind::kText:
        append(out, node.text);
        break;
      case Node::Kind::kOutput:
        append(out, evaluate(*node.expr).to_string());
        break;
      case Node::Kind::kIf:
        render_if(node, out, flow);
        break;
      case Node::Kind::kFor:
        flow = render_for(node, out);
        break;
      case Node::Kind::kSet:
        render_set(node);
        break;
      case Node::Kind::kSetBlock:
      case Node::Kind::kFilterBlock: {
        std::string buffer;
        if (render_nodes(node.body, buffer) != Flow::kNormal) {
          fail(node.line, node.column, "'break' or 'continue' outside a loop");
        }
        Value value(std::move(buffer));
        if (node.expr) {
          // Apply the filter chain innermost first; its innermost operand is the body.
          std::vector<const Expr*> chain;
          for (const Expr* e = node.expr.get(); e != nullptr; e = e->children[0].get()) {
            chain.push_back(e);
          }
          for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
            value = apply_filter((*it)->name, value, evaluate_arguments(**it, 1));
          }
        }
        if (node.kind == Node::Kind::kSetBlock) {
          assign(node.targets[0], std::move(value));
        } else {
          append(out, value.to_string());
        }
        break;
      }
      case Node::Kind::kMacro:
        assign(node.text, make_macro(node));
        break;
      case Node::Kind::kCallBlock: {
        const Node* call_node = &node;
        size_t call_floor = scope_floor_;
        Value caller = Value::function(
            "caller", [call_node, call_floor](Interpreter& in, const CallArgs& args) {
              size_t saved = in.scope_floor_;
              in.scope_floor_ = call_floor;
              ScopePush scope(in.scopes_, in.scope_floor_, false);
              for (size_t i = 0; i < call_node->parameters.size(); ++i) {
                const MacroParameter& p = call_node->parameters[i];
                const Value* arg = args.find(i, p.name);
                in.assign(p.name, arg               ? *arg
                                  : p.default_value ? in.evaluate(*p.default_value)
                                                    : Value());
              }
              std::string body;
              in.render_nodes(call_node->body, body);
              in.scope_floor_ = saved;
              return Value(std::move(body));
            });
        Value callee = evaluate(*node.expr->children[0]);
        CallArgs args = evaluate_arguments(*node.expr, 1);
        args.keyword.emplace_back("caller", caller);
        append(out, call(callee, args).to_string());
        break;
      }
      case Node::Kind::kBreak:
        return Flow::kBreak;
      case Node::Kind::kContinue:
        return Flow::kContinue;
    }
  } catch (const TemplateError&) {
    throw;
  } catch (const std::exception& e) {
    fail(node.line, node.column, e.what());
  }
  return flow;
}

void Interpreter::render_if(const Node& node, std::string& out, Flow& flow) {
  for (const auto& [condition, body] : node.branches) {
    if (evaluate(*condition).truthy()) {
      flow = render_nodes(body, out);
      return;
    }
  }
  flow = render_nodes(node.else_body, out);
}

Interpreter::Flow Interpreter::render_for(const Node& node, std::string& out) {
  Value iterable = evaluate(*node.expr);
  ValueList items = iterate(iterable);
  ScopePush scope(scopes_, scope_floor_, false);
  if (node.condition) {
    ValueList kept;
    for (const Value& item : items) {
      charge(0);
      bind_targets(node.targets, item, node);
      if (evaluate(*node.condition).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) return render_nodes(node.else_body, out);
  const auto length = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < length; ++i) {
    charge(0);
    ValueList cycle_items;
    ValueDict loop = {
        {"index", Value(i + 1)},
        {"index0", Value(i)},
        {"revindex", Value(length - i)},
        {"revindex0", Value(length - i - 1)},
        {"first", Value(i == 0)},
        {"last", Value(i == length - 1)},
        {"length", Value(length)},
        {"depth", Value(1)},
        {"depth0", Value(0)},
    };
    if (i > 0) loop.emplace_back("previtem", items[static_cast<size_t>(i - 1)]);
    if (i + 1 < length) loop.emplace_back("nextitem", items[static_cast<size_t>(i + 1)]);
    loop.emplace_back("cycle", Value::function("cycle", [i](Interpreter&, const CallArgs& args) {
                        if (args.positional.empty())
                          throw Error("loop.cycle needs at least one argument");
                        return args.positional[static_cast<size_t>(i) % args.positional.size()];
                      }));
    assign("loop", Value(std::move(loop)));
    bind_targets(node.targets, items[static_cast<size_t>(i)], node);
    if (render_nodes(node.body, out) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Interpreter::render_set(const Node& node) {
  Value value = evaluate(*node.expr);
  if (node.attribute.empty()) {
    bind_targets(node.targets, value, node);
    return;
  }
  Value target = lookup(node.targets[0]);
  if (target.type() != Value::Type::kNamespace) {
    fail(node.line, node.column,
         str_cat("cannot set attribute '", node.attribute, "' on ", target.type_name(), " '",
                 node.targets[0], "'"));
  }
  if (value.depth() >= kNamespaceDepth) fail(node.line, node.column, "value nested too deeply");
  for (auto& [key, current] : target.namespace_attributes()) {
    if (key == node.attribute) {
      current = std::move(value);
      return;
    }
  }
  target.namespace_attributes().emplace_back(node.attribute, std::move(value));
}

Value Interpreter::lookup(const std::string& name) const {
  for (size_t i = scopes_.size(); i-- > scope_floor_;) {
    auto it = scopes_[i].find(name);
    if (it != scopes_[i].end()) return it->second;
  }
  auto it = scopes_[0].find(name);
  return it != scopes_[0].end() ? it->second : Value();
}

void Interpreter::assign(const std::string& name, Value value) {
  scopes_.back()[name] = std::move(value);
}

void Interpreter::bind_targets(const std::vector<std::string>& targets, const Value& value,
                               const Node& at) {
  if (targets.size() == 1) {
    assign(targets[0], value);
    return;
  }
  if (!value.is_list() || value.as_list().size() != targets.size()) {
    fail(at.line, at.column,
         str_cat("cannot unpack ", value.type_name(), " into ", targets.size(), " names"));
  }
  for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], value.as_list()[i]);
}

Value Interpreter::make_macro(const Node& node) {
  const Node* macro = &node;
  return Value::function(node.text, [macro](Interpreter& in, const CallArgs& args) {
    const Value* caller = nullptr;
    for (const auto& [key, value] : args.keyword) {
      if (key == "caller") caller = &value;
    }
    return in.call_macro(*macro, args, caller ? *caller : Value());
  });
}

Value Interpreter::call_macro(const Node& node, const CallArgs& args, const Value& caller) {
  DepthGuard guard(*this, node.line, node.column);
  ScopePush scope(scopes_, scope_floor_, true);
  ValueList varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i >= node.parameters.size()) varargs.push_back(args.positional[i]);
  }
  ValueDict kwargs;
  for (const auto& [key, value] : args.keyword) {
    bool is_parameter = key == "caller";
    for (const auto& p : node.parameters) is_parameter = is_parameter || p.name == key;
    if (!is_parameter) kwargs.emplace_back(key, value);
  }
  for (size_t i = 0; i < node.parameters.size(); ++i) {
    const MacroParameter& p = node.parameters[i];
    const Value* arg = args.find(i, p.name);
    assign(p.name, arg ? *arg : p.default_value ? evaluate(*p.default_value) : Value());
  }
  assign("varargs", Value(std::move(varargs)));
  assign("kwargs", Value(std::move(kwargs)));
  if (!caller.is_undefined()) assign("caller", caller);
  std::string out;
  if (render_nodes(node.body, out) != Flow::kNormal) {
    fail(node.line, node.column, "'break' or 'continue' outside a loop");
  }
  return Value(std::move(out));
}

Value Interpreter::call(const Value& function, const CallArgs& args) {
  if (!function.is_function()) {
    throw Error(
        str_cat("'", function.to_string(), "' (", function.type_name(), ") is not callable"));
  }
  return function.as_function()(*this, args);
}

Value Interpreter::apply_filter(const std::string& name, const Value& input, const CallArgs& args) {
  return builtin_filter(*this, name, input, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& input, const CallArgs& args) {
  return builtin_test(*this, name, input, args);
}

CallArgs Interpreter::evaluate_arguments(const Expr& expr, size_t first_child) {
  CallArgs args;
  for (size_t i = first_child; i < expr.children.size(); ++i) {
    args.positional.push_back(evaluate(*expr.children[i]));
  }
  for (const auto& [key, value] : expr.keywords) args.keyword.emplace_back(key, evaluate(*value));
  return args;
}

Value Interpreter::evaluate(const Expr& expr) {
  DepthGuard guard(*this, expr.line, expr.column);
  try {
    charge(0);
    switch (expr.kind) {
      case Expr::Kind::kLiteral:
        return expr.literal;
      case Expr::Kind::kName:
        return lookup(expr.name);
      case Expr::Kind::kAttribute:
        return evaluate_attribute(evaluate(*expr.children[0]), expr.name);
      case Expr::Kind::kIndex:
        return evaluate_index(evaluate(*expr.children[0]), evaluate(*expr.children[1]));
      case Expr::Kind::kSlice:
        return evaluate_slice(expr);
      case Expr::Kind::kCall:
        return evaluate_call(expr);
      case Expr::Kind::kFilter: {
        Value input = evaluate(*expr.children[0]);
        return apply_filter(expr.name, input, evaluate_arguments(expr, 1));
      }
      case Expr::Kind::kTest: {
        Value input = evaluate(*expr.children[0]);
        bool result = apply_test(expr.name, input, evaluate_arguments(expr, 1));
        return Value(expr.negated ? !result : result);
      }
      case Expr::Kind::kUnary: {
        Value operand = evaluate(*expr.children[0]);
        if (expr.name == "not") return Value(!operand.truthy());
        if (!is_numeric(operand)) {
          throw Error(str_cat("bad operand type for unary ", expr.name, ": ", operand.type_name()));
        }
        if (expr.name == "+") return is_integral(operand) ? Value(as_integer(operand)) : operand;
        if (is_integral(operand)) {
          if (as_integer(operand) == std::numeric_limits<int64_t>::min())
            throw Error("integer overflow");
          return Value(-as_integer(operand));
        }
        return Value(-operand.as_double());
      }
      case Expr::Kind::kBinary:
        return evaluate_binary(expr);
      case Expr::Kind::kConditional:
        if (evaluate(*expr.children[1]).truthy()) return evaluate(*expr.children[0]);
        return expr.children[2] ? evaluate(*expr.children[2]) : Value();
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        ValueList items;
        for (const auto& child : expr.children) items.push_back(evaluate(*child));
        return Value(std::move(items));
      }
      case Expr::Kind::kDict: {
        ValueDict dict;
        for (size_t i = 0; i + 1 < expr.children.size(); i += 2) {
          Value key = evaluate(*expr.children[i]);
          Value value = evaluate(*expr.children[i + 1]);
          std::string name = key.to_string();
          bool replaced = false;
          for (auto& entry : dict) {
            if (entry.first == name) {
              entry.second = value;
              replaced = true;
            }
          }
          if (!replaced) dict.emplace_back(std::move(name), std::move(value));
        }
        return Value(std::move(dict));
      }
    }
  } catch (const TemplateError&) {
    throw;
  } catch (const std::exception& e) {
    fail(expr.line, expr.column, e.what());
  }
  return Value();
}

Value Interpreter::evaluate_binary(const Expr& expr) {
  const std::string& op = expr.name;
  Value left = evaluate(*expr.children[0]);
  if (op == "and") return left.truthy() ? evaluate(*expr.children[1]) : left;
  if (op == "or") return left.truthy() ? left : evaluate(*expr.children[1]);
  Value right = evaluate(*expr.children[1]);
  if (op == "==") return Value(values_equal(left, right));
  if (op == "!=") return Value(!values_equal(left, right));
  if (op == "<") return Value(values_less(left, right));
  if (op == ">") return Value(values_less(right, left));
  if (op == "<=") return Value(!values_less(right, left));
  if (op == ">=") return Value(!values_less(left, right));
  if (op == "in") return Value(contains(right, left));
  if (op == "not in") return Value(!contains(right, left));
  if (op == "~") {
    std::string text = left.to_string() + right.to_string();
    charge(text.size());
    if (text.size() > limits_.max_output_bytes) throw Error("string result too large");
    return Value(std::move(text));
  }
  if (op == "+") {
    if (left.is_string() && right.is_string()) {
      std::string text = left.as_string() + right.as_string();
      charge(text.size());
      if (text.size() > limits_.max_output_bytes) throw Error("string result too large");
      return Value(std::move(text));
    }
    if (left.is_list() && right.is_list()) {
      if (left.as_list().size() + right.as_list().size() > kMaxItems) throw Error("list too long");
      ValueList items = left.as_list();
      items.insert(items.end(), right.as_list().begin(), right.as_list().end());
      charge(items.size() * sizeof(Value));
      return Value(std::move(items));
    }
  }
  if (op == "*") {
    if ((left.is_string() || left.is_list()) && is_integral(right))
      return repeat(*this, left, as_integer(right));
    if ((right.is_string() || right.is_list()) && is_integral(left))
      return repeat(*this, right, as_integer(left));
  }
  if (!is_numeric(left) || !is_numeric(right)) {
    throw Error(str_cat("unsupported operand types for ", op, ": ", left.type_name(), " and ",
                        right.type_name()));
  }
  bool integral = is_integral(left) && is_integral(right);
  if (op == "/") {
    if (as_real(right) == 0.0) throw Error("division by zero");
    return Value(as_real(left) / as_real(right));
  }
  if (integral) {
    int64_t a = as_integer(left);
    int64_t b = as_integer(right);
    int64_t r = 0;
    if (op == "+" && !__builtin_add_overflow(a, b, &r)) return Value(r);
    if (op == "-" && !__builtin_sub_overflow(a, b, &r)) return Value(r);
    if (op == "*" && !__builtin_mul_overflow(a, b, &r)) return Value(r);
    if (op == "//" || op == "%") {
      if (b == 0) throw Error("division by zero");
      if (a == std::numeric_limits<int64_t>::min() && b == -1) throw Error("integer overflow");
      int64_t q = floor_div(a, b);
      return Value(op == "//" ? q : a - q * b);
    }
    if (op == "**" && b >= 0) {
      int64_t result = 1;
      for (int64_t i = 0; i < b; ++i) {
        if (__builtin_mul_overflow(result, a, &result)) throw Error("integer overflow");
        if (result == 0 || result == 1) break;
        if (result == -1) {
          result = (b - i - 1) % 2 == 0 ? -1 : 1;
          break;
        }
      }
      return Value(result);
    }
    if (op == "+" || op == "-" || op == "*") throw Error("integer overflow");
  }
  double a = as_real(left);
  double b = as_real(right);
  if (op == "+") return Value(a + b);
  if (op == "-") return Value(a - b);
  if (op == "*") return Value(a * b);
  if (op == "**") return Value(std::pow(a, b));
  if (op == "//" || op == "%") {
    if (b == 0.0) throw Error("division by zero");
    double q = std::floor(a / b);
    return Value(op == "//" ? q : a - q * b);
  }
  throw Error(str_cat("unknown operator ", op));
}

Value Interpreter::evaluate_call(const Expr& expr) {
  const Expr& callee = *expr.children[0];
  if (callee.kind == Expr::Kind::kAttribute) {
    Value object = evaluate(*callee.children[0]);
    if (has_method(object, callee.name)) {
      bool found = false;
      return call_method(*this, object, callee.name, evaluate_arguments(expr, 1), found);
    }
    Value function = evaluate_attribute(object, callee.name);
    return call(function, evaluate_arguments(expr, 1));
  }
  Value function = evaluate(callee);
  return call(function, evaluate_arguments(expr, 1));
}

Value Interpreter::evaluate_attribute(const Value& object, const std::string& name) {
  if (object.is_mapping()) {
    if (const Value* member = object.get(name)) return *member;
  }
  if (has_method(object, name)) {
    return Value::function(name, [object, name](Interpreter& in, const CallArgs& args) {
      bool found = false;
      return call_method(in, object, name, args, found);
    });
  }
  return Value();
}

Value Interpreter::evaluate_index(const Value& object, const Value& key) {
  if (object.is_mapping()) {
    if (!key.is_string()) return Value();
    const Value* member = object.get(key.as_string());
    return member ? *member : Value();
  }
  if ((object.is_list() || object.is_string()) && is_integral(key)) {
    int64_t index = as_integer(key);
    if (object.is_list()) {
      auto size = static_cast<int64_t>(object.as_list().size());
      if (index < 0) index += size;
      if (index < 0 || index >= size) return Value();
      return object.as_list()[static_cast<size_t>(index)];
    }
    const std::string& text = object.as_string();
    std::vector<size_t> offsets = code_point_offsets(text);
    auto size = static_cast<int64_t>(offsets.size());
    if (index < 0) index += size;
    if (index < 0 || index >= size) return Value();
    size_t begin = offsets[static_cast<size_t>(index)];
    size_t end = static_cast<size_t>(index) + 1 < offsets.size()
                     ? offsets[static_cast<size_t>(index) + 1]
                     : text.size();
    return Value(text.substr(begin, end - begin));
  }
  return Value();
}

Value Interpreter::evaluate_slice(const Expr& expr) {
  Value object = evaluate(*expr.children[0]);
  auto bound = [&](size_t i) -> std::optional<int64_t> {
    if (!expr.children[i]) return std::nullopt;
    Value v = evaluate(*expr.children[i]);
    if (v.is_none()) return std::nullopt;
    if (!is_integral(v)) throw Error("slice indices must be integers or none");
    return as_integer(v);
  };
  std::optional<int64_t> start = bound(1), stop = bound(2), step_value = bound(3);
  int64_t step = step_value.value_or(1);
  if (step == 0) throw Error("slice step cannot be zero");
  std::vector<size_t> offsets;
  int64_t size = 0;
  if (object.is_list()) {
    size = static_cast<int64_t>(object.as_list().size());
  } else if (object.is_string()) {
    offsets = code_point_offsets(object.as_string());
    size = static_cast<int64_t>(offsets.size());
  } else {
    throw Error(str_cat("cannot slice a ", object.type_name()));
  }
  // Python's slice.indices().
  auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t x = *v < 0 ? *v + size : *v;
    if (step > 0) return std::clamp<int64_t>(x, 0, size);
    return std::clamp<int64_t>(x, -1, size - 1);
  };
  int64_t first = clamp(start, step > 0 ? 0 : size - 1);
  int64_t last = clamp(stop, step > 0 ? size : -1);
  std::vector<size_t> picked;
  for (int64_t i = first; step > 0 ? i < last : i > last; i += step)
    picked.push_back(static_cast<size_t>(i));
  charge(picked.size());
  if (object.is_list()) {
    ValueList items;
    for (size_t i : picked) items.push_back(object.as_list()[i]);
    return Value(std::move(items));
  }
  const std::string& text = object.as_string();
  std::string out;
  for (size_t i : picked) {
    size_t end = i + 1 < offsets.size() ? offsets[i + 1] : text.size();
    out.append(text, offsets[i], end - offsets[i]);
  }
  return Value(std::move(out));
}

}  // namespace tandem::jinja
