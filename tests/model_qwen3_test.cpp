// Qwen3 / Qwen3-MoE forward pass against llama.cpp's logits in ../shared/reference,
// judged as its README says (tests/logit_judge.h), in both compute modes.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gguf/model_file.h"
#include "logit_judge.h"
#include "model/model.h"
#include "ops/kernels.h"
#include "test_paths.h"

namespace tandem {
namespace {

using testing::Logits;
using testing::ReferencePrompt;

constexpr size_t kThreads = 2;

struct ModelCase {
  std::string name;
  bool f16 = false;  // judged against its own logits (no deqf32 files)
};

std::string mode_name(ComputeMode mode) {
  return mode == ComputeMode::kReference ? "reference" : "fast";
}

Logits to_logits(const FloatMatrix& m) {
  return {m.cols(), std::vector<float>(m.data().begin(), m.data().end())};
}

// Judges `engine` logits of `prompt` as the README does for `mode`.
void judge(const ModelCase& model, const ReferencePrompt& prompt, ComputeMode mode,
           const Logits& engine, const std::string& label) {
  const Logits llama = testing::read_logits(prompt.logits_file, prompt.vocab);
  if (model.f16) {
    testing::expect_f16_agreement(engine, llama, label);
    return;
  }
  ASSERT_TRUE(prompt.deqf32_file.has_value()) << label;
  const Logits deqf32 = testing::read_logits(*prompt.deqf32_file, prompt.vocab);
  if (mode == ComputeMode::kReference) {
    testing::expect_reference_agreement(engine, deqf32, label);
  } else {
    testing::expect_fast_agreement(engine, deqf32, llama, label);
  }
}

class Qwen3ModelTest : public ::testing::TestWithParam<std::tuple<ModelCase, ComputeMode>> {
 protected:
  void SetUp() override {
    if (!testing::have_reference()) GTEST_SKIP() << "../shared/reference is absent";
    model_case_ = std::get<0>(GetParam());
    mode_ = std::get<1>(GetParam());
    file_ = std::make_unique<ModelFile>(testing::reference_path(model_case_.name + ".gguf"));
    model_ = Model::load(*file_, ModelOptions{mode_}, pool_);
    prompts_ = testing::load_reference_prompts(model_case_.name);
  }
  std::string label(const ReferencePrompt& prompt, const std::string& what) const {
    return model_case_.name + " " + prompt.name + " " + mode_name(mode_) + " " + what;
  }
  const ReferencePrompt& prompt(const std::string& name) const {
    for (const auto& p : prompts_) {
      if (p.name == name) return p;
    }
    throw Error("no prompt " + name);
  }

  ModelCase model_case_;
  ComputeMode mode_ = ComputeMode::kReference;
  ThreadPool pool_{kThreads};
  std::unique_ptr<ModelFile> file_;
  std::unique_ptr<Model> model_;
  std::vector<ReferencePrompt> prompts_;
};

TEST_P(Qwen3ModelTest, PromptLogitsAgreeWithLlamaCpp) {
  for (const ReferencePrompt& p : prompts_) {
    KvCache cache = model_->make_cache();
    const FloatMatrix logits =
        model_->forward(Batch::sequence(p.token_ids, 0, 0, /*all_logits=*/true), cache);
    ASSERT_EQ(logits.rows(), p.token_ids.size());
    judge(model_case_, p, mode_, to_logits(logits), label(p, "batch"));
  }
}

// One token per forward step through the KV cache gives the batch's logits.
TEST_P(Qwen3ModelTest, IncrementalDecodeMatchesBatch) {
  const ReferencePrompt& p = prompt("plain");
  KvCache batch_cache = model_->make_cache();
  const Logits batch = to_logits(
      model_->forward(Batch::sequence(p.token_ids, 0, 0, /*all_logits=*/true), batch_cache));
  KvCache cache = model_->make_cache();
  Logits incremental{batch.vocab, {}};
  for (size_t i = 0; i < p.token_ids.size(); ++i) {
    const std::vector<int32_t> token{p.token_ids[i]};
    const FloatMatrix row =
        model_->forward(Batch::sequence(token, static_cast<int32_t>(i), 0, true), cache);
    incremental.values.insert(incremental.values.end(), row.data().begin(), row.data().end());
  }
  judge(model_case_, p, mode_, incremental, label(p, "incremental"));
  const testing::LogitAgreement a = testing::compare_logits(incremental, batch);
  EXPECT_LE(a.median_distance, testing::kReferenceMedianBound) << label(p, "incremental vs batch");
  EXPECT_EQ(a.argmax_agreement, 1.0) << label(p, "incremental vs batch");
}

// With an F16 KV cache (keys and values rounded to half as they are stored) the logits
// still agree with llama.cpp's as the fast path's must: the rounding of the cache is of
// the size of the activations' rounding that bound allows for.
TEST_P(Qwen3ModelTest, HalfCacheAgreesWithLlamaCpp) {
  for (const ReferencePrompt& p : prompts_) {
    KvCache cache = model_->make_cache(0, KvType::kF16);
    const FloatMatrix logits =
        model_->forward(Batch::sequence(p.token_ids, 0, 0, /*all_logits=*/true), cache);
    judge(model_case_, p, ComputeMode::kFast, to_logits(logits), label(p, "f16 cache"));
  }
}

// Top-1 minus top-2 of a logit row.
double top1_margin(std::span<const float> row) {
  const size_t best = argmax(row);
  float second = -INFINITY;
  for (size_t i = 0; i < row.size(); ++i) {
    if (i != best) second = std::max(second, row[i]);
  }
  return row[best] - second;
}

// Decodes greedily after `prompt`, expecting `expected` while `margin(step, logits)` is at
// least `min_margin`; returns the number of steps checked.
template <typename Margin>
size_t follow_greedy(const Model& model, const ReferencePrompt& p,
                     const std::vector<int32_t>& expected, Margin margin, double min_margin,
                     const std::string& label) {
  KvCache cache = model.make_cache();
  FloatMatrix logits = model.forward(Batch::sequence(p.token_ids, 0, 0, false), cache);
  int32_t position = static_cast<int32_t>(p.token_ids.size());
  size_t step = 0;
  for (; step < expected.size(); ++step) {
    if (margin(step, logits.row(0)) < min_margin) break;
    EXPECT_EQ(static_cast<int32_t>(argmax(logits.row(0))), expected[step])
        << label << " greedy step " << step;
    if (::testing::Test::HasFailure()) break;
    const std::vector<int32_t> token{expected[step]};
    logits = model.forward(Batch::sequence(token, position++, 0, true), cache);
  }
  return step;
}

// Greedy decoding (one token per step through the KV cache) follows llama.cpp's
// continuation up to its first near-tie. The fast path of a quantized file rounds like
// llama.cpp but not always in the same rows (d to llama.cpp's own logits is up to the
// size of the quantization noise, about 0.05 rms, 0.3 max), so it follows llama.cpp's
// continuation while the margin exceeds that; the reference path follows the deqf32
// continuation while its own margin is clear of summation noise.
TEST_P(Qwen3ModelTest, GreedyDecodeFollowsLlamaCpp) {
  constexpr double kExactMargin = 0.05;
  constexpr double kQuantizedFastMargin = 0.5;
  size_t checked = 0;
  for (const ReferencePrompt& p : prompts_) {
    if (p.token_ids.size() > 64) continue;  // the long prompt adds time, not coverage
    const std::string what = label(p, "greedy");
    const auto llama_margin = [&p](size_t step, std::span<const float>) {
      return p.greedy_margins[step];
    };
    if (model_case_.f16) {
      checked += follow_greedy(*model_, p, p.greedy_ids, llama_margin, kExactMargin, what);
    } else if (mode_ == ComputeMode::kFast) {
      checked += follow_greedy(*model_, p, p.greedy_ids, llama_margin, kQuantizedFastMargin, what);
    } else if (!p.deqf32_greedy_ids.empty()) {
      const auto own_margin = [](size_t, std::span<const float> row) { return top1_margin(row); };
      checked += follow_greedy(*model_, p, p.deqf32_greedy_ids, own_margin, kExactMargin, what);
    }
  }
  // The reference path has a deqf32 continuation for one prompt only, which may start
  // at a near-tie; llama.cpp's own continuations always give some steps.
  if (mode_ == ComputeMode::kFast || model_case_.f16) {
    EXPECT_GT(checked, 0u) << model_case_.name << " no greedy step was checked";
  }
}

// Two sequences mixed in one batch give each its own logits.
TEST_P(Qwen3ModelTest, MixedSequenceBatchMatchesSeparateRuns) {
  const ReferencePrompt& a = prompt("plain");
  const ReferencePrompt& b = prompt("code");
  const size_t split = 8;  // a's first 8 tokens are cached before the mixed step
  KvCache cache = model_->make_cache();
  model_->forward(Batch::sequence(std::span(a.token_ids).first(split), 0, 0, false), cache);
  Batch mixed;
  for (size_t i = 0; i < 6; ++i) mixed.add(b.token_ids[i], static_cast<int32_t>(i), 7, true);
  mixed.add(a.token_ids[split], static_cast<int32_t>(split), 0, true);
  const FloatMatrix logits = model_->forward(mixed, cache);

  KvCache alone_cache = model_->make_cache();
  const FloatMatrix a_alone = model_->forward(
      Batch::sequence(std::span(a.token_ids).first(split + 1), 0, 0, false), alone_cache);
  const FloatMatrix b_alone =
      model_->forward(Batch::sequence(std::span(b.token_ids).first(6), 0, 0, true), alone_cache);
  ASSERT_EQ(logits.rows(), 7u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_LE(testing::centred_rms_difference(logits.row(i), b_alone.row(i)), 1e-4) << i;
  }
  EXPECT_LE(testing::centred_rms_difference(logits.row(6), a_alone.row(0)), 1e-4);
}

const ModelCase kModels[] = {
    {"qwen3-dense-tiny-Q8_0", false},   {"qwen3moe-tiny-F16", true},
    {"qwen3moe-tiny-Q8_0", false},      {"qwen3moe-tiny-Q4_K_M", false},
    {"qwen3moe-tiny-Q4_K-pure", false},
};

INSTANTIATE_TEST_SUITE_P(Reference, Qwen3ModelTest,
                         ::testing::Combine(::testing::ValuesIn(kModels),
                                            ::testing::Values(ComputeMode::kReference,
                                                              ComputeMode::kFast)),
                         [](const auto& test_info) {
                           std::string name = std::get<0>(test_info.param).name + "_" +
                                              mode_name(std::get<1>(test_info.param));
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

TEST(ModelConfigTest, ReadsQwen3AndQwen3MoeHyperparameters) {
  TANDEM_REQUIRE_SHARED();
  const ModelFile dense_file(testing::reference_path("qwen3-dense-tiny-Q8_0.gguf"));
  const ModelConfig dense = ModelConfig::from_model(dense_file);
  EXPECT_EQ(dense.arch, Architecture::kQwen3);
  EXPECT_EQ(dense.layer_count, 4u);
  EXPECT_EQ(dense.hidden, 256u);
  EXPECT_EQ(dense.head_count, 4u);
  EXPECT_EQ(dense.kv_head_count, 2u);
  EXPECT_EQ(dense.head_dim, 128u);
  EXPECT_EQ(dense.rope_dims, 128u);
  EXPECT_EQ(dense.ffn_hidden, 768u);
  EXPECT_EQ(dense.vocab_size, 4122u);
  EXPECT_EQ(dense.context_length, 4096u);
  EXPECT_FLOAT_EQ(dense.rope_theta, 1e6f);
  EXPECT_FALSE(dense.is_moe());

  const ModelFile moe_file(testing::reference_path("qwen3moe-tiny-Q4_K_M.gguf"));
  const ModelConfig moe = ModelConfig::from_model(moe_file);
  EXPECT_EQ(moe.arch, Architecture::kQwen3Moe);
  EXPECT_EQ(moe.expert_count, 8u);
  EXPECT_EQ(moe.experts_used, 2u);
  EXPECT_EQ(moe.expert_ffn_hidden, 256u);
  EXPECT_NEAR(moe.rms_eps, 1e-6f, 1e-12);
}

TEST(ModelLoadTest, RejectsBadBatches) {
  TANDEM_REQUIRE_SHARED();
  const ModelFile file(testing::reference_path("qwen3-dense-tiny-Q8_0.gguf"));
  ThreadPool pool(1);
  const auto model = Model::load(file, ModelOptions{ComputeMode::kFast}, pool);
  KvCache cache = model->make_cache(16);
  const std::vector<int32_t> bad_token{5000};
  EXPECT_THROW(model->forward(Batch::sequence(bad_token, 0, 0, true), cache), Error);
  const std::vector<int32_t> token{1};
  EXPECT_THROW(model->forward(Batch::sequence(token, 3, 0, true), cache), Error);  // gap
}

// `tandem logits` writes [positions][vocab] float32 that pass the reference judgement.
TEST(LogitsCommandTest, WritesReferenceLogits) {
  TANDEM_REQUIRE_SHARED();
  const auto prompts = testing::load_reference_prompts("qwen3-dense-tiny-Q8_0");
  const ReferencePrompt& p = prompts.front();
  std::string ids;
  for (int32_t id : p.token_ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  const std::string out = ::testing::TempDir() + "/tandem_logits_test.f32";
  const std::string command = testing::tandem_binary() + " logits " +
                              testing::reference_path("qwen3-dense-tiny-Q8_0.gguf") + " --tokens " +
                              ids + " --out " + out + " --reference -t 2";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const Logits engine = testing::read_logits(out, p.vocab);
  ASSERT_EQ(engine.positions(), p.token_ids.size());
  testing::expect_reference_agreement(engine, testing::read_logits(*p.deqf32_file, p.vocab),
                                      "tandem logits --reference");
  std::remove(out.c_str());
}

}  // namespace
}  // namespace tandem
