// The tokenizer against llama.cpp's ids: tokenizer_goldens.jsonl (four vocabularies, with
// and without special-token parsing) and the model files' prompts; streaming
// detokenization, round trips, speed and the tokenize command.

#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gguf/model_file.h"
#include "platform/error.h"
#include "test_paths.h"
#include "text/detokenizer.h"
#include "text/unicode.h"

namespace tandem {
namespace {

using nlohmann::json;

std::string from_hex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

std::vector<json> read_goldens() {
  std::ifstream in(testing::reference_path("tokenizer_goldens.jsonl"));
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(json::parse(line));
  }
  return lines;
}

Tokenizer load(const std::string& file) {
  return Tokenizer::from_model(ModelFile(testing::reference_path(file)));
}

// Qwen3's added tokens in their order, ids 151643.. in a converted Qwen3 GGUF.
struct AddedToken {
  const char* piece;
  TokenType type;
};
constexpr TokenType kC = TokenType::kControl;
constexpr TokenType kU = TokenType::kUserDefined;
const AddedToken kQwen3AddedTokens[] = {
    {"<|endoftext|>", kC},
    {"<|im_start|>", kC},
    {"<|im_end|>", kC},
    {"<|object_ref_start|>", kC},
    {"<|object_ref_end|>", kC},
    {"<|box_start|>", kC},
    {"<|box_end|>", kC},
    {"<|quad_start|>", kC},
    {"<|quad_end|>", kC},
    {"<|vision_start|>", kC},
    {"<|vision_end|>", kC},
    {"<|vision_pad|>", kC},
    {"<|image_pad|>", kC},
    {"<|video_pad|>", kC},
    {"<tool_call>", kU},
    {"</tool_call>", kU},
    {"<|fim_prefix|>", kC},
    {"<|fim_middle|>", kC},
    {"<|fim_suffix|>", kC},
    {"<|fim_pad|>", kC},
    {"<|repo_name|>", kC},
    {"<|file_sep|>", kC},
    {"<tool_response>", kU},
    {"</tool_response>", kU},
    {"<think>", kU},
    {"</think>", kU},
};
constexpr int32_t kQwen2BpeTokens = 151643;

// The full Qwen2/Qwen3 BPE vocabulary with Qwen3's 26 added tokens after it.
Tokenizer build_qwen3_full_specials() {
  TokenizerData data =
      read_tokenizer_data(ModelFile(testing::reference_path("ggml-vocab-qwen2.gguf")));
  data.tokens.resize(kQwen2BpeTokens);
  data.types.resize(kQwen2BpeTokens);
  for (const AddedToken& added : kQwen3AddedTokens) {
    data.tokens.push_back(added.piece);
    data.types.push_back(added.type);
  }
  data.bos_id = data.eos_id = data.pad_id = kQwen2BpeTokens;
  data.eot_id = -1;
  return Tokenizer(std::move(data));
}

// Loaded once: the full vocabulary takes a moment.
class TokenizerGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::have_reference()) return;
    goldens_ = new std::vector<json>(read_goldens());
    tiny_ = new Tokenizer(load("tokenizer-tiny4096.gguf"));
    tiny35_ = new Tokenizer(load("tokenizer-tiny4096-qwen35pre.gguf"));
    qwen2_ = new Tokenizer(load("ggml-vocab-qwen2.gguf"));
    qwen3_ = new Tokenizer(build_qwen3_full_specials());
  }
  static void TearDownTestSuite() {
    delete goldens_;
    delete tiny_;
    delete tiny35_;
    delete qwen2_;
    delete qwen3_;
  }
  void SetUp() override { TANDEM_REQUIRE_SHARED(); }

  static void check_column(const Tokenizer& tokenizer, const std::string& column) {
    int compared = 0;
    for (const json& golden : *goldens_) {
      const std::string text = from_hex(golden["text_utf8_hex"]);
      const json& expected = golden["tokens"][column];
      for (const bool parse_special : {true, false}) {
        const auto want = expected[parse_special ? "parse_special" : "no_parse_special"]
                              .get<std::vector<int32_t>>();
        EXPECT_EQ(tokenizer.encode(text, parse_special), want)
            << column << " id " << golden["id"] << " (" << golden["category"]
            << ") parse_special=" << parse_special << " text: " << golden["text"];
        ++compared;
      }
    }
    EXPECT_EQ(compared, 2 * static_cast<int>(goldens_->size()));
  }

  static inline std::vector<json>* goldens_ = nullptr;
  static inline Tokenizer* tiny_ = nullptr;
  static inline Tokenizer* tiny35_ = nullptr;
  static inline Tokenizer* qwen2_ = nullptr;
  static inline Tokenizer* qwen3_ = nullptr;
};

TEST_F(TokenizerGolden, Tiny4096) { check_column(*tiny_, "tiny4096"); }
TEST_F(TokenizerGolden, Tiny4096Qwen35Pre) { check_column(*tiny35_, "tiny4096_qwen35pre"); }
TEST_F(TokenizerGolden, Qwen2Full) { check_column(*qwen2_, "qwen2_full"); }
TEST_F(TokenizerGolden, Qwen3FullSpecials) { check_column(*qwen3_, "qwen3_full_specials"); }

TEST_F(TokenizerGolden, AddedTokensMatchTheSmallVocabulary) {
  // The tiny vocabulary holds the same 26 added tokens at 4096..; the hand-written table
  // above must agree with it.
  for (int i = 0; i < 26; ++i) {
    EXPECT_EQ(tiny_->token_piece(4096 + i), kQwen3AddedTokens[i].piece);
    EXPECT_EQ(tiny_->token_type(4096 + i), kQwen3AddedTokens[i].type) << kQwen3AddedTokens[i].piece;
  }
  EXPECT_EQ(qwen3_->vocab_size(), kQwen2BpeTokens + 26);
}

TEST_F(TokenizerGolden, LoadTimeFixesAndSpecialIds) {
  EXPECT_EQ(tiny_->bos_id(), 4096);
  EXPECT_EQ(tiny_->eos_id(), 4096);
  EXPECT_FALSE(tiny_->add_bos());
  EXPECT_EQ(tiny_->eot_id(), 4098);  // "<|im_end|>", found by name
  EXPECT_TRUE(tiny_->is_end_of_generation(4096));
  EXPECT_TRUE(tiny_->is_end_of_generation(4098));
  EXPECT_FALSE(tiny_->is_end_of_generation(4097));
  EXPECT_EQ(tiny35_->pre_tokenizer(), text::PreTokenizerKind::kQwen35);
  // "</s>" is ordinary text in the Qwen2 vocabulary; llama.cpp makes it a control token.
  EXPECT_EQ(qwen2_->find_token("</s>"), 128247);
  EXPECT_EQ(qwen2_->token_type(128247), TokenType::kControl);
}

TEST_F(TokenizerGolden, ModelPromptsTokenizeExactly) {
  int prompts = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::shared_dir() + "/reference")) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    const json info = json::parse(in);
    if (!info.contains("prompts") || !info.contains("model_file")) continue;
    const Tokenizer tokenizer = load(info["model_file"].get<std::string>());
    for (const json& prompt : info["prompts"]) {
      const auto want = prompt["token_ids"].get<std::vector<int32_t>>();
      EXPECT_EQ(
          tokenizer.encode(prompt["text"].get<std::string>(), prompt["parse_special"].get<bool>()),
          want)
          << entry.path().filename() << " prompt " << prompt["name"];
      ++prompts;
    }
  }
  EXPECT_GE(prompts, 4 * 7);  // four prompts of each of the seven model files
}

// Pushes ids one at a time; every piece must be whole UTF-8 and all of them the text.
void expect_streams_back(const Tokenizer& tokenizer, const std::string& text) {
  const std::vector<int32_t> ids = tokenizer.encode(text, true);
  StreamingDetokenizer detokenizer(tokenizer);
  std::string joined;
  for (const int32_t id : ids) {
    const std::string piece = detokenizer.push(id);
    ASSERT_TRUE(text::is_valid_utf8(piece)) << "after token " << id << " of " << text;
    joined += piece;
  }
  const std::string rest = detokenizer.flush();
  EXPECT_TRUE(rest.empty()) << text;
  EXPECT_EQ(joined + rest, text);
}

TEST_F(TokenizerGolden, StreamingDetokenizerGivesBackValidText) {
  int multi_byte = 0;
  for (const json& golden : *goldens_) {
    if (!golden["valid_utf8"].get<bool>()) continue;
    const std::string text = from_hex(golden["text_utf8_hex"]);
    bool has_multi_byte = false;
    for (const char c : text) has_multi_byte |= static_cast<uint8_t>(c) >= 0x80;
    multi_byte += has_multi_byte;
    // The small vocabulary cuts most non-ASCII characters into byte tokens.
    expect_streams_back(*tiny_, text);
    expect_streams_back(*qwen3_, text);
  }
  EXPECT_GE(multi_byte, 20);
}

TEST_F(TokenizerGolden, RoundTripsValidUtf8) {
  for (const json& golden : *goldens_) {
    if (!golden["valid_utf8"].get<bool>()) continue;
    const std::string text = from_hex(golden["text_utf8_hex"]);
    for (const Tokenizer* tokenizer : {tiny_, tiny35_, qwen2_, qwen3_}) {
      for (const bool parse_special : {true, false}) {
        std::string decoded;
        for (const int32_t id : tokenizer->encode(text, parse_special)) {
          decoded += tokenizer->token_text(id);
        }
        EXPECT_EQ(decoded, text) << golden["id"];
      }
    }
  }
}

TEST_F(TokenizerGolden, InvalidUtf8BecomesReplacementCharacters) {
  // llama.cpp turns each undecodable byte into U+FFFD before splitting.
  const std::string replaced =
      "abc\xEF\xBF\xBD\xEF\xBF\xBD"
      "def";
  EXPECT_EQ(qwen2_->encode("abc\xFF\xFE"
                           "def",
                           true),
            qwen2_->encode(replaced, true));
  // A truncated character is two bad bytes: E2 (its continuation is missing), then 82.
  EXPECT_EQ(tiny_->encode("x\xE2\x82 y", false),
            tiny_->encode("x\xEF\xBF\xBD\xEF\xBF\xBD y", false));
}

TEST_F(TokenizerGolden, DropsControlTokensWhenAsked) {
  const std::string text = "<|im_start|>user\nHi<think>ok</think><|im_end|>";
  const std::vector<int32_t> ids = qwen3_->encode(text, true);
  std::string kept;
  std::string dropped;
  StreamingDetokenizer keep(*qwen3_);
  StreamingDetokenizer drop(*qwen3_, DetokenizerOptions{.drop_control = true});
  for (const int32_t id : ids) {
    kept += keep.push(id);
    dropped += drop.push(id);
  }
  EXPECT_EQ(kept + keep.flush(), text);
  EXPECT_EQ(dropped + drop.flush(), "user\nHi<think>ok</think>");
}

TEST_F(TokenizerGolden, StreamingHoldsBackAndReplacesBrokenCharacters) {
  const auto byte_token = [&](uint8_t b) { return *tiny_->find_token(text::byte_to_unicode(b)); };
  StreamingDetokenizer detokenizer(*tiny_);
  // "é" = C3 A9, sent as two byte tokens.
  EXPECT_EQ(detokenizer.push(byte_token(0xC3)), "");
  EXPECT_EQ(detokenizer.pending_bytes(), 1u);
  EXPECT_EQ(detokenizer.push(byte_token(0xA9)), "\xC3\xA9");
  // A truncated 3-byte character followed by 'a': one U+FFFD, then 'a'.
  EXPECT_EQ(detokenizer.push(byte_token(0xE2)), "");
  EXPECT_EQ(detokenizer.push(byte_token(0x82)), "");
  EXPECT_EQ(detokenizer.push(byte_token('a')),
            "\xEF\xBF\xBD"
            "a");
  // A lone continuation byte, and an incomplete character at the end.
  EXPECT_EQ(detokenizer.push(byte_token(0x80)), "\xEF\xBF\xBD");
  EXPECT_EQ(detokenizer.push(byte_token(0xF0)), "");
  EXPECT_EQ(detokenizer.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(detokenizer.flush(), "");
}

TEST_F(TokenizerGolden, LongTextTokenizesFast) {
  // 20k characters of varied words (few repeats, so the word cache does not help much):
  // letters, digits, CJK, punctuation and whitespace from a fixed pseudo-random sequence.
  std::string text;
  uint32_t state = 12345;
  const auto next = [&](uint32_t n) {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % n;
  };
  size_t characters = 0;
  while (characters < 20000) {
    const uint32_t kind = next(10);
    const uint32_t length = 1 + next(9);
    for (uint32_t i = 0; i < length; ++i) {
      if (kind < 6) {
        text.push_back(static_cast<char>('a' + next(26)));
      } else if (kind < 7) {
        text.push_back(static_cast<char>('0' + next(10)));
      } else if (kind < 8) {
        text::append_utf8(text, 0x4E00 + next(2000));
      } else {
        text.push_back("!?.,;:()[]{}<>-_=+*/\\\"'"[next(23)]);
      }
      ++characters;
    }
    text.push_back(next(8) == 0 ? '\n' : ' ');
    ++characters;
  }
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = qwen2_->encode(text, true);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("encoded %zu characters into %zu tokens in %.2f ms\n", characters, ids.size(), ms);
  EXPECT_LT(ms, 200.0);
  std::string decoded;
  for (const int32_t id : ids) decoded += qwen2_->token_text(id);
  EXPECT_EQ(decoded, text);
}

std::string run_command(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe.get())) > 0;) out.append(buffer, n);
  return out;
}

TEST_F(TokenizerGolden, TokenizeCommandPrintsIds) {
  const std::string model = testing::reference_path("tokenizer-tiny4096.gguf");
  const std::string text = "-<|im_start|>user Hi";
  const std::string base = testing::tandem_binary() + " tokenize ";
  EXPECT_EQ(run_command(base + "-- '" + model + "' '" + text + "'"),
            json(tiny_->encode(text, true)).dump() + "\n");
  EXPECT_EQ(run_command(base + "--no-special -- '" + model + "' '" + text + "'"),
            json(tiny_->encode(text, false)).dump() + "\n");
  EXPECT_NE(run_command(base + "-- '" + model + "' '" + text + "'"),
            run_command(base + "--no-special -- '" + model + "' '" + text + "'"));
}

}  // namespace
}  // namespace tandem
