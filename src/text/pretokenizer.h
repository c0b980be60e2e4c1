#pragma once
// Splitting text into words before byte-level BPE, exactly as llama.cpp does for the
// `qwen2` and `qwen35` pre-tokenizers. Their regex (from the models' tokenizer.json) is
//
//   (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?L+|\p{N}|
//    ?[^\s\p{L}\p{N}X]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// with L = \p{L}, X = nothing for qwen2 and L = [\p{L}\p{M}], X = \p{M} for qwen35.
// llama.cpp runs it with std::regex (ECMAScript: the first alternative that matches wins)
// on a copy of the text where every non-ASCII code point is collapsed to one byte for its
// class, non-ASCII whitespace to \v. The matcher below follows those semantics by hand.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::text {

enum class PreTokenizerKind { kQwen2, kQwen35 };

// "qwen2" or "qwen35"; nullopt for anything else.
std::optional<PreTokenizerKind> parse_pre_tokenizer(std::string_view name);
std::string_view pre_tokenizer_name(PreTokenizerKind kind);

struct PreTokenized {
  // The input re-encoded from its decoded code points: equal to the input when that is
  // valid UTF-8; each undecodable byte became U+FFFD (EF BF BD) as in llama.cpp.
  std::string text;
  // End offset in `text` of each word; words are contiguous and cover `text`.
  std::vector<uint32_t> word_ends;
};

// Splits one fragment (text between special tokens). Reuses `out`'s buffers.
void pre_tokenize(std::string_view fragment, PreTokenizerKind kind, PreTokenized& out);

}  // namespace tandem::text
