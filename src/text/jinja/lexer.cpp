#include "text/jinja/lexer.h"

#include <algorithm>
#include <cstring>

#include "platform/error.h"

namespace tandem::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Lexer {
 public:
  Lexer(std::string source, const LexerOptions& options)
      : source_(std::move(source)), options_(options) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < source_.size(); ++i) {
      if (source_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    size_t pos = 0;
    // How the previous tag treats the text after it.
    while (pos <= source_.size()) {
      size_t tag = find_tag(pos);
      if (tag == std::string::npos) {
        emit_text(pos, source_.size(), false, false);
        break;
      }
      char kind = source_[tag + 1];
      char sign = tag + 2 < source_.size() ? source_[tag + 2] : '\0';
      bool strip_before = sign == '-';
      bool no_lstrip = sign == '+';
      bool lstrip = kind != '{' && options_.lstrip_blocks && !no_lstrip && !strip_before;
      emit_text(pos, tag, strip_before, lstrip);
      size_t body = tag + 2 + ((strip_before || no_lstrip) ? 1 : 0);
      if (kind == '#') {
        pos = lex_comment(tag, body);
      } else {
        pos = lex_tag(tag, body, kind == '%');
      }
    }
    tokens_.push_back(Token{TokenType::kEnd, "", 0, 0});
    locate(tokens_.back(), source_.size());
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(size_t offset, const std::string& message) const {
    Token where{TokenType::kEnd, "", 0, 0};
    locate(where, offset);
    throw Error(str_cat("template:", where.line, ":", where.column, ": ", message));
  }

  void locate(Token& token, size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line_index = static_cast<size_t>(it - line_starts_.begin()) - 1;
    token.line = static_cast<int>(line_index + 1);
    token.column = static_cast<int>(offset - line_starts_[line_index] + 1);
  }

  void push(TokenType type, std::string value, size_t offset) {
    Token token{type, std::move(value), 0, 0};
    locate(token, offset);
    tokens_.push_back(std::move(token));
  }

  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < source_.size(); ++i) {
      if (source_[i] == '{' &&
          (source_[i + 1] == '{' || source_[i + 1] == '%' || source_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }

  void emit_text(size_t begin, size_t end, bool strip_all, bool lstrip_line) {
    std::string text = source_.substr(begin, end - begin);
    if (strip_all) {
      while (!text.empty() && is_space(text.back())) text.pop_back();
    } else if (lstrip_line) {
      size_t line_begin = text.rfind('\n');
      line_begin = line_begin == std::string::npos ? 0 : line_begin + 1;
      bool line_starting = line_begin > 0 || begin == 0 || source_[begin - 1] == '\n';
      if (line_starting && text.find_first_not_of(" \t", line_begin) == std::string::npos) {
        text.resize(line_begin);
      }
    }
    if (!text.empty()) push(TokenType::kText, std::move(text), begin);
  }

  // Position after the tag end, having applied `-` or trim_blocks to what follows.
  size_t after_tag_end(size_t end, bool strip_after, bool trim_newline) const {
    if (strip_after) {
      while (end < source_.size() && is_space(source_[end])) ++end;
    } else if (trim_newline && options_.trim_blocks && end < source_.size() &&
               source_[end] == '\n') {
      ++end;
    }
    return end;
  }

  size_t lex_comment(size_t tag, size_t body) {
    size_t close = source_.find("#}", body);
    if (close == std::string::npos) fail(tag, "unclosed comment");
    bool strip_after = close > body && source_[close - 1] == '-';
    return after_tag_end(close + 2, strip_after, true);
  }

  size_t lex_tag(size_t tag, size_t pos, bool block) {
    push(block ? TokenType::kBlockBegin : TokenType::kVariableBegin, "", tag);
    size_t first_token = tokens_.size();
    int brace_depth = 0;
    const char* end_text = block ? "%}" : "}}";
    while (true) {
      while (pos < source_.size() && is_space(source_[pos])) ++pos;
      if (pos >= source_.size()) fail(tag, block ? "unclosed block tag" : "unclosed variable tag");
      char c = source_[pos];
      bool at_end = source_.compare(pos, 2, end_text) == 0 && (block || brace_depth == 0);
      bool at_signed_end = (c == '-' || c == '+') && source_.compare(pos + 1, 2, end_text) == 0 &&
                           (block || brace_depth == 0);
      if (at_end || at_signed_end) {
        size_t end = pos + (at_signed_end ? 3 : 2);
        push(block ? TokenType::kBlockEnd : TokenType::kVariableEnd, "", pos);
        size_t next = after_tag_end(end, at_signed_end && c == '-', block);
        if (block && tokens_.size() == first_token + 2 && tokens_[first_token].value == "raw" &&
            tokens_[first_token].type == TokenType::kName) {
          return lex_raw(tag, first_token, next);
        }
        return next;
      }
      if (is_name_start(c)) {
        size_t start = pos;
        while (pos < source_.size() && is_name_char(source_[pos])) ++pos;
        push(TokenType::kName, source_.substr(start, pos - start), start);
      } else if (is_digit(c)) {
        pos = lex_number(pos);
      } else if (c == '\'' || c == '"') {
        pos = lex_string(pos);
      } else {
        static const char* const kOperators[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                                 "/",  "%",  "~",  "<",  ">",  "(",  ")", "[", "]",
                                                 "{",  "}",  ",",  ".",  ":",  "|",  "="};
        const char* matched = nullptr;
        for (const char* op : kOperators) {
          if (source_.compare(pos, std::strlen(op), op) == 0) {
            matched = op;
            break;
          }
        }
        if (matched == nullptr) fail(pos, str_cat("unexpected character '", c, "'"));
        if (*matched == '{') ++brace_depth;
        if (*matched == '}') --brace_depth;
        push(TokenType::kOperator, matched, pos);
        pos += std::strlen(matched);
      }
    }
  }

  // `{% raw %}`: everything up to `{% endraw %}` is text.
  size_t lex_raw(size_t tag, size_t first_token, size_t pos) {
    tokens_.resize(first_token - 1);  // drop `{% raw %}` itself
    for (size_t search = pos;;) {
      size_t open = source_.find("{%", search);
      if (open == std::string::npos) fail(tag, "unclosed raw block");
      size_t p = open + 2;
      bool strip_before = p < source_.size() && source_[p] == '-';
      if (p < source_.size() && (source_[p] == '-' || source_[p] == '+')) ++p;
      while (p < source_.size() && is_space(source_[p])) ++p;
      if (source_.compare(p, 6, "endraw") != 0) {
        search = open + 2;
        continue;
      }
      p += 6;
      while (p < source_.size() && is_space(source_[p])) ++p;
      bool strip_after = p < source_.size() && source_[p] == '-';
      if (strip_after || (p < source_.size() && source_[p] == '+')) ++p;
      if (source_.compare(p, 2, "%}") != 0) {
        search = open + 2;
        continue;
      }
      emit_text(pos, open, strip_before, false);
      return after_tag_end(p + 2, strip_after, true);
    }
  }

  size_t lex_number(size_t pos) {
    size_t start = pos;
    while (pos < source_.size() && (is_digit(source_[pos]) || source_[pos] == '_')) ++pos;
    bool is_float = false;
    if (pos + 1 < source_.size() && source_[pos] == '.' && is_digit(source_[pos + 1])) {
      is_float = true;
      ++pos;
      while (pos < source_.size() && (is_digit(source_[pos]) || source_[pos] == '_')) ++pos;
    }
    if (pos < source_.size() && (source_[pos] == 'e' || source_[pos] == 'E')) {
      size_t p = pos + 1;
      if (p < source_.size() && (source_[p] == '+' || source_[p] == '-')) ++p;
      if (p < source_.size() && is_digit(source_[p])) {
        is_float = true;
        pos = p;
        while (pos < source_.size() && is_digit(source_[pos])) ++pos;
      }
    }
    std::string text;
    for (size_t i = start; i < pos; ++i) {
      if (source_[i] != '_') text += source_[i];
    }
    push(is_float ? TokenType::kFloat : TokenType::kInteger, text, start);
    return pos;
  }

  size_t lex_string(size_t pos) {
    size_t start = pos;
    char quote = source_[pos++];
    std::string value;
    while (true) {
      if (pos >= source_.size()) fail(start, "unterminated string literal");
      char c = source_[pos++];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (pos >= source_.size()) fail(start, "unterminated string literal");
      char e = source_[pos++];
      switch (e) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'v':
          value += '\v';
          break;
        case '0':
          value += '\0';
          break;
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case '\n':
          break;
        case 'x':
        case 'u':
        case 'U': {
          size_t digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          if (pos + digits > source_.size()) fail(pos, "truncated escape sequence");
          uint32_t cp = 0;
          for (size_t i = 0; i < digits; ++i) {
            char h = source_[pos + i];
            int nibble = is_digit(h)              ? h - '0'
                         : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                         : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                  : -1;
            if (nibble < 0) fail(pos, "invalid escape sequence");
            cp = cp * 16 + static_cast<uint32_t>(nibble);
          }
          if (cp > 0x10FFFF) fail(pos, "invalid code point in escape sequence");
          pos += digits;
          append_utf8(value, cp);
          break;
        }
        default:
          // Python keeps unknown escapes as written.
          value += '\\';
          value += e;
      }
    }
    push(TokenType::kString, std::move(value), start);
    return pos;
  }

  std::string source_;
  LexerOptions options_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexerOptions& options) {
  return Lexer(normalize_newlines(source), options).run();
}

}  // namespace tandem::jinja
