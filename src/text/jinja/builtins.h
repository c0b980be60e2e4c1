#pragma once
// Helpers shared by the builtin filters and methods (filters.cpp, methods.cpp).

#include <cstdint>
#include <string>

#include "text/jinja/interpreter.h"

namespace tandem::jinja::builtins {

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
inline char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
inline char to_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Argument `index` or keyword `name`, else `fallback`.
const Value& argument(const CallArgs& args, size_t index, const char* name, const Value& fallback);
const std::string& string_argument(const CallArgs& args, size_t index, const char* name,
                                   const char* function);
int64_t int_argument(const CallArgs& args, size_t index, const char* name, int64_t fallback);
const std::string& require_string(const Value& v, const char* function);

// Python str methods: strip(chars) with chars none = whitespace, split(sep, maxsplit),
// replace(old, new, count), title(), lower(), upper() (ASCII letters only).
std::string strip(const std::string& text, const Value& chars, bool left, bool right);
ValueList split(const std::string& text, const Value& separator, int64_t max_split);
std::string replace(Interpreter& in, const std::string& text, const std::string& from,
                    const std::string& to, int64_t count);
std::string title_case(const std::string& text);
std::string lower(std::string text);
std::string upper(std::string text);
// [[key, value], ...] of a mapping.
ValueList dict_items(const Value& dict);

}  // namespace tandem::jinja::builtins
