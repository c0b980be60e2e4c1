// Methods of strings and dicts ('a b'.split(), d.items(), ...) and iteration order.

#include <algorithm>

#include "text/jinja/builtins.h"

namespace tandem::jinja {
namespace builtins {

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

}  // namespace builtins

namespace {

using namespace builtins;  // NOLINT(google-build-using-namespace)

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

}  // namespace tandem::jinja
