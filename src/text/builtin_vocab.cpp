#include "text/builtin_vocab.h"

#include <map>
#include <utility>

#include "text/chat_template.h"
#include "text/pretokenizer.h"
#include "text/unicode.h"

namespace tandem::text {
namespace {

constexpr int32_t kNormal = 1;
constexpr int32_t kControl = 3;

// A word of the sample as its current symbols, and how often the word occurs.
struct Word {
  std::vector<std::string> symbols;
  size_t count = 0;
};

std::vector<Word> sample_words(const std::string& text) {
  PreTokenized split;
  pre_tokenize(text, PreTokenizerKind::kQwen2, split);
  std::map<std::string, size_t> counts;
  uint32_t begin = 0;
  for (uint32_t end : split.word_ends) {
    ++counts[split.text.substr(begin, end - begin)];
    begin = end;
  }
  std::vector<Word> words;
  for (const auto& [word, count] : counts) {
    Word w;
    for (unsigned char byte : word) w.symbols.push_back(byte_to_unicode(byte));
    w.count = count;
    words.push_back(std::move(w));
  }
  return words;
}

void apply_merge(std::vector<Word>& words, const std::string& left, const std::string& right) {
  for (Word& word : words) {
    std::vector<std::string> merged;
    for (size_t i = 0; i < word.symbols.size(); ++i) {
      if (i + 1 < word.symbols.size() && word.symbols[i] == left && word.symbols[i + 1] == right) {
        merged.push_back(left + right);
        ++i;
      } else {
        merged.push_back(word.symbols[i]);
      }
    }
    word.symbols = std::move(merged);
  }
}

}  // namespace

const std::string& builtin_sample_text() {
  static const std::string kText =
      "Hello! How are you today? I am fine, thank you. What can I do for you?\n"
      "The quick brown fox jumps over the lazy dog. The dog was not amused, and the fox ran "
      "into the forest where the other foxes were waiting for him.\n"
      "A model that fits in no single machine can run across several machines, behind one "
      "endpoint. Each machine runs a few of the layers; the activations travel from one "
      "machine to the next, and only the sampled tokens come back.\n"
      "User: Can you tell me a story about a small robot?\n"
      "Assistant: Once upon a time there was a small robot who wanted to learn how to paint. "
      "Every morning it went to the garden and looked at the flowers, the trees and the sky. "
      "It mixed the colors again and again until the picture looked just like the world it "
      "saw. The other robots laughed at first, but then they asked it to teach them.\n"
      "The weather is nice and warm this afternoon, so we are going to the park with the "
      "children. They like to play on the grass and to feed the ducks in the pond.\n"
      "In the beginning the computer was a large machine that filled a whole room. Today a "
      "phone in your pocket is faster than all of those machines together.\n"
      "def add(a, b):\n    return a + b\n\nfor i in range(10):\n    print(i, add(i, i))\n"
      "Numbers: 1, 2, 3, 10, 42, 100, 2024, 3.14, 1000000.\n"
      "Questions and answers: Where is the station? It is at the end of the street, on the "
      "left. When does the train leave? The train leaves at seven in the evening. Why is the "
      "sky blue? Because the air scatters the blue light of the sun more than the red light.\n"
      "Thank you for your help, and have a good day. You are welcome; see you tomorrow.\n"
      "Writing good software takes time: you think about the problem, you write a test, you "
      "write the code, and then you make it simple and fast. Reading the code of other people "
      "is a good way to learn.\n";
  return kText;
}

BuiltinVocabulary learn_vocabulary(const std::string& text, size_t merge_count) {
  BuiltinVocabulary vocab;
  for (int byte = 0; byte < 256; ++byte) {
    vocab.tokens.push_back(byte_to_unicode(static_cast<uint8_t>(byte)));
    vocab.types.push_back(kNormal);
  }
  std::vector<Word> words = sample_words(text);
  while (vocab.merges.size() < merge_count) {
    std::map<std::pair<std::string, std::string>, size_t> pairs;
    for (const Word& word : words) {
      for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
        pairs[{word.symbols[i], word.symbols[i + 1]}] += word.count;
      }
    }
    // The most frequent pair; among equals the first in string order (map order).
    const std::pair<std::string, std::string>* best = nullptr;
    size_t best_count = 0;
    for (const auto& [pair, count] : pairs) {
      if (count > best_count) {
        best = &pair;
        best_count = count;
      }
    }
    if (best == nullptr) break;  // every word of the sample is one token
    const auto [left, right] = *best;
    vocab.merges.push_back(left + " " + right);
    vocab.tokens.push_back(left + right);
    vocab.types.push_back(kNormal);
    apply_merge(words, left, right);
  }
  const auto add_special = [&vocab](const std::string& piece) {
    vocab.tokens.push_back(piece);
    vocab.types.push_back(kControl);
    return static_cast<int32_t>(vocab.tokens.size() - 1);
  };
  vocab.endoftext_id = add_special("<|endoftext|>");
  vocab.im_start_id = add_special("<|im_start|>");
  vocab.im_end_id = add_special("<|im_end|>");
  return vocab;
}

const BuiltinVocabulary& builtin_vocabulary() {
  static const BuiltinVocabulary kVocabulary =
      learn_vocabulary(builtin_sample_text(), kBuiltinMerges);
  return kVocabulary;
}

GgufWriter builtin_vocabulary_gguf() {
  const BuiltinVocabulary& vocab = builtin_vocabulary();
  GgufWriter writer;
  writer.add_string("general.name", "tandem builtin vocabulary");
  writer.add_string("tokenizer.ggml.model", "gpt2");
  writer.add_string("tokenizer.ggml.pre", "qwen2");
  writer.add_string_array("tokenizer.ggml.tokens", vocab.tokens);
  writer.add_int32_array("tokenizer.ggml.token_type", vocab.types);
  writer.add_string_array("tokenizer.ggml.merges", vocab.merges);
  writer.add_uint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab.endoftext_id));
  writer.add_uint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab.im_end_id));
  writer.add_uint32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(vocab.endoftext_id));
  writer.add_bool("tokenizer.ggml.add_bos_token", false);
  writer.add_string("tokenizer.chat_template", std::string(ChatTemplate::kChatMlTemplate));
  return writer;
}

}  // namespace tandem::text
