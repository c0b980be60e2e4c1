#pragma once
// Where a generated model's tokenizer comes from: "builtin" (text/builtin_vocab.h, no
// file needed) or a GGUF file whose tokenizer.* keys are copied.

#include <optional>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace tandem::cli {

inline constexpr const char* kBuiltinVocab = "builtin";

class VocabularySource {
 public:
  // "builtin" or a GGUF path; throws Error when the file cannot be read.
  explicit VocabularySource(const std::string& source);
  VocabularySource(const VocabularySource&) = delete;
  VocabularySource& operator=(const VocabularySource&) = delete;

  const GgufFile& file() const { return *file_; }

 private:
  std::vector<uint8_t> bytes_;  // the built-in vocabulary's GGUF, which file_ views
  std::optional<GgufFile> file_;
};

}  // namespace tandem::cli
