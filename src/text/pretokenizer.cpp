#include "text/pretokenizer.h"

#include "text/unicode.h"

namespace tandem::text {

std::optional<PreTokenizerKind> parse_pre_tokenizer(std::string_view name) {
  if (name == "qwen2") return PreTokenizerKind::kQwen2;
  if (name == "qwen35") return PreTokenizerKind::kQwen35;
  return std::nullopt;
}

std::string_view pre_tokenizer_name(PreTokenizerKind kind) {
  return kind == PreTokenizerKind::kQwen2 ? "qwen2" : "qwen35";
}

namespace {

// What the regex can tell apart about one code point.
enum Flag : uint8_t {
  kLetter = 1,      // \p{L}: A-Z a-z or a non-ASCII letter
  kNumber = 2,      // \p{N}: 0-9 or a non-ASCII number
  kMark = 4,        // \p{M}: non-ASCII combining mark
  kSpace = 8,       // \s: \t \n \v \f \r space, or non-ASCII White_Space
  kLineBreak = 16,  // \r or \n
};

uint8_t flags_of(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z')) return kLetter;
    if (cp >= '0' && cp <= '9') return kNumber;
    if (cp == '\r' || cp == '\n') return kSpace | kLineBreak;
    if ((cp >= 0x09 && cp <= 0x0D) || cp == ' ') return kSpace;
    return 0;
  }
  if (is_unicode_whitespace(cp)) return kSpace;
  switch (codepoint_class(cp)) {
    case CodepointClass::kLetter:
      return kLetter;
    case CodepointClass::kNumber:
      return kNumber;
    case CodepointClass::kMark:
      return kMark;
    default:
      return 0;
  }
}

struct Symbol {
  uint32_t cp;
  uint8_t flags;
};

uint32_t ascii_lower(uint32_t cp) { return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp; }

// Length (>= 1) of the regex match that starts at `p`; `n` is the fragment length.
size_t match_length(const std::vector<Symbol>& s, size_t p, size_t n, PreTokenizerKind kind) {
  const uint8_t word_flags = kind == PreTokenizerKind::kQwen35 ? (kLetter | kMark) : kLetter;
  const uint8_t not_punct_flags = word_flags | kNumber | kSpace;
  const auto has = [&](size_t i, uint8_t f) { return i < n && (s[i].flags & f) != 0; };
  const auto is_punct = [&](size_t i) { return i < n && (s[i].flags & not_punct_flags) == 0; };

  // '[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]
  if (s[p].cp == '\'' && p + 1 < n) {
    const uint32_t c1 = ascii_lower(s[p + 1].cp);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    if (p + 2 < n) {
      const uint32_t c2 = ascii_lower(s[p + 2].cp);
      if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
        return 3;
      }
    }
  }
  // [^\r\n\p{L}\p{N}]?L+ : the optional prefix is tried first, then dropped.
  size_t q = p;
  if (!has(p, kLineBreak | kLetter | kNumber) && has(p + 1, word_flags)) {
    q = p + 1;
  } else if (!has(p, word_flags)) {
    q = n;  // no match
  }
  if (q < n) {
    while (has(q, word_flags)) ++q;
    return q - p;
  }
  // \p{N}
  if (has(p, kNumber)) return 1;
  // ' ?[^\s\p{L}\p{N}X]+[\r\n]*'
  q = n;
  if (s[p].cp == ' ' && is_punct(p + 1)) {
    q = p + 1;
  } else if (is_punct(p)) {
    q = p;
  }
  if (q < n) {
    while (is_punct(q)) ++q;
    while (has(q, kLineBreak)) ++q;
    return q - p;
  }
  // Only whitespace is left here. \s*[\r\n]+ backtracks to the run's last line break;
  // \s+(?!\S) gives back one space unless the run ends the fragment; \s+ takes one.
  size_t end = p;
  size_t after_last_break = 0;
  while (has(end, kSpace)) {
    if (s[end].flags & kLineBreak) after_last_break = end + 1;
    ++end;
  }
  if (after_last_break > 0) return after_last_break - p;
  if (end == n || end - p == 1) return end - p;
  return end - 1 - p;
}

}  // namespace

void pre_tokenize(std::string_view fragment, PreTokenizerKind kind, PreTokenized& out) {
  out.text.clear();
  out.word_ends.clear();
  // Per code point: (code point, flags) and where its bytes start in out.text.
  std::vector<Symbol> symbols;
  std::vector<uint32_t> byte_starts;
  symbols.reserve(fragment.size());
  byte_starts.reserve(fragment.size() + 1);
  out.text.reserve(fragment.size());
  for (size_t pos = 0; pos < fragment.size();) {
    const DecodedCodepoint d = decode_lenient(fragment, pos);
    pos += d.length;
    byte_starts.push_back(static_cast<uint32_t>(out.text.size()));
    append_utf8(out.text, d.cp);
    symbols.push_back({d.cp, flags_of(d.cp)});
  }
  byte_starts.push_back(static_cast<uint32_t>(out.text.size()));
  const size_t n = symbols.size();
  for (size_t p = 0; p < n;) {
    p += match_length(symbols, p, n, kind);
    out.word_ends.push_back(byte_starts[p]);
  }
}

}  // namespace tandem::text
