#pragma once
// UTF-8 and code point helpers for the tokenizer, matching llama.cpp's behaviour where
// the token ids depend on it: its lenient UTF-8 decoder, its code point classes and the
// GPT-2 byte-to-unicode mapping of byte-level BPE.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::text {

inline constexpr uint32_t kReplacementCharacter = 0xFFFD;

// Classes the pre-tokenizer regexes distinguish (\p{L}, \p{N}, \p{M}, everything else).
enum class CodepointClass : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kMark = 3 };

struct UnicodeClassRange {
  uint32_t first;  // the range runs up to the next range's first code point
  uint8_t cls;     // a CodepointClass
};
extern const UnicodeClassRange kUnicodeClassRanges[];
extern const size_t kUnicodeClassRangeCount;

CodepointClass codepoint_class(uint32_t cp);
// The Unicode White_Space property (what llama.cpp calls whitespace).
bool is_unicode_whitespace(uint32_t cp);

// One decoded code point and how many input bytes it used.
struct DecodedCodepoint {
  uint32_t cp;
  uint32_t length;
};

// Decodes the code point at `text[pos]` (pos < text.size()) the way llama.cpp does: the
// lead byte alone decides the length, continuation bytes must be 10xxxxxx, overlong forms
// and surrogates are accepted. Anything else yields U+FFFD for one byte. Sequences above
// U+10FFFF also yield U+FFFD for one byte (llama.cpp fails on them).
DecodedCodepoint decode_lenient(std::string_view text, size_t pos);

// Appends the UTF-8 encoding of cp (cp <= 0x10FFFF).
void append_utf8(std::string& out, uint32_t cp);

// Byte-level BPE: each byte is shown as one code point (printable ASCII and Latin-1 as
// themselves, the other 68 bytes as U+0100 and up), stored as its UTF-8 text.
const std::string& byte_to_unicode(uint8_t byte);
// The byte a code point stands for, or -1 when it stands for none.
int unicode_to_byte(uint32_t cp);

// Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
enum class Utf8Status { kComplete, kIncomplete, kInvalid };
struct Utf8Scan {
  Utf8Status status;
  // kComplete: the sequence length. kIncomplete: bytes present, all a valid prefix.
  // kInvalid: the length of the maximal invalid subpart to replace with one U+FFFD (>= 1).
  size_t length;
};
Utf8Scan scan_utf8(std::string_view bytes, size_t pos);
bool is_valid_utf8(std::string_view bytes);

}  // namespace tandem::text
