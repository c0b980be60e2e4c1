#pragma once
// Turns token ids, one at a time, into text that is always valid UTF-8: a character whose
// bytes are spread over several tokens is held back until it is complete.

#include <cstdint>
#include <string>

#include "text/tokenizer.h"

namespace tandem {

struct DetokenizerOptions {
  // Control tokens (<|im_end|>, <|endoftext|>, ...) give no text. User-defined ones such
  // as <think> are always text.
  bool drop_control = false;
};

class StreamingDetokenizer {
 public:
  // `tokenizer` must outlive this object.
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, DetokenizerOptions options = {});

  // The text that is complete after `id`; "" while a character is still incomplete.
  // Bytes that can never form a valid character come out as U+FFFD, one per maximal
  // invalid subpart (as the Unicode standard recommends).
  std::string push(int32_t id);
  // Whatever is held back, at the end of the stream: an incomplete character becomes
  // U+FFFD. The detokenizer is empty afterwards and may be reused.
  std::string flush();
  // Bytes held back (0 to 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  std::string take_complete(bool at_end);

  const Tokenizer* tokenizer_;
  DetokenizerOptions options_;
  std::string pending_;
};

}  // namespace tandem
