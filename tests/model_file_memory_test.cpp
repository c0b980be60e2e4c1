// Weights copied out of the file mapping into the process's own memory: the same bytes,
// no longer in the mapping, copied once, and the same logits as computed on the mapping.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gguf/model_file.h"
#include "model/batch.h"
#include "model/model.h"
#include "ops/quant/simd/quant_simd.h"
#include "platform/error.h"
#include "platform/thread_pool.h"
#include "test_paths.h"

namespace tandem {
namespace {

TEST(ModelFileMemory, CopiedTensorsHoldTheFileBytesOutsideTheMapping) {
  TANDEM_REQUIRE_SHARED();
  const std::string path = testing::reference_path("qwen3moe-tiny-Q4_K_M.gguf");
  const ModelFile mapped(path);
  ModelFile copied(path);
  const std::vector<std::string> some = {"blk.0.ffn_down_exps.weight", "output_norm.weight"};
  const uint64_t bytes = copied.copy_tensors_to_memory(some);
  EXPECT_GE(bytes, mapped.tensor(some[0]).bytes + mapped.tensor(some[1]).bytes);
  for (const TensorInfo& tensor : copied.tensors()) {
    const TensorInfo& original = mapped.tensor(tensor.name);
    ASSERT_TRUE(std::equal(tensor.data.begin(), tensor.data.end(), original.data.begin(),
                           original.data.end()))
        << tensor.name;
    const bool moved = std::find(some.begin(), some.end(), tensor.name) != some.end();
    const MappedFile& mapping = *copied.files()[tensor.file_index]->mapping();
    EXPECT_EQ(mapping.contains(tensor.data.data()), !moved) << tensor.name;
    if (moved) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(tensor.data.data()) % 64, 0u) << tensor.name;
    }
  }
  // Already copied: nothing more.
  EXPECT_EQ(copied.copy_tensors_to_memory(some), 0u);
  EXPECT_THROW(copied.copy_tensors_to_memory({"no.such.tensor"}), Error);
}

TEST(ModelFileMemory, LogitsEqualThoseComputedOnTheMapping) {
  TANDEM_REQUIRE_SHARED();
  const std::string path = testing::reference_path("qwen3moe-tiny-Q4_K_M.gguf");
  ThreadPool pool(2);
  const ModelFile mapped(path);
  ModelFile copied(path);
  copied.copy_tensors_to_memory(copied.tensor_names());
  const auto logits_of = [&](const ModelFile& file) {
    const auto model = Model::load(file, ModelOptions{}, pool);
    KvCache cache = model->make_cache(64);
    Batch batch;
    for (int32_t i = 0; i < 5; ++i) batch.add(10 + 7 * i, i, 0, i == 4);
    const FloatMatrix logits = model->forward(batch, cache);
    return std::vector<float>(logits.data().begin(), logits.data().end());
  };
  EXPECT_EQ(logits_of(mapped), logits_of(copied));
}

// Matrices stored as panels give the same logits as the file's rows.
TEST(ModelFileMemory, PanelLogitsEqualThoseOfTheFileRows) {
  TANDEM_REQUIRE_SHARED();
  const std::string path = testing::reference_path("qwen3moe-tiny-Q4_K_M.gguf");
  ThreadPool pool(2);
  ModelFile rows(path);
  rows.copy_tensors_to_memory(rows.tensor_names());
  ModelFile panels(path);
  panels.copy_tensors_to_memory(panels.tensor_names(), TensorLayouts::kPanels);
  // The Q4_K and Q8_0 matrices of whole groups of 8 rows, where this CPU has panel kernels.
  EXPECT_EQ(panels.tensor("blk.0.attn_q.weight").panels, has_simd_panel_dot(TensorType::kQ4_K));
  EXPECT_EQ(panels.tensor("blk.0.ffn_up_exps.weight").panels,
            has_simd_panel_dot(TensorType::kQ4_K));
  EXPECT_EQ(panels.tensor("blk.0.attn_k.weight").panels, has_simd_panel_dot(TensorType::kQ8_0));
  EXPECT_FALSE(panels.tensor("token_embd.weight").panels);  // 4122 rows
  const auto logits_of = [&](const ModelFile& file) {
    const auto model = Model::load(file, ModelOptions{}, pool);
    KvCache cache = model->make_cache(64);
    Batch batch;
    for (int32_t i = 0; i < 9; ++i) batch.add(10 + 7 * i, i, 0, i >= 4);
    const FloatMatrix logits = model->forward(batch, cache);
    Batch next;
    next.add(99, 9, 0, true);
    const FloatMatrix step = model->forward(next, cache);
    std::vector<float> out(logits.data().begin(), logits.data().end());
    out.insert(out.end(), step.data().begin(), step.data().end());
    return out;
  };
  EXPECT_EQ(logits_of(panels), logits_of(rows));
}

}  // namespace
}  // namespace tandem
