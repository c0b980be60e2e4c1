#include "text/unicode.h"

#include <algorithm>
#include <array>

#include "platform/error.h"

namespace tandem::text {

CodepointClass codepoint_class(uint32_t cp) {
  const UnicodeClassRange* begin = kUnicodeClassRanges;
  const UnicodeClassRange* end = kUnicodeClassRanges + kUnicodeClassRangeCount;
  // The last range whose first code point is <= cp.
  const UnicodeClassRange* it = std::upper_bound(
      begin, end, cp, [](uint32_t value, const UnicodeClassRange& r) { return value < r.first; });
  if (it == begin || cp > 0x10FFFF) return CodepointClass::kOther;
  return static_cast<CodepointClass>((it - 1)->cls);
}

bool is_unicode_whitespace(uint32_t cp) {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20;
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

DecodedCodepoint decode_lenient(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const auto continuation = [&](size_t i) { return i < text.size() && (byte(i) & 0xC0) == 0x80; };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) return {lead, 1};
  if (lead < 0xC0 || lead >= 0xF8) return {kReplacementCharacter, 1};
  if (lead < 0xE0) {
    if (!continuation(pos + 1)) return {kReplacementCharacter, 1};
    return {(uint32_t{lead} & 0x1F) << 6 | (byte(pos + 1) & 0x3F), 2};
  }
  if (lead < 0xF0) {
    if (!continuation(pos + 1) || !continuation(pos + 2)) return {kReplacementCharacter, 1};
    return {(uint32_t{lead} & 0x0F) << 12 | (byte(pos + 1) & 0x3Fu) << 6 | (byte(pos + 2) & 0x3F),
            3};
  }
  if (!continuation(pos + 1) || !continuation(pos + 2) || !continuation(pos + 3)) {
    return {kReplacementCharacter, 1};
  }
  const uint32_t cp = (uint32_t{lead} & 0x07) << 18 | (byte(pos + 1) & 0x3Fu) << 12 |
                      (byte(pos + 2) & 0x3Fu) << 6 | (byte(pos + 3) & 0x3F);
  if (cp > 0x10FFFF) return {kReplacementCharacter, 1};
  return {cp, 4};
}

void append_utf8(std::string& out, uint32_t cp) {
  TANDEM_DCHECK(cp <= 0x10FFFF);
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

// GPT-2's table: bytes that are printable on their own map to themselves; the rest, in
// byte order, to U+0100, U+0101, ...
struct ByteMapping {
  static constexpr uint32_t kCodepointLimit = 256 + 68;
  std::array<std::string, 256> utf8;
  std::array<int16_t, kCodepointLimit> byte_of;  // -1 where a code point stands for no byte

  ByteMapping() {
    byte_of.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable =
          (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cp = printable ? b : next++;
      append_utf8(utf8[b], cp);
      byte_of[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteMapping& byte_mapping() {
  static const ByteMapping mapping;
  return mapping;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) { return byte_mapping().utf8[byte]; }

int unicode_to_byte(uint32_t cp) {
  return cp < ByteMapping::kCodepointLimit ? byte_mapping().byte_of[cp] : -1;
}

Utf8Scan scan_utf8(std::string_view bytes, size_t pos) {
  const auto at = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  const uint8_t lead = at(pos);
  if (lead < 0x80) return {Utf8Status::kComplete, 1};
  size_t length = 0;
  uint8_t second_low = 0x80, second_high = 0xBF;  // Table 3-7 of the Unicode standard
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_low = 0xA0;
    if (lead == 0xED) second_high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_low = 0x90;
    if (lead == 0xF4) second_high = 0x8F;
  } else {
    return {Utf8Status::kInvalid, 1};
  }
  for (size_t k = 1; k < length; ++k) {
    if (pos + k >= bytes.size()) return {Utf8Status::kIncomplete, k};
    const uint8_t b = at(pos + k);
    const uint8_t low = k == 1 ? second_low : 0x80;
    const uint8_t high = k == 1 ? second_high : 0xBF;
    if (b < low || b > high) return {Utf8Status::kInvalid, k};
  }
  return {Utf8Status::kComplete, length};
}

bool is_valid_utf8(std::string_view bytes) {
  for (size_t pos = 0; pos < bytes.size();) {
    const Utf8Scan scan = scan_utf8(bytes, pos);
    if (scan.status != Utf8Status::kComplete) return false;
    pos += scan.length;
  }
  return true;
}

}  // namespace tandem::text
