#pragma once
// Values of the template language: undefined, none, bool, int, float, string, list,
// dict (insertion-ordered, string keys), namespace (a mutable dict) and callables.
//
// Lists and dicts are immutable once built (as in an immutable sandbox), so they are
// shared by pointer and copying a Value is cheap. Only a namespace changes in place,
// which is what lets `{% set ns.x = ... %}` escape a loop scope.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace tandem::jinja {

class Value;
class Interpreter;

using ValueList = std::vector<Value>;
using ValueDict = std::vector<std::pair<std::string, Value>>;

// Arguments of a call: positional values, then keyword values in call order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // The argument at `index` or named `name`, or nullptr.
  const Value* find(size_t index, std::string_view name) const;
};

using NativeFunction = std::function<Value(Interpreter&, const CallArgs&)>;

// Containers nest at most this deep, so printing, comparing and destroying a value never
// recurses without bound. A namespace counts as kNamespaceDepth and only holds values
// shallower than that, which also rules out a namespace that contains itself.
constexpr int kMaxValueDepth = 512;
constexpr int kNamespaceDepth = 256;
// Most items one list built during rendering may hold (range, repetition, split, ...).
constexpr size_t kMaxItems = size_t{1} << 20;

class Value {
 public:
  enum class Type {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kDict,
    kNamespace,
    kFunction
  };

  Value() = default;  // undefined
  static Value none();
  Value(bool b);                                    // NOLINT(google-explicit-constructor)
  Value(int64_t i);                                 // NOLINT(google-explicit-constructor)
  Value(int i) : Value(static_cast<int64_t>(i)) {}  // NOLINT(google-explicit-constructor)
  Value(double f);                                  // NOLINT(google-explicit-constructor)
  Value(std::string s);                             // NOLINT(google-explicit-constructor)
  Value(const char* s) : Value(std::string(s)) {}   // NOLINT(google-explicit-constructor)
  Value(ValueList list);                            // NOLINT(google-explicit-constructor)
  Value(ValueDict dict);                            // NOLINT(google-explicit-constructor)
  static Value make_namespace(ValueDict attributes);
  static Value function(std::string name, NativeFunction fn);
  static Value from_json(const nlohmann::ordered_json& json);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::kUndefined; }
  bool is_none() const { return type_ == Type::kNone; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_float() const { return type_ == Type::kFloat; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kFloat; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_list() const { return type_ == Type::kList; }
  bool is_mapping() const { return type_ == Type::kDict || type_ == Type::kNamespace; }
  bool is_function() const { return type_ == Type::kFunction; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return int_; }
  double as_double() const { return type_ == Type::kInt ? static_cast<double>(int_) : float_; }
  const std::string& as_string() const { return *string_; }
  const ValueList& as_list() const { return *list_; }
  const ValueDict& as_dict() const { return *dict_; }
  // A namespace's attributes, shared by every copy of this Value.
  ValueDict& namespace_attributes() const { return *dict_; }
  const std::string& function_name() const { return *string_; }
  const NativeFunction& as_function() const { return *function_; }
  // Container nesting: 0 for scalars, 1 for a list of scalars, ...
  int depth() const { return depth_; }

  // Member of a mapping, or nullptr.
  const Value* get(std::string_view key) const;

  // Python truthiness.
  bool truthy() const;
  // str(value) as Python prints it ("None", "True", "1.5", "['a', 1]"); undefined is "".
  std::string to_string() const;
  // repr(value): strings quoted, as inside a printed list.
  std::string repr() const;
  // json.dumps(value, ensure_ascii=False), separators ", " and ": " or, with indent >= 0,
  // one item per line.
  std::string to_json(int indent = -1) const;
  const char* type_name() const;

 private:
  static Value from_json_at(const nlohmann::ordered_json& json, int depth);

  Type type_ = Type::kUndefined;
  int depth_ = 0;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0.0;
  std::shared_ptr<const std::string> string_;
  std::shared_ptr<const ValueList> list_;
  std::shared_ptr<ValueDict> dict_;
  std::shared_ptr<const NativeFunction> function_;
};

// Python ==.
bool values_equal(const Value& a, const Value& b);
// Python <, for numbers, strings and lists; throws Error for other pairs.
bool values_less(const Value& a, const Value& b);
// Python repr() of a float: shortest text that reads back the same, always with a '.' or 'e'.
std::string format_float(double value);

// UTF-8 helpers: byte offsets of each code point, and the number of code points.
std::vector<size_t> code_point_offsets(std::string_view text);
size_t code_point_count(std::string_view text);

}  // namespace tandem::jinja
