// Shard loading with real `tandem node` processes on 127.0.0.1: a node without the model
// gets its stage's shard streamed from the coordinator and the split logits equal the
// single-process ones; the next load takes the cached shard (no stream); a damaged
// cached shard is detected and fetched again; a different file under the model's name
// is reported and not used. The models are generated (built-in vocabulary): nothing
// from ../shared is needed.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "child_process.h"
#include "cli/vocab_source.h"
#include "model/synth/synth_writer.h"
#include "test_paths.h"
#include "text/builtin_vocab.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;
using testing::Child;
using Ms = std::chrono::milliseconds;

constexpr const char* kTokens = "5,300,17,256,42,99,600,7";

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> out(fs::file_size(path) / sizeof(float));
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size() * 4));
  return out;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class ShardProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tandem-shards-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    secret_ = testing::write_secret_file(dir_, "secret", "shard secret");
  }
  void TearDown() override {
    children_.clear();
    if (!HasFailure() && !dir_.empty()) fs::remove_all(dir_);
  }
  // A random model at <dir>/<folder>/model.gguf.
  std::string make_model(const std::string& folder, const std::string& arch, uint64_t seed) {
    fs::create_directories(dir_ + "/" + folder);
    synth::SynthOptions options;
    options.config.architecture = arch;
    options.config.name = arch + "-shards";
    options.file_type = synth::FileType::kQ8_0;
    options.seed = seed;
    const std::string out = dir_ + "/" + folder + "/model.gguf";
    synth::write_synth_model(options, cli::VocabularySource(cli::kBuiltinVocab).file(), out);
    return out;
  }
  // Node i looks for models in models_dirs[i] and caches shards in <dir>/cache<i>.
  void start_nodes(const std::vector<std::string>& models_dirs) {
    for (size_t i = 0; i < models_dirs.size(); ++i) {
      fs::create_directories(models_dirs[i]);
      std::vector<std::string> args = {testing::tandem_binary(),
                                       "node",
                                       "--listen",
                                       "127.0.0." + std::to_string(i + 1) + ":0",
                                       "--name",
                                       "n" + std::to_string(i),
                                       "--secret-file",
                                       secret_,
                                       "--models-dir",
                                       models_dirs[i],
                                       "--cache-dir",
                                       cache_dir(i),
                                       "--heartbeat-ms",
                                       "100"};
      if (i > 0) args.insert(args.end(), {"--join", address0_});
      children_.push_back(std::make_unique<Child>(args, dir_ + "/n" + std::to_string(i) + ".log"));
      const auto address =
          children_.back()->wait_for("listening on (127\\.0\\.0\\.[0-9]+:[0-9]+) as ", Ms(5000));
      ASSERT_TRUE(address) << children_.back()->output();
      if (i == 0) address0_ = *address;
    }
    for (size_t i = 1; i < models_dirs.size(); ++i) {
      ASSERT_TRUE(children_[0]->wait_for("member joined: (n" + std::to_string(i) + "-)", Ms(5000)))
          << children_[0]->output();
    }
  }
  std::string cache_dir(size_t i) const { return dir_ + "/cache" + std::to_string(i); }
  std::string node_log(size_t i) const { return children_[i]->output(); }

  std::vector<float> single_logits(const std::string& model) {
    const std::string out = dir_ + "/single.f32";
    Child child(
        {testing::tandem_binary(), "logits", model, "--tokens", kTokens, "--out", out, "-t", "1"},
        dir_ + "/single.log");
    EXPECT_EQ(child.wait(Ms(30000)), 0) << child.output();
    return read_floats(out);
  }
  std::vector<float> split_logits(const std::string& model, const std::string& split) {
    const std::string out = dir_ + "/split.f32";
    fs::remove(out);
    Child child({testing::tandem_binary(), "logits", model, "--tokens", kTokens, "--out", out, "-t",
                 "1", "--join", address0_, "--secret-file", secret_, "--split", split},
                dir_ + "/split.log");
    EXPECT_EQ(child.wait(Ms(60000)), 0) << child.output();
    return fs::exists(out) ? read_floats(out) : std::vector<float>{};
  }
  // Waits until node i has logged `needle` `count` times (its stage ends after the run).
  void expect_logged(size_t i, const std::string& needle, size_t count) {
    const auto end = std::chrono::steady_clock::now() + Ms(3000);
    while (count_of(node_log(i), needle) < count && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(Ms(20));
    }
    EXPECT_EQ(count_of(node_log(i), needle), count) << "node " << i << ":\n" << node_log(i);
  }

  std::string dir_;
  std::string secret_;
  std::string address0_;
  std::vector<std::unique_ptr<Child>> children_;
};

TEST_F(ShardProcess, StreamedThenCachedThenFetchedAgainWhenDamaged) {
  const std::string model = make_model("coordinator", "qwen3moe", 11);
  start_nodes({dir_ + "/empty0", dir_ + "/empty1"});
  const std::vector<float> expected = single_logits(model);
  ASSERT_EQ(expected.size(), 8 * text::builtin_vocabulary().tokens.size());

  EXPECT_EQ(split_logits(model, "2,2"), expected);
  for (size_t i = 0; i < 2; ++i) {
    expect_logged(i, "shard: streaming", 1);
    expect_logged(i, "shard: fetched and verified", 1);
  }

  // Second load: both take their cached shard, nothing is streamed.
  EXPECT_EQ(split_logits(model, "2,2"), expected);
  for (size_t i = 0; i < 2; ++i) {
    expect_logged(i, "shard: using the cached shard", 1);
    expect_logged(i, "shard: streaming", 1);
  }

  // One flipped byte in node 1's cached shard (in its last tensor's data).
  std::vector<fs::path> shards;
  for (const auto& entry : fs::directory_iterator(cache_dir(1) + "/shards")) {
    shards.push_back(entry.path());
  }
  ASSERT_EQ(shards.size(), 1u);
  const auto size = fs::file_size(shards[0]);
  {
    std::fstream edit(shards[0], std::ios::binary | std::ios::in | std::ios::out);
    edit.seekg(static_cast<std::streamoff>(size - 100));
    const char byte = static_cast<char>(edit.get() ^ 0x21);
    edit.seekp(static_cast<std::streamoff>(size - 100));
    edit.put(byte);
  }
  EXPECT_EQ(split_logits(model, "2,2"), expected);
  expect_logged(1, "is damaged", 1);
  expect_logged(1, "shard: streaming", 2);
  expect_logged(0, "shard: streaming", 1);
}

TEST_F(ShardProcess, HybridModelStreamedOverUnevenStages) {
  const std::string model = make_model("coordinator", "qwen35moe", 5);
  start_nodes({dir_ + "/empty0", dir_ + "/empty1", dir_ + "/empty2"});
  const std::vector<float> expected = single_logits(model);
  EXPECT_EQ(split_logits(model, "1,2,1"), expected);
  for (size_t i = 0; i < 3; ++i) expect_logged(i, "shard: fetched and verified", 1);
}

TEST_F(ShardProcess, DifferentLocalCopyIsNotUsed) {
  const std::string model = make_model("coordinator", "qwen3moe", 11);
  // Node 0 holds another model under the same name; node 1 a true copy.
  make_model("other", "qwen3moe", 12);
  fs::create_directories(dir_ + "/copy");
  fs::copy_file(model, dir_ + "/copy/model.gguf");
  start_nodes({dir_ + "/other", dir_ + "/copy"});
  const std::vector<float> expected = single_logits(model);
  EXPECT_EQ(split_logits(model, "2,2"), expected);
  expect_logged(0, "differs from the coordinator's model", 1);
  expect_logged(0, "shard: fetched and verified", 1);
  expect_logged(1, "shard: using the local model file", 1);
  expect_logged(1, "shard: streaming", 0);
}

}  // namespace
}  // namespace tandem
