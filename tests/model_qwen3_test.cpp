// Qwen3 / Qwen3-MoE forward pass against llama.cpp's logits in ../shared/reference,
// judged as its README says (tests/logit_judge.h), in both compute modes.

#include <gtest/gtest.h>

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

// Greedy decoding follows llama.cpp's continuation up to its first near-tie.
TEST_P(Qwen3ModelTest, GreedyDecodeFollowsLlamaCpp) {
  if (mode_ == ComputeMode::kReference && !model_case_.f16) {
    GTEST_SKIP() << "llama.cpp's continuation is of the quantized arithmetic";
  }
  for (const ReferencePrompt& p : prompts_) {
    KvCache cache = model_->make_cache();
    FloatMatrix logits = model_->forward(Batch::sequence(p.token_ids, 0, 0, false), cache);
    int32_t position = static_cast<int32_t>(p.token_ids.size());
    size_t checked = 0;
    for (size_t step = 0; step < p.greedy_ids.size(); ++step) {
      if (p.greedy_margins[step] < 0.05) break;
      ASSERT_EQ(static_cast<int32_t>(argmax(logits.row(0))), p.greedy_ids[step])
          << label(p, "greedy step " + std::to_string(step));
      const std::vector<int32_t> token{p.greedy_ids[step]};
      logits = model_->forward(Batch::sequence(token, position++, 0, true), cache);
      ++checked;
    }
    EXPECT_GT(checked, 0u) << label(p, "greedy");
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
