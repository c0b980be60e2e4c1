#include "text/detokenizer.h"

#include "text/unicode.h"

namespace tandem {

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, DetokenizerOptions options)
    : tokenizer_(&tokenizer), options_(options) {}

std::string StreamingDetokenizer::push(int32_t id) {
  if (options_.drop_control && tokenizer_->is_control(id)) return {};
  pending_ += tokenizer_->token_text(id);
  return take_complete(/*at_end=*/false);
}

std::string StreamingDetokenizer::flush() { return take_complete(/*at_end=*/true); }

std::string StreamingDetokenizer::take_complete(bool at_end) {
  std::string out;
  size_t pos = 0;
  while (pos < pending_.size()) {
    const text::Utf8Scan scan = text::scan_utf8(pending_, pos);
    if (scan.status == text::Utf8Status::kIncomplete && !at_end) break;
    if (scan.status == text::Utf8Status::kComplete) {
      out.append(pending_, pos, scan.length);
    } else {
      text::append_utf8(out, text::kReplacementCharacter);
    }
    pos += scan.length;
  }
  pending_.erase(0, pos);
  return out;
}

}  // namespace tandem
