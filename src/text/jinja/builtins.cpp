// Filters, tests, methods of strings / dicts, and global functions.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include "text/jinja/interpreter.h"

namespace tandem::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

const Value& argument(const CallArgs& args, size_t index, const char* name, const Value& fallback) {
  const Value* v = args.find(index, name);
  return v ? *v : fallback;
}

const std::string& string_argument(const CallArgs& args, size_t index, const char* name,
                                   const char* function) {
  const Value* v = args.find(index, name);
  if (v == nullptr || !v->is_string()) {
    throw Error(str_cat(function, ": argument '", name, "' must be a string"));
  }
  return v->as_string();
}

const std::string& require_string(const Value& v, const char* function) {
  if (!v.is_string()) throw Error(str_cat(function, ": expected a string, got ", v.type_name()));
  return v.as_string();
}

std::string strip(const std::string& text, const Value& chars, bool left, bool right) {
  auto stripped = [&](char c) {
    if (chars.is_string()) return chars.as_string().find(c) != std::string::npos;
    return is_space(c);
  };
  size_t begin = 0;
  size_t end = text.size();
  if (left) {
    while (begin < end && stripped(text[begin])) ++begin;
  }
  if (right) {
    while (end > begin && stripped(text[end - 1])) --end;
  }
  return text.substr(begin, end - begin);
}

ValueList split(const std::string& text, const Value& separator, int64_t max_split) {
  ValueList parts;
  if (!separator.is_string()) {
    // Runs of whitespace separate; leading and trailing whitespace give no empty parts.
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && is_space(text[i])) ++i;
      if (i >= text.size()) break;
      if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
        size_t end = text.size();
        while (end > i && is_space(text[end - 1])) --end;
        parts.emplace_back(text.substr(i, end - i));
        break;
      }
      if (parts.size() > kMaxItems) throw Error("split: too many parts");
      size_t start = i;
      while (i < text.size() && !is_space(text[i])) ++i;
      parts.emplace_back(text.substr(start, i - start));
    }
    return parts;
  }
  const std::string& sep = separator.as_string();
  if (sep.empty()) throw Error("split: empty separator");
  size_t start = 0;
  while (true) {
    size_t found = text.find(sep, start);
    if (found == std::string::npos ||
        (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split)) {
      parts.emplace_back(text.substr(start));
      return parts;
    }
    parts.emplace_back(text.substr(start, found - start));
    if (parts.size() > kMaxItems) throw Error("split: too many parts");
    start = found + sep.size();
  }
}

std::string replace(Interpreter& in, const std::string& text, const std::string& from,
                    const std::string& to, int64_t count) {
  std::string out;
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t found;
    if (from.empty()) {
      // Python inserts the replacement before every character and at the end.
      if (start > text.size()) break;
      found = start;
    } else {
      found = text.find(from, start);
      if (found == std::string::npos) break;
    }
    out.append(text, start, found - start);
    out += to;
    if (out.size() > in.limits().max_output_bytes) throw Error("replace: result too large");
    ++done;
    if (from.empty()) {
      if (found < text.size()) out += text[found];
      start = found + 1;
    } else {
      start = found + from.size();
    }
  }
  if (start < text.size()) out.append(text, start, std::string::npos);
  in.charge(out.size());
  return out;
}

std::string title_case(const std::string& text) {
  std::string out = text;
  bool previous_letter = false;
  for (char& c : out) {
    c = previous_letter ? to_lower(c) : to_upper(c);
    previous_letter = is_alpha(c);
  }
  return out;
}

std::string lower(std::string text) {
  for (char& c : text) c = to_lower(c);
  return text;
}

std::string upper(std::string text) {
  for (char& c : text) c = to_upper(c);
  return text;
}

bool starts_or_ends(const std::string& text, const Value& affix, bool start) {
  auto check = [&](const Value& v) {
    const std::string& a = require_string(v, start ? "startswith" : "endswith");
    if (a.size() > text.size()) return false;
    return start ? text.compare(0, a.size(), a) == 0
                 : text.compare(text.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list()) {
    return std::any_of(affix.as_list().begin(), affix.as_list().end(), check);
  }
  return check(affix);
}

int64_t int_argument(const CallArgs& args, size_t index, const char* name, int64_t fallback) {
  const Value* v = args.find(index, name);
  if (v == nullptr || v->is_none()) return fallback;
  if (!v->is_int()) throw Error(str_cat("argument '", name, "' must be an integer"));
  return v->as_int();
}

Value string_method(Interpreter& in, const std::string& s, const std::string& name,
                    const CallArgs& args, bool& found) {
  found = true;
  in.charge(s.size());
  static const Value kNone = Value::none();
  if (name == "strip") return Value(strip(s, argument(args, 0, "chars", kNone), true, true));
  if (name == "lstrip") return Value(strip(s, argument(args, 0, "chars", kNone), true, false));
  if (name == "rstrip") return Value(strip(s, argument(args, 0, "chars", kNone), false, true));
  if (name == "split") {
    return Value(split(s, argument(args, 0, "sep", kNone), int_argument(args, 1, "maxsplit", -1)));
  }
  if (name == "startswith")
    return Value(starts_or_ends(s, argument(args, 0, "prefix", kNone), true));
  if (name == "endswith")
    return Value(starts_or_ends(s, argument(args, 0, "suffix", kNone), false));
  if (name == "replace") {
    return Value(replace(in, s, string_argument(args, 0, "old", "replace"),
                         string_argument(args, 1, "new", "replace"),
                         int_argument(args, 2, "count", -1)));
  }
  if (name == "upper") return Value(upper(s));
  if (name == "lower") return Value(lower(s));
  if (name == "title") return Value(title_case(s));
  if (name == "capitalize") {
    std::string out = lower(s);
    if (!out.empty()) out[0] = to_upper(out[0]);
    return Value(out);
  }
  if (name == "find" || name == "count") {
    const std::string& needle = string_argument(args, 0, "sub", name.c_str());
    if (name == "find") {
      size_t at = s.find(needle);
      return Value(at == std::string::npos
                       ? int64_t{-1}
                       : static_cast<int64_t>(code_point_count(s.substr(0, at))));
    }
    if (needle.empty()) return Value(static_cast<int64_t>(code_point_count(s) + 1));
    int64_t count = 0;
    for (size_t at = s.find(needle); at != std::string::npos;
         at = s.find(needle, at + needle.size()))
      ++count;
    return Value(count);
  }
  if (name == "join") {
    const Value& items = argument(args, 0, "iterable", kNone);
    std::string out;
    ValueList list = iterate(items);
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0) out += s;
      out += require_string(list[i], "join");
      in.charge(out.size());
    }
    return Value(out);
  }
  if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isalnum") {
    if (s.empty()) return Value(false);
    return Value(std::all_of(s.begin(), s.end(), [&](char c) {
      if (name == "isdigit") return c >= '0' && c <= '9';
      if (name == "isalpha") return is_alpha(c);
      if (name == "isspace") return is_space(c);
      return is_alpha(c) || (c >= '0' && c <= '9');
    }));
  }
  found = false;
  return Value();
}

ValueList dict_items(const Value& dict) {
  ValueList items;
  for (const auto& [key, value] : dict.as_dict())
    items.push_back(Value(ValueList{Value(key), value}));
  return items;
}

Value mapping_method(const Value& dict, const std::string& name, const CallArgs& args,
                     bool& found) {
  found = true;
  if (name == "items") return Value(dict_items(dict));
  if (name == "keys" || name == "values") {
    ValueList out;
    for (const auto& [key, value] : dict.as_dict())
      out.push_back(name == "keys" ? Value(key) : value);
    return Value(std::move(out));
  }
  if (name == "get") {
    const Value* key = args.find(0, "key");
    const Value* member = (key && key->is_string()) ? dict.get(key->as_string()) : nullptr;
    if (member) return *member;
    const Value* fallback = args.find(1, "default");
    return fallback ? *fallback : Value::none();
  }
  found = false;
  return Value();
}

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

ValueList iterate(const Value& value) {
  switch (value.type()) {
    case Value::Type::kList:
      return value.as_list();
    case Value::Type::kDict: {
      ValueList keys;
      for (const auto& entry : value.as_dict()) keys.emplace_back(entry.first);
      return keys;
    }
    case Value::Type::kString: {
      ValueList chars;
      const std::string& text = value.as_string();
      std::vector<size_t> offsets = code_point_offsets(text);
      if (offsets.size() > kMaxItems) throw Error("string too long to iterate");
      for (size_t i = 0; i < offsets.size(); ++i) {
        size_t end = i + 1 < offsets.size() ? offsets[i + 1] : text.size();
        chars.emplace_back(text.substr(offsets[i], end - offsets[i]));
      }
      return chars;
    }
    case Value::Type::kUndefined:
      return {};
    default:
      throw Error(str_cat("'", value.type_name(), "' object is not iterable"));
  }
}

bool has_method(const Value& object, const std::string& name) {
  static const char* const kStringMethods[] = {
      "strip",   "lstrip", "rstrip",  "split",   "startswith", "endswith",
      "replace", "upper",  "lower",   "title",   "capitalize", "find",
      "count",   "join",   "isdigit", "isalpha", "isspace",    "isalnum"};
  static const char* const kDictMethods[] = {"items", "keys", "values", "get"};
  auto in = [&](const auto& names) {
    return std::any_of(std::begin(names), std::end(names),
                       [&](const char* n) { return name == n; });
  };
  if (object.is_string()) return in(kStringMethods);
  if (object.type() == Value::Type::kDict) return in(kDictMethods);
  return false;
}

Value call_method(Interpreter& interpreter, const Value& object, const std::string& name,
                  const CallArgs& args, bool& found) {
  found = false;
  if (object.is_string()) return string_method(interpreter, object.as_string(), name, args, found);
  if (object.type() == Value::Type::kDict) {
    interpreter.charge(object.as_dict().size() * sizeof(Value));
    return mapping_method(object, name, args, found);
  }
  return Value();
}

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
    return string_method(in, input.to_string(), "capitalize", args, found);
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
