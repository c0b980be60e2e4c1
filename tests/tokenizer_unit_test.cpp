// The tokenizer's parts on small hand-made data: word splitting (expectations derived by
// hand from the pre-tokenizer regex), BPE merge order, special-token cutting, UTF-8
// handling and load errors. Needs no reference files.

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/model_file.h"
#include "platform/error.h"
#include "text/pretokenizer.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

namespace tandem {
namespace {

using text::PreTokenizerKind;

std::vector<std::string> words(const std::string& input, PreTokenizerKind kind) {
  text::PreTokenized out;
  text::pre_tokenize(input, kind, out);
  std::vector<std::string> result;
  uint32_t start = 0;
  for (const uint32_t end : out.word_ends) {
    result.push_back(out.text.substr(start, end - start));
    start = end;
  }
  return result;
}

using Words = std::vector<std::string>;

TEST(TokenizerUnit, SplitsWordsLikeTheQwenRegex) {
  const auto q2 = PreTokenizerKind::kQwen2;
  EXPECT_EQ(words("Hello world", q2), (Words{"Hello", " world"}));
  // Contraction first; a run of spaces gives one back to the next word; \s*[\r\n]+ stops
  // after the last line break.
  EXPECT_EQ(words("I'm   here\n\n  ok", q2), (Words{"I", "'m", "  ", " here", "\n\n", " ", " ok"}));
  EXPECT_EQ(words("IT'S", q2), (Words{"IT", "'S"}));
  EXPECT_EQ(words("abc12345", q2), (Words{"abc", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(words("x  ", q2), (Words{"x", "  "}));  // trailing spaces stay together
  EXPECT_EQ(words("a...\n\nb", q2), (Words{"a", "...\n\n", "b"}));
  EXPECT_EQ(words(" ?!x", q2), (Words{" ?!", "x"}));
  EXPECT_EQ(words("(hello)", q2), (Words{"(hello", ")"}));  // one leading non-letter joins
  // Non-ASCII whitespace (U+3000) counts as \s and may lead a word.
  EXPECT_EQ(words("a\xE3\x80\x80"
                  "b",
                  q2),
            (Words{"a",
                   "\xE3\x80\x80"
                   "b"}));
  EXPECT_EQ(words("", q2), Words{});
}

TEST(TokenizerUnit, Qwen35KeepsCombiningMarksInWords) {
  // e + U+0301 (combining acute) + x: qwen2 treats the mark as punctuation that leads the
  // next word; qwen35 adds \p{M} to the letter class.
  const std::string text = "e\xCC\x81x y";
  EXPECT_EQ(words(text, PreTokenizerKind::kQwen2), (Words{"e", "\xCC\x81x", " y"}));
  EXPECT_EQ(words(text, PreTokenizerKind::kQwen35), (Words{"e\xCC\x81x", " y"}));
}

TEST(TokenizerUnit, DecodesUtf8LikeLlamaCpp) {
  // Overlong forms are accepted (C0 AF is '/'); bad bytes become U+FFFD one byte at a time.
  EXPECT_EQ(text::decode_lenient("\xC0\xAF", 0).cp, uint32_t{'/'});
  EXPECT_EQ(text::decode_lenient("\xE2\x82", 0).cp, text::kReplacementCharacter);
  EXPECT_EQ(text::decode_lenient("\xE2\x82", 0).length, 1u);
  EXPECT_EQ(text::decode_lenient("\xF0\x9F\x98\x80", 0).cp, 0x1F600u);
  // U+FFFD is a symbol, so it is not part of the word before it.
  EXPECT_EQ(words("a\xFF", PreTokenizerKind::kQwen2), (Words{"a", "\xEF\xBF\xBD"}));
  EXPECT_TRUE(text::is_valid_utf8("h\xC3\xA9llo \xF0\x9F\x98\x80"));
  EXPECT_FALSE(text::is_valid_utf8("\xC0\xAF"));
  EXPECT_FALSE(text::is_valid_utf8("\xED\xA0\x80"));  // a surrogate
  EXPECT_FALSE(text::is_valid_utf8("\xE2\x82"));
}

TEST(TokenizerUnit, MapsBytesToUnicodeAsGpt2) {
  EXPECT_EQ(text::byte_to_unicode('A'), "A");
  EXPECT_EQ(text::byte_to_unicode(' '), "\xC4\xA0");   // U+0120, the familiar "Ġ"
  EXPECT_EQ(text::byte_to_unicode('\n'), "\xC4\x8A");  // U+010A, "Ċ"
  for (int b = 0; b < 256; ++b) {
    const std::string& shown = text::byte_to_unicode(static_cast<uint8_t>(b));
    EXPECT_EQ(text::unicode_to_byte(text::decode_lenient(shown, 0).cp), b);
  }
}

// 256 byte tokens (ids = byte values), then `extra` tokens.
TokenizerData byte_vocabulary(const std::vector<std::string>& extra,
                              const std::vector<std::string>& merges) {
  TokenizerData data;
  for (int b = 0; b < 256; ++b) data.tokens.push_back(text::byte_to_unicode(uint8_t(b)));
  for (const std::string& piece : extra) data.tokens.push_back(piece);
  data.merges = merges;
  return data;
}

TEST(TokenizerUnit, MergesByRankThenLeftmost) {
  // ids: 256 "ab", 257 "bc", 258 "abc".
  const std::vector<std::string> extra = {"ab", "bc", "abc"};
  const Tokenizer bc_first(byte_vocabulary(extra, {"b c", "a b"}));
  EXPECT_EQ(bc_first.encode("abc", false), (std::vector<int32_t>{'a', 257}));
  const Tokenizer ab_first(byte_vocabulary(extra, {"a b", "b c", "ab c"}));
  EXPECT_EQ(ab_first.encode("abc", false), (std::vector<int32_t>{258}));
  const Tokenizer pairs(byte_vocabulary({"aa"}, {"a a"}));
  EXPECT_EQ(pairs.encode("aaa", false), (std::vector<int32_t>{256, 'a'}));
  EXPECT_EQ(pairs.encode("aaaa", false), (std::vector<int32_t>{256, 256}));
  EXPECT_EQ(pairs.encode("", true), std::vector<int32_t>{});
}

TEST(TokenizerUnit, CutsSpecialTokensLongestFirst) {
  // 256 "bcd" (control), 257 "ab" (control), 258 "<u>" (user-defined).
  TokenizerData data = byte_vocabulary({"bcd", "ab", "<u>"}, {});
  data.types.assign(data.tokens.size(), TokenType::kNormal);
  data.types[256] = data.types[257] = TokenType::kControl;
  data.types[258] = TokenType::kUserDefined;
  const Tokenizer tokenizer(std::move(data));
  // The longer "bcd" is cut out everywhere before "ab" is looked for.
  EXPECT_EQ(tokenizer.encode("abcd", true), (std::vector<int32_t>{'a', 256}));
  EXPECT_EQ(tokenizer.encode("ab<u>ab", true), (std::vector<int32_t>{257, 258, 257}));
  // Without parse_special control strings are text; user-defined ones are still cut.
  EXPECT_EQ(tokenizer.encode("ab<u>", false), (std::vector<int32_t>{'a', 'b', 258}));
  EXPECT_EQ(tokenizer.token_text(256), "bcd");
}

TEST(TokenizerUnit, RejectsInconsistentData) {
  TokenizerData bad_pre = byte_vocabulary({}, {});
  bad_pre.pre_tokenizer = "llama3";
  EXPECT_THROW(Tokenizer{std::move(bad_pre)}, Error);
  TokenizerData bad_types = byte_vocabulary({}, {});
  bad_types.types.resize(3);
  EXPECT_THROW(Tokenizer{std::move(bad_types)}, Error);
  TokenizerData bad_eos = byte_vocabulary({}, {});
  bad_eos.eos_id = 256;
  EXPECT_THROW(Tokenizer{std::move(bad_eos)}, Error);
}

// A GGUF file with string metadata only, written by hand from the format definition.
std::string write_gguf(const std::vector<std::pair<std::string, std::string>>& strings,
                       bool with_tokens) {
  std::string bytes;
  const auto raw = [&](const void* p, size_t n) { bytes.append(static_cast<const char*>(p), n); };
  const auto u32 = [&](uint32_t v) { raw(&v, 4); };
  const auto u64 = [&](uint64_t v) { raw(&v, 8); };
  const auto str = [&](const std::string& s) {
    u64(s.size());
    raw(s.data(), s.size());
  };
  u32(kGgufMagic);
  u32(3);
  u64(0);
  u64(strings.size() + (with_tokens ? 1 : 0));
  for (const auto& [key, value] : strings) {
    str(key);
    u32(8);
    str(value);
  }
  if (with_tokens) {
    str("tokenizer.ggml.tokens");
    u32(9);
    u32(8);
    u64(1);
    str("a");
  }
  const std::string path = ::testing::TempDir() + "tokenizer_unit_" + std::to_string(bytes.size()) +
                           (with_tokens ? "t" : "") + ".gguf";
  FILE* file = std::fopen(path.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), file);
  std::fclose(file);
  return path;
}

void expect_error_naming(const std::string& path, const std::string& key) {
  try {
    Tokenizer::from_model(ModelFile(path));
    FAIL() << "no error for " << key;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
}

TEST(TokenizerUnit, LoadErrorsNameTheKey) {
  expect_error_naming(write_gguf({{"general.architecture", "qwen3"}}, false),
                      "tokenizer.ggml.model");
  expect_error_naming(
      write_gguf({{"general.architecture", "qwen3"}, {"tokenizer.ggml.model", "llama"}}, false),
      "tokenizer.ggml.model");
  expect_error_naming(write_gguf({{"general.architecture", "qwen3"},
                                  {"tokenizer.ggml.model", "gpt2"},
                                  {"tokenizer.ggml.pre", "llama-bpe"}},
                                 false),
                      "tokenizer.ggml.pre");
  expect_error_naming(write_gguf({{"general.architecture", "qwen3"},
                                  {"tokenizer.ggml.model", "gpt2"},
                                  {"tokenizer.ggml.pre", "qwen2"}},
                                 false),
                      "tokenizer.ggml.tokens");
  expect_error_naming(write_gguf({{"general.architecture", "qwen3"},
                                  {"tokenizer.ggml.model", "gpt2"},
                                  {"tokenizer.ggml.pre", "qwen2"}},
                                 true),
                      "tokenizer.ggml.merges");
}

}  // namespace
}  // namespace tandem
