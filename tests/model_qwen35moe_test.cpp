// qwen35moe forward pass against llama.cpp's logits in ../shared/reference, judged as
// its README says (tests/logit_judge.h), in both compute modes; and the recurrent state
// carried through incremental decode and mixed-sequence batches.

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gguf/model_file.h"
#include "logit_judge.h"
#include "model/model.h"
#include "ops/kernels.h"
#include "platform/error.h"
#include "test_paths.h"

namespace tandem {
namespace {

using testing::Logits;
using testing::ReferencePrompt;

constexpr size_t kThreads = 2;

std::string mode_name(ComputeMode mode) {
  return mode == ComputeMode::kReference ? "reference" : "fast";
}

Logits to_logits(const FloatMatrix& m) {
  return {m.cols(), std::vector<float>(m.data().begin(), m.data().end())};
}

class Qwen35MoeModelTest : public ::testing::TestWithParam<std::tuple<std::string, ComputeMode>> {
 protected:
  void SetUp() override {
    if (!testing::have_reference()) GTEST_SKIP() << "../shared/reference is absent";
    name_ = std::get<0>(GetParam());
    mode_ = std::get<1>(GetParam());
    file_ = std::make_unique<ModelFile>(testing::reference_path(name_ + ".gguf"));
    model_ = Model::load(*file_, ModelOptions{mode_}, pool_);
    prompts_ = testing::load_reference_prompts(name_);
  }
  std::string label(const ReferencePrompt& prompt, const std::string& what) const {
    return name_ + " " + prompt.name + " " + mode_name(mode_) + " " + what;
  }
  const ReferencePrompt& prompt(const std::string& name) const {
    for (const auto& p : prompts_) {
      if (p.name == name) return p;
    }
    throw Error("no prompt " + name);
  }
  // The README's judgement of `engine` for `prompt` in this test's mode.
  void judge(const ReferencePrompt& prompt, const Logits& engine, const std::string& what) const {
    ASSERT_TRUE(prompt.deqf32_file.has_value()) << label(prompt, what);
    const Logits deqf32 = testing::read_logits(*prompt.deqf32_file, prompt.vocab);
    if (mode_ == ComputeMode::kReference) {
      testing::expect_reference_agreement(engine, deqf32, label(prompt, what));
    } else {
      const Logits llama = testing::read_logits(prompt.logits_file, prompt.vocab);
      testing::expect_fast_agreement(engine, deqf32, llama, label(prompt, what));
    }
  }
  Logits run_batch(const ReferencePrompt& p) const {
    KvCache cache = model_->make_cache();
    return to_logits(model_->forward(Batch::sequence(p.token_ids, 0, 0, true), cache));
  }

  std::string name_;
  ComputeMode mode_ = ComputeMode::kReference;
  ThreadPool pool_{kThreads};
  std::unique_ptr<ModelFile> file_;
  std::unique_ptr<Model> model_;
  std::vector<ReferencePrompt> prompts_;
};

TEST_P(Qwen35MoeModelTest, PromptLogitsAgreeWithLlamaCpp) {
  for (const ReferencePrompt& p : prompts_) judge(p, run_batch(p), "batch");
}

// With an F16 KV cache in the attention layers the logits still agree with llama.cpp's as
// the fast path's must.
TEST_P(Qwen35MoeModelTest, HalfCacheAgreesWithLlamaCpp) {
  for (const ReferencePrompt& p : prompts_) {
    KvCache cache = model_->make_cache(0, KvType::kF16);
    const Logits logits =
        to_logits(model_->forward(Batch::sequence(p.token_ids, 0, 0, true), cache));
    const Logits deqf32 = testing::read_logits(*p.deqf32_file, p.vocab);
    const Logits llama = testing::read_logits(p.logits_file, p.vocab);
    testing::expect_fast_agreement(logits, deqf32, llama, label(p, "f16 cache"));
  }
}

// One token per step through the recurrent state and the KV cache gives the batch's
// logits; prefill then decode (the long prompt split at 137) too.
TEST_P(Qwen35MoeModelTest, IncrementalDecodeMatchesBatch) {
  for (const char* name : {"plain", "long"}) {
    const ReferencePrompt& p = prompt(name);
    const Logits batch = run_batch(p);
    KvCache cache = model_->make_cache();
    Logits incremental{batch.vocab, {}};
    const size_t prefill = p.token_ids.size() > 150 ? 137 : 0;
    if (prefill > 0) {
      const FloatMatrix rows = model_->forward(
          Batch::sequence(std::span(p.token_ids).first(prefill), 0, 0, true), cache);
      incremental.values.assign(rows.data().begin(), rows.data().end());
    }
    for (size_t i = prefill; i < p.token_ids.size(); ++i) {
      const std::vector<int32_t> token{p.token_ids[i]};
      const FloatMatrix row =
          model_->forward(Batch::sequence(token, static_cast<int32_t>(i), 0, true), cache);
      incremental.values.insert(incremental.values.end(), row.data().begin(), row.data().end());
    }
    judge(p, incremental, "incremental");
    if (mode_ == ComputeMode::kReference) {
      // F32 arithmetic on both sides: only summation order differs.
      const testing::LogitAgreement a = testing::compare_logits(incremental, batch);
      EXPECT_LE(a.max_distance, testing::kReferenceMedianBound) << label(p, "incremental vs batch");
      EXPECT_EQ(a.argmax_agreement, 1.0) << label(p, "incremental vs batch");
    }
  }
}

// Greedy decoding follows llama.cpp's continuation up to its first near-tie.
TEST_P(Qwen35MoeModelTest, GreedyDecodeFollowsLlamaCpp) {
  if (mode_ == ComputeMode::kReference) {
    GTEST_SKIP() << "llama.cpp's continuation is of the quantized arithmetic";
  }
  for (const ReferencePrompt& p : prompts_) {
    KvCache cache = model_->make_cache();
    FloatMatrix logits = model_->forward(Batch::sequence(p.token_ids, 0, 0, false), cache);
    int32_t position = static_cast<int32_t>(p.token_ids.size());
    size_t checked = 0;
    for (size_t step = 0; step < p.greedy_ids.size(); ++step, ++checked) {
      if (p.greedy_margins[step] < 0.05) break;
      ASSERT_EQ(static_cast<int32_t>(argmax(logits.row(0))), p.greedy_ids[step])
          << label(p, "greedy step " + std::to_string(step));
      const std::vector<int32_t> token{p.greedy_ids[step]};
      logits = model_->forward(Batch::sequence(token, position++, 0, true), cache);
    }
    std::printf("%s: %zu greedy steps checked\n", label(p, "greedy").c_str(), checked);
    EXPECT_GT(checked, 0u) << label(p, "greedy");
  }
}

// Two sequences mixed in one batch keep separate recurrent states.
TEST_P(Qwen35MoeModelTest, MixedSequenceBatchMatchesSeparateRuns) {
  const ReferencePrompt& a = prompt("plain");
  const ReferencePrompt& b = prompt("code");
  const size_t split = 8;  // a's first 8 tokens are cached before the mixed step
  KvCache cache = model_->make_cache();
  model_->forward(Batch::sequence(std::span(a.token_ids).first(split), 0, 0, false), cache);
  Batch mixed;
  for (size_t i = 0; i < 6; ++i) mixed.add(b.token_ids[i], static_cast<int32_t>(i), 7, true);
  mixed.add(a.token_ids[split], static_cast<int32_t>(split), 0, true);
  mixed.add(a.token_ids[split + 1], static_cast<int32_t>(split + 1), 0, true);
  const FloatMatrix logits = model_->forward(mixed, cache);

  KvCache alone_cache = model_->make_cache();
  const FloatMatrix a_alone = model_->forward(
      Batch::sequence(std::span(a.token_ids).first(split + 2), 0, 0, true), alone_cache);
  const FloatMatrix b_alone =
      model_->forward(Batch::sequence(std::span(b.token_ids).first(6), 0, 1, true), alone_cache);
  ASSERT_EQ(logits.rows(), 8u);
  // Fast mode rounds activations per row, so rows agree exactly up to summation order.
  const double bound = mode_ == ComputeMode::kReference ? 1e-4 : 1e-2;
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_LE(testing::centred_rms_difference(logits.row(i), b_alone.row(i)), bound) << i;
  }
  EXPECT_LE(testing::centred_rms_difference(logits.row(6), a_alone.row(split)), bound);
  EXPECT_LE(testing::centred_rms_difference(logits.row(7), a_alone.row(split + 1)), bound);
}

// The recurrent state cannot be rewound or skipped.
TEST_P(Qwen35MoeModelTest, RejectsRewindAndGaps) {
  const ReferencePrompt& p = prompt("plain");
  KvCache cache = model_->make_cache();
  model_->forward(Batch::sequence(std::span(p.token_ids).first(5), 0, 0, false), cache);
  const std::vector<int32_t> token{p.token_ids[5]};
  EXPECT_THROW(model_->forward(Batch::sequence(token, 3, 0, true), cache), Error);
  EXPECT_THROW(model_->forward(Batch::sequence(token, 6, 0, true), cache), Error);
  EXPECT_THROW(cache.truncate(0, 2), Error);
  cache.truncate(0, 0);  // a fresh start is fine
  const Logits again = to_logits(
      model_->forward(Batch::sequence(std::span(p.token_ids).first(5), 0, 0, true), cache));
  KvCache fresh = model_->make_cache();
  const Logits first = to_logits(
      model_->forward(Batch::sequence(std::span(p.token_ids).first(5), 0, 0, true), fresh));
  EXPECT_EQ(again.values, first.values);
}

INSTANTIATE_TEST_SUITE_P(
    Reference, Qwen35MoeModelTest,
    ::testing::Combine(::testing::Values("qwen35moe-tiny-Q8_0", "qwen35moe-tiny-Q4_K_M"),
                       ::testing::Values(ComputeMode::kReference, ComputeMode::kFast)),
    [](const auto& test_info) {
      std::string name =
          std::get<0>(test_info.param) + "_" + mode_name(std::get<1>(test_info.param));
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace tandem
