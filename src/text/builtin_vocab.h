#pragma once
// A small built-in vocabulary, so that a generated model needs no downloaded tokenizer:
// Qwen's byte-level BPE form (tokenizer.ggml.model "gpt2", pre-tokenizer "qwen2"),
//
//   ids 0..255             the 256 byte tokens, byte b as byte_to_unicode(b)
//   ids 256..256+M-1       one token per merge, learnt by BPE from an embedded sample
//                          text (most frequent adjacent pair first, ties by the pair's
//                          strings), at most kBuiltinMerges merges
//   then                   <|endoftext|> (bos, padding), <|im_start|>, <|im_end|> (eos),
//                          all CONTROL
//
// with the ChatML chat template. The result is deterministic: the same every run.

#include <cstddef>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"

namespace tandem::text {

inline constexpr size_t kBuiltinMerges = 400;

struct BuiltinVocabulary {
  std::vector<std::string> tokens;  // byte-level form
  std::vector<int32_t> types;       // tokenizer.ggml.token_type values
  std::vector<std::string> merges;  // "left right", highest priority first
  int32_t endoftext_id = 0;
  int32_t im_start_id = 0;
  int32_t im_end_id = 0;
};

// The text the merges are learnt from.
const std::string& builtin_sample_text();

// Learns `merge_count` merges from `text` (fewer once every word is one token).
BuiltinVocabulary learn_vocabulary(const std::string& text, size_t merge_count);

// The built-in vocabulary: learn_vocabulary(builtin_sample_text(), kBuiltinMerges).
const BuiltinVocabulary& builtin_vocabulary();

// A GGUF holding the tokenizer.* keys of the built-in vocabulary and no tensors.
GgufWriter builtin_vocabulary_gguf();

}  // namespace tandem::text
