// Filters, tests and global functions.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include "text/jinja/builtins.h"

namespace tandem::jinja {
namespace {

using namespace builtins;  // NOLINT(google-build-using-namespace)

std::string indent(const std::string& text, const Value& width, bool first, bool blank) {
  std::string pad = width.is_string()
                        ? width.as_string()
                        : std::string(static_cast<size_t>(std::clamp<int64_t>(
                                          width.is_int() ? width.as_int() : 4, 0, 256)),
                                      ' ');
  std::string out;
  size_t start = 0;
  bool first_line = true;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    bool last = end == std::string::npos;
    std::string line = text.substr(start, last ? std::string::npos : end - start);
    bool indent_line = first_line ? first : true;
    if (indent_line && (blank || !strip(line, Value::none(), true, true).empty())) out += pad;
    out += line;
    if (last) break;
    out += '\n';
    start = end + 1;
    first_line = false;
  }
  return out;
}

// Reads attribute paths like "a.b" or "0" the way Jinja's attribute= arguments do.
Value attribute_of(const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (current.is_mapping()) {
      const Value* member = current.get(part);
      current = member ? *member : Value();
    } else if (current.is_list() && !part.empty() &&
               std::all_of(part.begin(), part.end(), ::isdigit)) {
      size_t index = std::stoul(part);
      current = index < current.as_list().size() ? current.as_list()[index] : Value();
    } else {
      current = Value();
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return current;
}

// Arguments after the first `skip` positional ones, as a new CallArgs.
CallArgs rest(const CallArgs& args, size_t skip) {
  CallArgs out;
  for (size_t i = skip; i < args.positional.size(); ++i)
    out.positional.push_back(args.positional[i]);
  return out;
}

Value select_items(Interpreter& in, const Value& input, const CallArgs& args, bool by_attribute,
                   bool keep_matching) {
  ValueList out;
  size_t test_index = by_attribute ? 1 : 0;
  std::string attribute;
  if (by_attribute) attribute = string_argument(args, 0, "attribute", "selectattr");
  const Value* test = args.positional.size() > test_index ? &args.positional[test_index] : nullptr;
  CallArgs test_args = rest(args, test_index + 1);
  for (const Value& item : iterate(input)) {
    in.charge(0);
    Value subject = by_attribute ? attribute_of(item, attribute) : item;
    bool matched = test ? in.apply_test(require_string(*test, "select"), subject, test_args)
                        : subject.truthy();
    if (matched == keep_matching) out.push_back(item);
  }
  return Value(std::move(out));
}

Value to_int(const Value& input, const Value& fallback) {
  if (input.is_int()) return input;
  if (input.is_bool()) return Value(int64_t{input.as_bool() ? 1 : 0});
  if (input.is_float()) {
    double f = input.as_double();
    if (!std::isfinite(f) || std::fabs(f) > 9.2e18) return fallback;
    return Value(static_cast<int64_t>(f));
  }
  if (input.is_string()) {
    std::string text = strip(input.as_string(), Value::none(), true, true);
    try {
      size_t used = 0;
      int64_t v = std::stoll(text, &used);
      if (used == text.size()) return Value(v);
      double f = std::stod(text, &used);
      if (used == text.size() && std::isfinite(f) && std::fabs(f) < 9.2e18)
        return Value(static_cast<int64_t>(f));
    } catch (const std::exception&) {
    }
  }
  return fallback;
}

Value to_float(const Value& input, const Value& fallback) {
  if (input.is_number()) return Value(input.as_double());
  if (input.is_bool()) return Value(input.as_bool() ? 1.0 : 0.0);
  if (input.is_string()) {
    std::string text = strip(input.as_string(), Value::none(), true, true);
    try {
      size_t used = 0;
      double v = std::stod(text, &used);
      if (used == text.size()) return Value(v);
    } catch (const std::exception&) {
    }
  }
  return fallback;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

Value builtin_filter(Interpreter& in, const std::string& name, const Value& input,
                     const CallArgs& args) {
  static const Value kNone = Value::none();
  if (input.is_string()) in.charge(input.as_string().size());
  if (input.is_list()) in.charge(input.as_list().size() * sizeof(Value));
  if (name == "tojson") {
    const Value& indent_arg = argument(args, 0, "indent", kNone);
    std::string json = input.to_json(
        indent_arg.is_int() ? static_cast<int>(std::clamp<int64_t>(indent_arg.as_int(), 0, 64))
                            : -1);
    in.charge(json.size());
    return Value(std::move(json));
  }
  if (name == "trim")
    return Value(strip(input.to_string(), argument(args, 0, "chars", kNone), true, true));
  if (name == "length" || name == "count") {
    if (input.is_string()) return Value(static_cast<int64_t>(code_point_count(input.as_string())));
    if (input.is_list()) return Value(static_cast<int64_t>(input.as_list().size()));
    if (input.is_mapping()) return Value(static_cast<int64_t>(input.as_dict().size()));
    if (input.is_undefined()) return Value(int64_t{0});
    throw Error(str_cat("object of type ", input.type_name(), " has no length"));
  }
  if (name == "string") return Value(input.to_string());
  if (name == "safe" || name == "e" || name == "escape") {
    return name == "safe" ? input : Value(html_escape(input.to_string()));
  }
  if (name == "int") return to_int(input, argument(args, 0, "default", Value(int64_t{0})));
  if (name == "float") return to_float(input, argument(args, 0, "default", Value(0.0)));
  if (name == "lower") return Value(lower(input.to_string()));
  if (name == "upper") return Value(upper(input.to_string()));
  if (name == "title") return Value(title_case(input.to_string()));
  if (name == "capitalize") {
    bool found = false;
    return call_method(in, Value(input.to_string()), "capitalize", args, found);
  }
  if (name == "abs") {
    if (input.is_int() && input.as_int() != INT64_MIN)
      return Value(input.as_int() < 0 ? -input.as_int() : input.as_int());
    if (input.is_number()) return Value(std::fabs(input.as_double()));
    throw Error("abs: expected a number");
  }
  if (name == "first" || name == "last") {
    ValueList items = iterate(input);
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    std::string separator = argument(args, 0, "d", Value("")).to_string();
    const Value* attribute = args.find(1, "attribute");
    std::string out;
    ValueList items = iterate(input);
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += separator;
      out += (attribute ? attribute_of(items[i], attribute->to_string()) : items[i]).to_string();
      in.charge(out.size() / 8);
      if (out.size() > in.limits().max_output_bytes) throw Error("join: result too large");
    }
    return Value(std::move(out));
  }
  if (name == "default" || name == "d") {
    bool boolean = argument(args, 1, "boolean", Value(false)).truthy();
    bool use_default = boolean ? !input.truthy() : input.is_undefined();
    return use_default ? argument(args, 0, "default_value", Value("")) : input;
  }
  if (name == "list") return Value(iterate(input));
  if (name == "items") {
    if (input.is_undefined()) return Value(ValueList{});
    if (!input.is_mapping()) throw Error("items: expected a mapping");
    return Value(dict_items(input));
  }
  if (name == "map") {
    ValueList out;
    const Value* attribute = args.find(99, "attribute");
    for (const Value& item : iterate(input)) {
      in.charge(0);
      if (attribute) {
        Value v = attribute_of(item, attribute->to_string());
        const Value* fallback = args.find(99, "default");
        out.push_back(v.is_undefined() && fallback ? *fallback : v);
      } else {
        if (args.positional.empty()) throw Error("map: expected a filter name or attribute=");
        out.push_back(
            in.apply_filter(require_string(args.positional[0], "map"), item, rest(args, 1)));
      }
    }
    return Value(std::move(out));
  }
  if (name == "select") return select_items(in, input, args, false, true);
  if (name == "reject") return select_items(in, input, args, false, false);
  if (name == "selectattr") return select_items(in, input, args, true, true);
  if (name == "rejectattr") return select_items(in, input, args, true, false);
  if (name == "indent") {
    return Value(indent(input.to_string(), argument(args, 0, "width", Value(int64_t{4})),
                        argument(args, 1, "first", Value(false)).truthy(),
                        argument(args, 2, "blank", Value(false)).truthy()));
  }
  if (name == "replace") {
    return Value(replace(in, input.to_string(), argument(args, 0, "old", kNone).to_string(),
                         argument(args, 1, "new", kNone).to_string(),
                         int_argument(args, 2, "count", -1)));
  }
  if (name == "unique" || name == "reverse" || name == "sort") {
    ValueList items = iterate(input);
    if (name == "reverse") {
      if (input.is_string()) {
        std::string out;
        for (auto it = items.rbegin(); it != items.rend(); ++it) out += it->as_string();
        return Value(std::move(out));
      }
      std::reverse(items.begin(), items.end());
      return Value(std::move(items));
    }
    bool case_sensitive =
        argument(args, name == "sort" ? 1 : 0, "case_sensitive", Value(false)).truthy();
    const Value* attribute = args.find(name == "sort" ? 2 : 1, "attribute");
    auto key = [&](const Value& item) {
      Value k = attribute ? attribute_of(item, attribute->to_string()) : item;
      return (!case_sensitive && k.is_string()) ? Value(lower(k.as_string())) : k;
    };
    if (name == "sort") {
      in.charge(items.size() * 16);
      std::stable_sort(items.begin(), items.end(),
                       [&](const Value& a, const Value& b) { return values_less(key(a), key(b)); });
      if (argument(args, 0, "reverse", Value(false)).truthy())
        std::reverse(items.begin(), items.end());
      return Value(std::move(items));
    }
    ValueList out;
    ValueList seen;
    for (const Value& item : items) {
      in.charge(seen.size());
      Value k = key(item);
      if (std::none_of(seen.begin(), seen.end(),
                       [&](const Value& s) { return values_equal(s, k); })) {
        seen.push_back(k);
        out.push_back(item);
      }
    }
    return Value(std::move(out));
  }
  if (name == "min" || name == "max" || name == "sum") {
    ValueList items = iterate(input);
    if (name == "sum") {
      const Value* attribute = args.find(0, "attribute");
      Value total = argument(args, 1, "start", Value(int64_t{0}));
      for (const Value& item : items) {
        Value v = attribute ? attribute_of(item, attribute->to_string()) : item;
        if (!v.is_number() || !total.is_number()) throw Error("sum: expected numbers");
        total = (v.is_int() && total.is_int()) ? Value(total.as_int() + v.as_int())
                                               : Value(total.as_double() + v.as_double());
      }
      return total;
    }
    if (items.empty()) return Value();
    Value best = items[0];
    for (const Value& item : items) {
      if (name == "min" ? values_less(item, best) : values_less(best, item)) best = item;
    }
    return best;
  }
  if (name == "round") {
    double v = to_float(input, Value(0.0)).as_double();
    int64_t precision = int_argument(args, 0, "precision", 0);
    std::string method = argument(args, 1, "method", Value("common")).to_string();
    double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -300, 300)));
    double scaled = v * scale;
    double r = method == "floor"  ? std::floor(scaled)
               : method == "ceil" ? std::ceil(scaled)
                                  : std::round(scaled);
    return Value(r / scale);
  }
  if (name == "dictsort") {
    if (!input.is_mapping()) throw Error("dictsort: expected a mapping");
    ValueList items = dict_items(input);
    std::stable_sort(items.begin(), items.end(), [](const Value& a, const Value& b) {
      return values_less(Value(lower(a.as_list()[0].as_string())),
                         Value(lower(b.as_list()[0].as_string())));
    });
    return Value(std::move(items));
  }
  if (name == "wordcount")
    return Value(static_cast<int64_t>(split(input.to_string(), kNone, -1).size()));
  throw Error(str_cat("unknown filter '", name, "'"));
}

bool builtin_test(Interpreter& in, const std::string& name, const Value& input,
                  const CallArgs& args) {
  (void)in;
  static const Value kNone = Value::none();
  const Value& other = argument(args, 0, "value", kNone);
  if (name == "defined") return !input.is_undefined();
  if (name == "undefined") return input.is_undefined();
  if (name == "none") return input.is_none();
  if (name == "boolean") return input.is_bool();
  if (name == "true") return input.is_bool() && input.as_bool();
  if (name == "false") return input.is_bool() && !input.as_bool();
  if (name == "integer") return input.is_int();
  if (name == "float") return input.is_float();
  if (name == "number") return input.is_number();
  if (name == "string") return input.is_string();
  if (name == "mapping") return input.is_mapping();
  if (name == "iterable")
    return input.is_string() || input.is_list() || input.is_mapping() || input.is_undefined();
  if (name == "sequence") return input.is_string() || input.is_list() || input.is_mapping();
  if (name == "callable") return input.is_function();
  if (name == "lower") return input.is_string() && lower(input.as_string()) == input.as_string();
  if (name == "upper") return input.is_string() && upper(input.as_string()) == input.as_string();
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!input.is_int()) throw Error(str_cat("test '", name, "' expects an integer"));
    if (name == "divisibleby") {
      if (!other.is_int() || other.as_int() == 0)
        throw Error("divisibleby: expected a non-zero integer");
      return other.as_int() == -1 || input.as_int() % other.as_int() == 0;
    }
    return (input.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "eq" || name == "equalto" || name == "==") return values_equal(input, other);
  if (name == "ne" || name == "!=") return !values_equal(input, other);
  if (name == "lt" || name == "lessthan" || name == "<") return values_less(input, other);
  if (name == "gt" || name == "greaterthan" || name == ">") return values_less(other, input);
  if (name == "le" || name == "<=") return !values_less(other, input);
  if (name == "ge" || name == ">=") return !values_less(input, other);
  if (name == "in") {
    if (other.is_string())
      return input.is_string() && other.as_string().find(input.as_string()) != std::string::npos;
    if (other.is_mapping()) return input.is_string() && other.get(input.as_string()) != nullptr;
    for (const Value& item : iterate(other)) {
      if (values_equal(item, input)) return true;
    }
    return false;
  }
  if (name == "sameas") {
    if (input.type() != other.type()) return false;
    if (input.is_list()) return &input.as_list() == &other.as_list();
    if (input.is_mapping()) return &input.as_dict() == &other.as_dict();
    return values_equal(input, other);
  }
  throw Error(str_cat("unknown test '", name, "'"));
}

ValueDict builtin_globals() {
  ValueDict globals;
  globals.emplace_back("range", Value::function("range", [](Interpreter& in, const CallArgs& args) {
                         std::vector<int64_t> bounds;
                         for (const Value& v : args.positional) {
                           if (!v.is_int()) throw Error("range: arguments must be integers");
                           bounds.push_back(v.as_int());
                         }
                         if (bounds.empty() || bounds.size() > 3)
                           throw Error("range: expected 1 to 3 arguments");
                         int64_t start = bounds.size() == 1 ? 0 : bounds[0];
                         int64_t stop = bounds.size() == 1 ? bounds[0] : bounds[1];
                         int64_t step = bounds.size() == 3 ? bounds[2] : 1;
                         if (step == 0) throw Error("range: step must not be zero");
                         ValueList out;
                         for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                           if (out.size() >= kMaxItems) throw Error("range: too many items");
                           in.charge(sizeof(Value));
                           out.emplace_back(i);
                           if (__builtin_add_overflow(i, step, &i)) break;
                           i -= step;
                         }
                         return Value(std::move(out));
                       }));
  globals.emplace_back("namespace",
                       Value::function("namespace", [](Interpreter&, const CallArgs& args) {
                         ValueDict attributes;
                         for (const Value& v : args.positional) {
                           if (!v.is_mapping())
                             throw Error("namespace: positional arguments must be mappings");
                           for (const auto& entry : v.as_dict()) attributes.push_back(entry);
                         }
                         for (const auto& entry : args.keyword) attributes.push_back(entry);
                         return Value::make_namespace(std::move(attributes));
                       }));
  globals.emplace_back("dict", Value::function("dict", [](Interpreter&, const CallArgs& args) {
                         ValueDict entries;
                         for (const auto& entry : args.keyword) entries.push_back(entry);
                         return Value(std::move(entries));
                       }));
  globals.emplace_back(
      "raise_exception",
      Value::function("raise_exception", [](Interpreter&, const CallArgs& args) -> Value {
        throw Error(str_cat("raise_exception: ",
                            args.positional.empty() ? "" : args.positional[0].to_string()));
      }));
  globals.emplace_back(
      "strftime_now", Value::function("strftime_now", [](Interpreter&, const CallArgs& args) {
        std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
        std::tm local{};
        localtime_r(&now, &local);
        std::string format = args.positional.empty() ? "%Y-%m-%d" : args.positional[0].to_string();
        if (format.size() > 256) throw Error("strftime_now: format too long");
        char buffer[1024];
        size_t n = std::strftime(buffer, sizeof(buffer), format.c_str(), &local);
        return Value(std::string(buffer, n));
      }));
  return globals;
}

}  // namespace tandem::jinja
