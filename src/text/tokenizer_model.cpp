// Reading the tokenizer.ggml.* keys of a GGUF file.

#include "gguf/model_file.h"
#include "platform/error.h"
#include "text/tokenizer.h"

namespace tandem {
namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kPreKey = "tokenizer.ggml.pre";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";
constexpr std::string_view kAddBosKey = "tokenizer.ggml.add_bos_token";

int32_t read_id(const ModelFile& model, std::string_view key, size_t vocab_size) {
  const auto value = model.get_uint_opt(key);
  if (!value) return Tokenizer::kNoToken;
  if (*value >= vocab_size) {
    throw Error(str_cat(model.path(), ": ", key, " = ", *value, " is outside the vocabulary of ",
                        vocab_size, " tokens"));
  }
  return static_cast<int32_t>(*value);
}

}  // namespace

TokenizerData read_tokenizer_data(const ModelFile& model) {
  const std::string& kind = model.get_string(kModelKey);
  if (kind != "gpt2") {
    throw Error(str_cat(model.path(), ": ", kModelKey, " is '", kind,
                        "'; only byte-level BPE ('gpt2') is supported"));
  }
  TokenizerData data;
  data.pre_tokenizer = model.get_string_opt(kPreKey).value_or("");
  if (!text::parse_pre_tokenizer(data.pre_tokenizer)) {
    throw Error(str_cat(model.path(), ": ", kPreKey, " is '", data.pre_tokenizer,
                        "'; supported: qwen2, qwen35"));
  }
  data.tokens = model.get_string_array(kTokensKey);
  if (data.tokens.empty()) throw Error(str_cat(model.path(), ": ", kTokensKey, " is empty"));
  if (model.has(kTypesKey)) {
    const std::vector<int64_t> types = model.get_int_array(kTypesKey);
    if (types.size() != data.tokens.size()) {
      throw Error(str_cat(model.path(), ": ", kTypesKey, " has ", types.size(), " entries but ",
                          kTokensKey, " has ", data.tokens.size()));
    }
    data.types.reserve(types.size());
    for (const int64_t type : types) {
      // llama.cpp reads unknown values as undefined.
      data.types.push_back(type >= 0 && type <= 6 ? static_cast<TokenType>(type)
                                                  : TokenType::kUndefined);
    }
  }
  data.merges = model.get_string_array(kMergesKey);
  const size_t n = data.tokens.size();
  data.bos_id = read_id(model, "tokenizer.ggml.bos_token_id", n);
  data.eos_id = read_id(model, "tokenizer.ggml.eos_token_id", n);
  data.eot_id = read_id(model, "tokenizer.ggml.eot_token_id", n);
  data.pad_id = read_id(model, "tokenizer.ggml.padding_token_id", n);
  data.add_bos = model.get_bool_or(kAddBosKey, false);
  if (data.add_bos && data.bos_id == Tokenizer::kNoToken) {
    throw Error(str_cat(model.path(), ": ", kAddBosKey,
                        " is true but tokenizer.ggml.bos_token_id is missing"));
  }
  return data;
}

Tokenizer Tokenizer::from_model(const ModelFile& model) {
  return Tokenizer(read_tokenizer_data(model));
}

}  // namespace tandem
