// Stage shards without networking: which tensors a stage reads, the shard file the
// coordinator streams (it parses, holds exactly those tensors and verifies), a damaged
// byte is caught, and a model loaded from a middle stage's shard computes its layers
// exactly as the whole model does. And the built-in vocabulary: a tokenizer that the
// regular loader reads, round-trips text and keeps Qwen's special tokens whole.

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/vocab_source.h"
#include "cluster/shard.h"
#include "cluster/shard_cache.h"
#include "gguf/gguf_writer.h"
#include "gguf/model_file.h"
#include "model/model.h"
#include "model/synth/synth_writer.h"
#include "text/builtin_vocab.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace tandem {
namespace {

using cluster::LoadStage;

class ShardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/tandem-shard-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = new std::string(pattern);
    for (const std::string arch : {"qwen3moe", "qwen35moe"}) {
      synth::SynthOptions options;
      options.config.architecture = arch;
      options.config.name = arch + "-shard-test";
      options.config.layers = 4;
      options.file_type = synth::FileType::kQ8_0;
      const cli::VocabularySource vocab(cli::kBuiltinVocab);
      synth::write_synth_model(options, vocab.file(), path(arch));
    }
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string path(const std::string& arch) { return *dir_ + "/" + arch + ".gguf"; }

  static LoadStage stage(uint32_t first, uint32_t end, uint32_t layers) {
    LoadStage load;
    load.first_layer = first;
    load.end_layer = end;
    load.has_embedding = first == 0;
    load.has_output = end == layers;
    return load;
  }
  // Writes the shard of `load` as the coordinator streams it, in uneven pieces.
  static std::string write_shard(const ModelFile& file, const LoadStage& load,
                                 const std::string& name) {
    const cluster::ShardStream stream(file, load);
    EXPECT_EQ(stream.size(), load.shard_bytes);
    std::vector<uint8_t> bytes(stream.size());
    for (uint64_t offset = 0; offset < bytes.size();) {
      const uint64_t size = std::min<uint64_t>(777, bytes.size() - offset);
      stream.read(offset, std::span(bytes).subspan(offset, size));
      offset += size;
    }
    const std::string out = *dir_ + "/" + name;
    std::ofstream(out, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return out;
  }

  static std::string* dir_;
};
std::string* ShardTest::dir_ = nullptr;

TEST_F(ShardTest, StageReadsOnlyItsLayersAndEnds) {
  const ModelFile file(path("qwen3moe"));
  LoadStage middle = stage(1, 3, 4);
  cluster::describe_stage(file, middle);
  ASSERT_FALSE(middle.tensors.empty());
  for (const auto& t : middle.tensors) {
    EXPECT_TRUE(t.name.rfind("blk.1.", 0) == 0 || t.name.rfind("blk.2.", 0) == 0) << t.name;
  }
  LoadStage last = stage(3, 4, 4);
  cluster::describe_stage(file, last);
  bool has_norm = false;
  for (const auto& t : last.tensors) has_norm |= t.name == "output_norm.weight";
  EXPECT_TRUE(has_norm);
  EXPECT_NE(middle.tensors_sha256, last.tensors_sha256);
  EXPECT_EQ(middle.tensors_sha256.size(), 64u);
}

TEST_F(ShardTest, StageHashIsRememberedUntilTheFileChanges) {
  const std::string copy = *dir_ + "/memo-model.gguf";
  std::filesystem::copy_file(path("qwen3moe"), copy);
  const std::string memo_dir = *dir_ + "/memo";
  LoadStage plain = stage(1, 3, 4);
  cluster::describe_stage(ModelFile(copy), plain);
  LoadStage first = stage(1, 3, 4);
  cluster::describe_stage(ModelFile(copy), first, memo_dir);
  EXPECT_EQ(first, plain);

  // A memo holding another hash is taken as it is: the file is not read again.
  std::vector<std::filesystem::path> memos;
  for (const auto& e : std::filesystem::directory_iterator(memo_dir + "/stages")) {
    memos.push_back(e.path());
  }
  ASSERT_EQ(memos.size(), 1u);
  std::stringstream text;
  text << std::ifstream(memos[0]).rdbuf();
  std::string edited = text.str();
  edited.replace(edited.size() - 65, 64, std::string(64, 'f'));
  std::ofstream(memos[0], std::ios::trunc) << edited;
  LoadStage remembered = stage(1, 3, 4);
  cluster::describe_stage(ModelFile(copy), remembered, memo_dir);
  EXPECT_EQ(remembered.tensors_sha256, std::string(64, 'f'));

  // A newer modification time is another key: hashed again.
  std::filesystem::last_write_time(
      copy, std::filesystem::last_write_time(copy) + std::chrono::seconds(5));
  LoadStage again = stage(1, 3, 4);
  cluster::describe_stage(ModelFile(copy), again, memo_dir);
  EXPECT_EQ(again.tensors_sha256, plain.tensors_sha256);
}

TEST_F(ShardTest, StreamedShardHoldsExactlyTheStageAndVerifies) {
  const ModelFile file(path("qwen3moe"));
  LoadStage load = stage(1, 3, 4);
  cluster::describe_stage(file, load);
  const std::string shard_path = write_shard(file, load, "middle.gguf");
  const ModelFile shard(shard_path);
  EXPECT_EQ(shard.tensors().size(), load.tensors.size());
  EXPECT_EQ(shard.find_tensor("token_embd.weight"), nullptr);
  EXPECT_EQ(shard.get_uint("qwen3moe.vocab_size"), file.tensor("token_embd.weight").row_count());
  EXPECT_EQ(cluster::stage_mismatch(shard, load), "");
  EXPECT_EQ(cluster::stage_mismatch(file, load), "");  // the whole model holds it too

  // One flipped byte in the data of the last tensor.
  const TensorInfo& last = shard.tensors().back();
  const uint64_t at = shard.primary().data_offset() + last.offset + last.bytes / 2;
  std::fstream edit(shard_path, std::ios::binary | std::ios::in | std::ios::out);
  edit.seekg(static_cast<std::streamoff>(at));
  const char byte = static_cast<char>(edit.get() ^ 0x5a);
  edit.seekp(static_cast<std::streamoff>(at));
  edit.put(byte);
  edit.close();
  const std::string why = cluster::stage_mismatch(ModelFile(shard_path), load);
  EXPECT_NE(why.find("SHA-256"), std::string::npos) << why;

  // Another stage's identity does not match this shard.
  LoadStage other = stage(0, 1, 4);
  cluster::describe_stage(file, other);
  EXPECT_NE(cluster::stage_mismatch(ModelFile(write_shard(file, load, "m2.gguf")), other), "");
}

TEST_F(ShardTest, MiddleShardComputesLikeTheWholeModel) {
  for (const std::string arch : {"qwen3moe", "qwen35moe"}) {
    const ModelFile file(path(arch));
    LoadStage load = stage(1, 4, 4);
    load.has_output = false;  // layers only: checks that the output head is not needed
    cluster::describe_stage(file, load);
    const ModelFile shard(write_shard(file, load, arch + "-layers.gguf"));
    ThreadPool pool(1);
    const auto whole = Model::load(file, ModelOptions{}, pool);
    ModelOptions options;
    options.first_layer = 1;
    options.end_layer = 4;
    options.input = false;
    options.output = false;
    const auto part = Model::load(shard, options, pool);

    const std::vector<int32_t> tokens = {5, 300, 17, 256, 42, 99};
    const Batch batch = Batch::sequence(tokens, 0, 0, false);
    KvCache cache_whole = whole->make_cache(16);
    KvCache cache_part = part->make_cache(16);
    FloatMatrix hidden = whole->embed(batch);  // [tokens][hidden]
    whole->run_layers(0, 1, batch, hidden, cache_whole);
    FloatMatrix split = hidden;
    whole->run_layers(1, 4, batch, hidden, cache_whole);
    part->run_layers(1, 4, batch, split, cache_part);
    ASSERT_EQ(hidden.data().size(), split.data().size());
    for (size_t i = 0; i < hidden.data().size(); ++i) {
      ASSERT_EQ(hidden.data()[i], split.data()[i]) << arch << " at " << i;
    }
  }
}

// A coordinator connection that answers with scripted frames, then fails.
class ScriptedConnection final : public cluster::Connection {
 public:
  std::deque<cluster::Frame> replies;
  std::vector<cluster::Frame> sent;
  bool wait_readable(Milliseconds) override { return true; }
  void shutdown() override {}
  std::string peer() const override { return "scripted"; }

 protected:
  void send_frame(cluster::MessageType type, std::span<const uint8_t>,
                  std::span<const uint8_t> payload) override {
    sent.push_back({type, 0, {payload.begin(), payload.end()}});
  }
  cluster::Frame receive_frame(Milliseconds, uint32_t, cluster::FrameTag&) override {
    if (replies.empty()) throw Error("connection closed by peer");
    cluster::Frame frame = std::move(replies.front());
    replies.pop_front();
    return frame;
  }
};

TEST_F(ShardTest, CutOffOrMisplacedDownloadLeavesNothingInTheCache) {
  const ModelFile file(path("qwen3moe"));
  LoadStage load = stage(1, 3, 4);
  load.model_path = "/nowhere/model.gguf";
  cluster::describe_stage(file, load);
  const cluster::ShardStream stream(file, load);
  const auto chunk = [&](uint64_t offset, uint64_t size) {
    cluster::ShardChunk c{offset, stream.size(), std::vector<uint8_t>(size)};
    stream.read(offset, c.data);
    return cluster::to_frame(c);
  };
  const cluster::ShardPlaces places{*dir_ + "/no-models", *dir_ + "/cache-cut"};
  std::vector<std::string> log;
  const auto sink = [&log](const std::string& line) { log.push_back(line); };
  const auto cache_entries = [&] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator(places.cache_dir + "/shards")) {
      ++n;
    }
    return n;
  };

  ScriptedConnection cut;  // half the shard, then the link drops
  cut.replies.push_back(chunk(0, stream.size() / 2));
  EXPECT_THROW(cluster::resolve_stage_file(load, places, cut, Milliseconds(100), sink), Error);
  ASSERT_EQ(cut.sent.size(), 1u);
  EXPECT_EQ(cluster::from_frame<cluster::ShardRequest>(cut.sent[0]).offset, 0u);
  EXPECT_EQ(cache_entries(), 0u);

  ScriptedConnection gap;  // the second chunk skips a byte
  gap.replies.push_back(chunk(0, 1000));
  gap.replies.push_back(chunk(1001, stream.size() - 1001));
  EXPECT_THROW(cluster::resolve_stage_file(load, places, gap, Milliseconds(100), sink), Error);
  EXPECT_EQ(cache_entries(), 0u);

  ScriptedConnection whole;  // the whole shard in two chunks: cached and verified
  whole.replies.push_back(chunk(0, 4096));
  whole.replies.push_back(chunk(4096, stream.size() - 4096));
  const std::string got = cluster::resolve_stage_file(load, places, whole, Milliseconds(100), sink);
  EXPECT_EQ(got, cluster::shard_cache_path(load, places.cache_dir));
  EXPECT_EQ(cache_entries(), 1u);
  EXPECT_EQ(cluster::stage_mismatch(ModelFile(got), load), "");
}

TEST(BuiltinVocabulary, LoadsRoundTripsAndKeepsSpecialTokens) {
  const GgufWriter gguf = text::builtin_vocabulary_gguf();
  const std::vector<uint8_t> bytes = gguf.header();
  const GgufFile parsed = GgufFile::parse(bytes, "builtin");
  const text::BuiltinVocabulary& vocab = text::builtin_vocabulary();
  EXPECT_EQ(vocab.merges.size(), text::kBuiltinMerges);
  EXPECT_EQ(vocab.tokens.size(), 256 + vocab.merges.size() + 3);

  TokenizerData data;
  data.tokens = vocab.tokens;
  for (int32_t type : vocab.types) data.types.push_back(static_cast<TokenType>(type));
  data.merges = vocab.merges;
  data.eos_id = vocab.im_end_id;
  data.bos_id = vocab.endoftext_id;
  const Tokenizer tokenizer(std::move(data));

  const std::string text = "Hello! The quick brown fox, 42 times: \xc3\xa9t\xc3\xa9 \xe2\x9c\x93\n";
  const std::vector<int32_t> ids = tokenizer.encode(text, true);
  std::string decoded;
  for (int32_t id : ids) decoded += tokenizer.token_text(id);
  EXPECT_EQ(decoded, text);
  const std::string english = "Hello! The quick brown fox jumps over the lazy dog.";
  EXPECT_LT(tokenizer.encode(english, false).size(), english.size() / 2);  // merges shorten it

  // Byte tokens are ids 0..255 in byte order: "\x01" is token 1.
  EXPECT_EQ(tokenizer.encode("\x01", false), std::vector<int32_t>{1});
  EXPECT_EQ(tokenizer.encode("<|im_start|>user<|im_end|>", true).front(), vocab.im_start_id);
  EXPECT_EQ(tokenizer.encode("<|im_start|>user<|im_end|>", true).back(), vocab.im_end_id);
  EXPECT_TRUE(tokenizer.is_end_of_generation(vocab.im_end_id));

  const GgufValue* chat = parsed.find("tokenizer.chat_template");
  ASSERT_NE(chat, nullptr);
  const ChatTemplate chat_template(chat->as_string(), "<|endoftext|>", "<|im_end|>");
  const std::string prompt = chat_template.render(nlohmann::ordered_json::parse(
      R"({"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true})"));
  EXPECT_EQ(prompt, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(BuiltinVocabulary, LearnsTheMostFrequentPairFirst) {
  // Words "ab", " ab" x2, " cd" x2 (space is "\xc4\xa0"): "a b" occurs 3 times, then
  // "c d" ties with the space pairs and comes first in string order.
  const text::BuiltinVocabulary two = text::learn_vocabulary("ab ab ab cd cd", 2);
  EXPECT_EQ(two.merges, (std::vector<std::string>{"a b", "c d"}));
  EXPECT_EQ(two.tokens[256], "ab");
  EXPECT_EQ(two.tokens[257], "cd");
  // Merging stops once every word is one token.
  EXPECT_EQ(text::learn_vocabulary("abab", 10).merges, (std::vector<std::string>{"a b", "ab ab"}));
}

}  // namespace
}  // namespace tandem
