#include "text/tokenizer.h"

#include <algorithm>
#include <queue>
#include <span>

#include "platform/error.h"
#include "text/unicode.h"

namespace tandem {
namespace {

// Token strings llama.cpp marks as control at load time whatever the file says (its
// end-of-generation list; the file may have them as normal text, e.g. "</s>" in Qwen2).
constexpr std::string_view kEndOfGenerationNames[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
};

// Roles llama.cpp finds by name; it marks the token it finds for each role as control.
// Only the first name present is used here (llama.cpp takes whichever its hash map
// yields first).
constexpr std::string_view kEndOfTurnNames[] = {
    "<|eot_id|>",      "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>", "<EOT>",      "_<EOT>",  "[EOT]",         "<end_of_utterance>"};
constexpr std::string_view kEndOfMessageNames[] = {"<|eom_id|>"};
constexpr std::string_view kFimPrefixNames[] = {"<|fim_prefix|>", "<fim-prefix>",    "<fim_prefix>",
                                                "<PRE>",          "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSuffixNames[] = {"<|fim_suffix|>", "<fim-suffix>",    "<fim_suffix>",
                                                "<SUF>",          "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMiddleNames[] = {"<|fim_middle|>", "<fim-middle>",    "<fim_middle>",
                                                "<MID>",          "<|code_middle|>", "<|middle|>"};
// These three also end a generation.
constexpr std::string_view kFimPadNames[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                             "[PAD]"};
constexpr std::string_view kFimRepoNames[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                              "<REPO>", "<reponame>"};
constexpr std::string_view kFimSeparatorNames[] = {"<|file_sep|>"};

uint64_t pair_key(int32_t left, int32_t right) {
  return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
}

// Decodes a normal token's byte-level string into the bytes it stands for.
std::string decode_piece(std::string_view piece) {
  std::string bytes;
  for (size_t pos = 0; pos < piece.size();) {
    const text::DecodedCodepoint d = text::decode_lenient(piece, pos);
    pos += d.length;
    const int byte = text::unicode_to_byte(d.cp);
    if (byte >= 0) {
      bytes.push_back(static_cast<char>(byte));
    } else {
      text::append_utf8(bytes, d.cp);  // not a byte-level string: keep the character
    }
  }
  return bytes;
}

}  // namespace

// Scratch of one encode() call: BPE symbols and queue, and the ids of words seen before.
struct Tokenizer::Workspace {
  struct Symbol {
    int32_t id;  // symbol id; kNoToken once merged into its left neighbour
    int32_t prev;
    int32_t next;
  };
  struct Bigram {
    int32_t rank;
    int32_t left;  // symbol index
    int32_t right;
    int32_t left_id;  // the symbols' ids when queued: a changed one makes the entry stale
    int32_t right_id;
    int32_t result;
    // std::priority_queue pops the largest: make that the lowest rank, then leftmost.
    bool operator<(const Bigram& other) const {
      return rank != other.rank ? rank > other.rank : left > other.left;
    }
  };
  std::vector<Symbol> symbols;
  std::priority_queue<Bigram> queue;
  text::PreTokenized words;
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>> cache;  // word -> ids range
  std::vector<int32_t> cached_ids;
};

Tokenizer::Tokenizer(TokenizerData data) {
  const size_t n = data.tokens.size();
  if (n == 0) throw Error("tokenizer: the vocabulary is empty");
  if (n >= static_cast<size_t>(INT32_MAX / 2))
    throw Error("tokenizer: the vocabulary is too large");
  if (!data.types.empty() && data.types.size() != n) {
    throw Error(str_cat("tokenizer: ", data.types.size(), " token types for ", n, " tokens"));
  }
  const auto pre = text::parse_pre_tokenizer(data.pre_tokenizer);
  if (!pre) {
    throw Error(str_cat("tokenizer: pre-tokenizer '", data.pre_tokenizer,
                        "' is not supported (supported: qwen2, qwen35)"));
  }
  pre_tokenizer_ = *pre;
  for (const auto& [name, id] : {std::pair<const char*, int32_t>{"bos", data.bos_id},
                                 {"eos", data.eos_id},
                                 {"eot", data.eot_id},
                                 {"pad", data.pad_id}}) {
    if (id < -1 || id >= static_cast<int64_t>(n)) {
      throw Error(str_cat("tokenizer: ", name, " id ", id, " is outside the vocabulary of ", n));
    }
  }
  bos_id_ = data.bos_id;
  eos_id_ = data.eos_id;
  eot_id_ = data.eot_id;
  pad_id_ = data.pad_id;
  add_bos_ = data.add_bos;
  if (add_bos_ && bos_id_ == kNoToken)
    throw Error("tokenizer: add_bos is set but there is no bos id");

  pieces_ = std::move(data.tokens);
  types_ =
      data.types.empty() ? std::vector<TokenType>(n, TokenType::kNormal) : std::move(data.types);
  piece_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (pieces_[i].empty()) pieces_[i] = str_cat("[EMPTY_", i, "]");  // as llama.cpp names them
    piece_to_id_[pieces_[i]] = static_cast<int32_t>(i);               // a later duplicate wins
  }
  apply_load_fixes();

  texts_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    switch (types_[i]) {
      case TokenType::kNormal:
        texts_[i] = decode_piece(pieces_[i]);
        break;
      case TokenType::kControl:
      case TokenType::kUnknown:
      case TokenType::kUserDefined:
        texts_[i] = pieces_[i];
        break;
      default:
        break;  // unused, byte and undefined tokens render as nothing
    }
  }

  for (int b = 0; b < 256; ++b) byte_symbols_[b] = symbol_id(text::byte_to_unicode(uint8_t(b)));
  merges_.reserve(data.merges.size());
  for (size_t rank = 0; rank < data.merges.size(); ++rank) {
    const std::string& merge = data.merges[rank];
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos) continue;  // llama.cpp keeps it as ("", ""): never used
    const std::string left = merge.substr(0, space);
    const std::string right = merge.substr(space + 1);
    if (right.empty()) continue;
    const int32_t left_id = symbol_id(left);
    const int32_t right_id = symbol_id(right);
    const int32_t result = symbol_id(left + right);
    merges_.try_emplace(pair_key(left_id, right_id), Merge{static_cast<int32_t>(rank), result});
  }

  for (size_t i = 0; i < n; ++i) {
    const TokenType type = types_[i];
    if (type == TokenType::kControl || type == TokenType::kUserDefined ||
        type == TokenType::kUnknown) {
      special_ids_.push_back(static_cast<int32_t>(i));
    }
  }
  std::stable_sort(special_ids_.begin(), special_ids_.end(),
                   [&](int32_t a, int32_t b) { return pieces_[a].size() > pieces_[b].size(); });
}

int32_t Tokenizer::symbol_id(const std::string& piece) {
  if (auto it = piece_to_id_.find(piece); it != piece_to_id_.end()) return it->second;
  if (auto it = extra_symbol_ids_.find(piece); it != extra_symbol_ids_.end()) return it->second;
  const auto id = static_cast<int32_t>(pieces_.size() + extra_symbols_.size());
  extra_symbols_.push_back(piece);
  extra_symbol_ids_.emplace(piece, id);
  return id;
}

void Tokenizer::apply_load_fixes() {
  const auto find = [&](std::string_view name) -> int32_t {
    auto it = piece_to_id_.find(std::string(name));
    return it == piece_to_id_.end() ? kNoToken : it->second;
  };
  const auto mark_control = [&](int32_t id) {
    if (id != kNoToken) types_[id] = TokenType::kControl;
  };
  const auto find_role = [&](std::span<const std::string_view> names) -> int32_t {
    for (std::string_view name : names) {
      if (const int32_t id = find(name); id != kNoToken) return id;
    }
    return kNoToken;
  };
  if (eot_id_ == kNoToken) {
    eot_id_ = find_role(kEndOfTurnNames);
    mark_control(eot_id_);
  }
  for (auto names : {std::span<const std::string_view>(kEndOfMessageNames),
                     std::span<const std::string_view>(kFimPrefixNames),
                     std::span<const std::string_view>(kFimSuffixNames),
                     std::span<const std::string_view>(kFimMiddleNames)}) {
    mark_control(find_role(names));
  }
  std::vector<int32_t> eog;
  for (auto names : {std::span<const std::string_view>(kFimPadNames),
                     std::span<const std::string_view>(kFimRepoNames),
                     std::span<const std::string_view>(kFimSeparatorNames)}) {
    const int32_t id = find_role(names);
    mark_control(id);
    if (id != kNoToken) eog.push_back(id);
  }
  for (std::string_view name : kEndOfGenerationNames) {
    const int32_t id = find(name);
    mark_control(id);
    if (id != kNoToken) eog.push_back(id);
  }
  if (eos_id_ != kNoToken) eog.push_back(eos_id_);
  if (eot_id_ != kNoToken) eog.push_back(eot_id_);
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  end_of_generation_ = std::move(eog);
}

void Tokenizer::check_id(int32_t id) const {
  TANDEM_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " outside [0, ", vocab_size(), ")");
}

const std::string& Tokenizer::token_text(int32_t id) const {
  check_id(id);
  return texts_[id];
}

const std::string& Tokenizer::token_piece(int32_t id) const {
  check_id(id);
  return pieces_[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
  check_id(id);
  return types_[id];
}

std::optional<int32_t> Tokenizer::find_token(std::string_view piece) const {
  auto it = piece_to_id_.find(std::string(piece));
  if (it == piece_to_id_.end()) return std::nullopt;
  return it->second;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return std::binary_search(end_of_generation_.begin(), end_of_generation_.end(), id);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> out;
  if (text.empty()) return out;

  // Cut special tokens out, longest first, each over every text fragment left so far.
  struct Fragment {
    size_t offset;
    size_t length;
    int32_t token;  // kNoToken for a text fragment
  };
  std::vector<Fragment> fragments = {{0, text.size(), kNoToken}};
  std::vector<Fragment> next;
  for (const int32_t id : special_ids_) {
    const TokenType type = types_[id];
    if (!parse_special && (type == TokenType::kControl || type == TokenType::kUnknown)) continue;
    const std::string& piece = pieces_[id];
    if (text.find(piece) == std::string_view::npos) continue;
    next.clear();
    for (const Fragment& fragment : fragments) {
      if (fragment.token != kNoToken) {
        next.push_back(fragment);
        continue;
      }
      const size_t end = fragment.offset + fragment.length;
      const std::string_view searched = text.substr(0, end);
      size_t pos = fragment.offset;
      for (size_t match; (match = searched.find(piece, pos)) != std::string_view::npos;) {
        if (match > pos) next.push_back({pos, match - pos, kNoToken});
        next.push_back({match, piece.size(), id});
        pos = match + piece.size();
      }
      if (pos < end) next.push_back({pos, end - pos, kNoToken});
    }
    fragments.swap(next);
  }

  Workspace ws;
  for (const Fragment& fragment : fragments) {
    if (fragment.token != kNoToken) {
      out.push_back(fragment.token);
      continue;
    }
    text::pre_tokenize(text.substr(fragment.offset, fragment.length), pre_tokenizer_, ws.words);
    const std::string_view words = ws.words.text;
    uint32_t start = 0;
    for (const uint32_t end : ws.words.word_ends) {
      encode_word(words.substr(start, end - start), ws, out);
      start = end;
    }
  }
  return out;
}

void Tokenizer::encode_word(std::string_view word, Workspace& ws, std::vector<int32_t>& out) const {
  const auto n_vocab = static_cast<int32_t>(pieces_.size());
  const auto emit = [&](int32_t symbol) {
    if (symbol < n_vocab) {
      out.push_back(symbol);
      return;
    }
    // A merged string the vocabulary lacks: llama.cpp emits the tokens of its single
    // characters that exist.
    const std::string& piece = extra_symbols_[symbol - n_vocab];
    for (const char c : piece) {
      if (auto it = piece_to_id_.find(std::string(1, c)); it != piece_to_id_.end()) {
        out.push_back(it->second);
      }
    }
  };
  if (word.size() == 1) {
    emit(byte_symbols_[static_cast<uint8_t>(word[0])]);
    return;
  }
  if (auto it = ws.cache.find(std::string(word)); it != ws.cache.end()) {
    const auto [begin, count] = it->second;
    out.insert(out.end(), ws.cached_ids.begin() + begin, ws.cached_ids.begin() + begin + count);
    return;
  }

  auto& symbols = ws.symbols;
  symbols.clear();
  const auto count = static_cast<int32_t>(word.size());
  for (int32_t i = 0; i < count; ++i) {
    symbols.push_back(
        {byte_symbols_[static_cast<uint8_t>(word[i])], i - 1, i + 1 < count ? i + 1 : -1});
  }
  const auto queue_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (it == merges_.end()) return;
    ws.queue.push(
        {it->second.rank, left, right, symbols[left].id, symbols[right].id, it->second.result});
  };
  for (int32_t i = 1; i < count; ++i) queue_pair(i - 1, i);
  while (!ws.queue.empty()) {
    const Workspace::Bigram bigram = ws.queue.top();
    ws.queue.pop();
    auto& left = symbols[bigram.left];
    auto& right = symbols[bigram.right];
    if (left.id != bigram.left_id || right.id != bigram.right_id) continue;  // stale
    left.id = bigram.result;
    right.id = kNoToken;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    queue_pair(left.prev, bigram.left);
    queue_pair(bigram.left, left.next);
  }

  const size_t first = out.size();
  for (int32_t i = 0; i >= 0; i = symbols[i].next) emit(symbols[i].id);
  const auto begin = static_cast<uint32_t>(ws.cached_ids.size());
  ws.cached_ids.insert(ws.cached_ids.end(), out.begin() + first, out.end());
  ws.cache.emplace(std::string(word), std::pair{begin, static_cast<uint32_t>(out.size() - first)});
}

}  // namespace tandem
