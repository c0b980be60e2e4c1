// libFuzzer target: encoding any bytes must give in-range ids, never crash, and for valid
// UTF-8 decode back to the same bytes; streamed detokenization must stay valid UTF-8.
// The tokenizer comes from the GGUF file named by TANDEM_TOKENIZER_GGUF (e.g.
// ../shared/reference/tokenizer-tiny4096.gguf); without it every input is skipped.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "gguf/model_file.h"
#include "text/detokenizer.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

namespace {

std::unique_ptr<const tandem::Tokenizer> load_tokenizer() {
  const char* path = std::getenv("TANDEM_TOKENIZER_GGUF");
  if (path == nullptr) {
    std::fprintf(stderr, "TANDEM_TOKENIZER_GGUF is not set: skipping every input\n");
    return nullptr;
  }
  return std::make_unique<const tandem::Tokenizer>(
      tandem::Tokenizer::from_model(tandem::ModelFile(path)));
}

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<const tandem::Tokenizer> tokenizer = load_tokenizer();
  if (!tokenizer) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = tandem::text::is_valid_utf8(text);
  for (const bool parse_special : {true, false}) {
    const std::vector<int32_t> ids = tokenizer->encode(text, parse_special);
    tandem::StreamingDetokenizer detokenizer(*tokenizer);
    std::string decoded;
    std::string streamed;
    for (const int32_t id : ids) {
      require(id >= 0 && id < tokenizer->vocab_size(), "id out of range");
      decoded += tokenizer->token_text(id);
      const std::string piece = detokenizer.push(id);
      require(tandem::text::is_valid_utf8(piece), "streamed piece is not valid UTF-8");
      streamed += piece;
    }
    streamed += detokenizer.flush();
    require(tandem::text::is_valid_utf8(streamed), "flushed text is not valid UTF-8");
    if (valid) {
      require(decoded == text, "valid UTF-8 did not round-trip");
      require(streamed == text, "streamed text differs from the input");
    }
  }
  return 0;
}
