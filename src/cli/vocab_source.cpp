#include "cli/vocab_source.h"

#include "text/builtin_vocab.h"

namespace tandem::cli {

VocabularySource::VocabularySource(const std::string& source) {
  if (source == kBuiltinVocab) {
    bytes_ = text::builtin_vocabulary_gguf().header();
    file_.emplace(GgufFile::parse(bytes_, "builtin vocabulary"));
  } else {
    file_.emplace(GgufFile::open(source));
  }
}

}  // namespace tandem::cli
