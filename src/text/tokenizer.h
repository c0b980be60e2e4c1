#pragma once
// The byte-level BPE tokenizer of Qwen2 / Qwen3 / Qwen3.5 GGUF models. It gives exactly
// llama.cpp's token ids: special tokens are cut out of the text first (longest first), the
// rest is split by the model's pre-tokenizer regex and each word is merged by BPE rank.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/pretokenizer.h"

namespace tandem {

class ModelFile;

// The values of tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Everything a tokenizer is built from, as plain data.
struct TokenizerData {
  std::vector<std::string> tokens;      // (n_vocab) token strings, byte-level form
  std::vector<TokenType> types;         // (n_vocab), or empty for all kNormal
  std::vector<std::string> merges;      // "left right", highest priority first
  std::string pre_tokenizer = "qwen2";  // "qwen2" or "qwen35"
  int32_t bos_id = -1;                  // -1: the model has none
  int32_t eos_id = -1;
  int32_t eot_id = -1;  // -1: found by name ("<|im_end|>", ...) as llama.cpp does
  int32_t pad_id = -1;
  bool add_bos = false;
};

// The tokenizer.ggml.* keys of a GGUF model as plain data; errors name the key.
TokenizerData read_tokenizer_data(const ModelFile& model);

class Tokenizer {
 public:
  static constexpr int32_t kNoToken = -1;

  // Throws Error for inconsistent data (sizes, ids out of range, unknown pre-tokenizer).
  explicit Tokenizer(TokenizerData data);
  // Reads tokenizer.ggml.* from a GGUF model; errors name the key.
  static Tokenizer from_model(const ModelFile& model);

  Tokenizer(Tokenizer&&) noexcept = default;
  Tokenizer& operator=(Tokenizer&&) noexcept = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text` (any bytes), without BOS: callers add bos_id() when add_bos().
  // With parse_special, CONTROL token strings in the text become their ids; USER_DEFINED
  // ones (e.g. <think>) always do, as in llama.cpp. Thread-safe.
  std::vector<int32_t> encode(std::string_view text, bool parse_special) const;

  // The bytes a token stands for: decoded bytes for normal tokens, the string itself for
  // control and user-defined tokens, "" for unused / byte / undefined ones. Not always
  // whole UTF-8 characters (see StreamingDetokenizer).
  const std::string& token_text(int32_t id) const;
  // The token's string as stored in the vocabulary.
  const std::string& token_piece(int32_t id) const;
  // Type after llama.cpp's load-time fixes (e.g. "</s>" becomes kControl).
  TokenType token_type(int32_t id) const;
  bool is_control(int32_t id) const { return token_type(id) == TokenType::kControl; }
  std::optional<int32_t> find_token(std::string_view piece) const;

  int32_t vocab_size() const { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t eot_id() const { return eot_id_; }
  int32_t pad_id() const { return pad_id_; }
  bool add_bos() const { return add_bos_; }
  text::PreTokenizerKind pre_tokenizer() const { return pre_tokenizer_; }
  // Tokens that end a generation (eos, eot, "<|im_end|>", "<|endoftext|>", ...), sorted.
  const std::vector<int32_t>& end_of_generation_ids() const { return end_of_generation_; }
  bool is_end_of_generation(int32_t id) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // symbol id of the merged string
  };
  struct Workspace;

  void check_id(int32_t id) const;
  // Symbol ids are token ids, plus ids >= vocab_size() for strings that merges mention
  // but the vocabulary lacks (llama.cpp merges strings, so those can occur in principle).
  int32_t symbol_id(const std::string& piece);
  void apply_load_fixes();
  void encode_word(std::string_view word, Workspace& ws, std::vector<int32_t>& out) const;

  std::vector<std::string> pieces_;  // (n_vocab)
  std::vector<TokenType> types_;     // (n_vocab)
  std::vector<std::string> texts_;   // (n_vocab) decoded bytes
  std::unordered_map<std::string, int32_t> piece_to_id_;
  std::vector<std::string> extra_symbols_;  // pieces of symbol ids >= n_vocab
  std::unordered_map<std::string, int32_t> extra_symbol_ids_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
  std::array<int32_t, 256> byte_symbols_{};     // symbol id of each single byte
  std::vector<int32_t> special_ids_;            // longest string first
  std::vector<int32_t> end_of_generation_;
  text::PreTokenizerKind pre_tokenizer_ = text::PreTokenizerKind::kQwen2;
  int32_t bos_id_ = kNoToken;
  int32_t eos_id_ = kNoToken;
  int32_t eot_id_ = kNoToken;
  int32_t pad_id_ = kNoToken;
  bool add_bos_ = false;
};

}  // namespace tandem
