#include <gtest/gtest.h>

#include "gguf/model_file.h"
#include "model/qwen35moe_config.h"
#include "platform/error.h"
#include "test_paths.h"

namespace tandem {
namespace {

TEST(Qwen35MoeConfig, TinyModel) {
  TANDEM_REQUIRE_SHARED();
  for (const char* name : {"qwen35moe-tiny-Q8_0.gguf", "qwen35moe-tiny-Q4_K_M.gguf"}) {
    const ModelFile file(testing::reference_path(name));
    const auto c = Qwen35MoeConfig::from_file(file);
    // Values from the reference README and the file's JSON.
    EXPECT_EQ(c.embedding, 256u);
    EXPECT_EQ(c.vocab, 4122u);
    EXPECT_EQ(c.heads, 4u);
    EXPECT_EQ(c.kv_heads, 2u);
    EXPECT_EQ(c.head_dim, 128u);
    EXPECT_EQ(c.experts, 8u);
    EXPECT_EQ(c.experts_used, 2u);
    EXPECT_EQ(c.expert_ff, 256u);
    EXPECT_EQ(c.shared_expert_ff, 256u);
    EXPECT_FALSE(c.tied_output);
    EXPECT_EQ(c.rope.rotated_dims, 32u);
    EXPECT_EQ(c.rope.sections, (std::array<int32_t, 4>{6, 6, 4, 0}));
    EXPECT_FLOAT_EQ(c.rope.theta, 1e7f);
    EXPECT_EQ(c.deltanet.key_heads, 2u);
    EXPECT_EQ(c.deltanet.value_heads, 8u);
    EXPECT_EQ(c.deltanet.key_dim, 64u);
    EXPECT_EQ(c.deltanet.value_dim, 64u);
    EXPECT_EQ(c.deltanet.conv_kernel, 4u);
    ASSERT_EQ(c.layers.size(), 4u);
    EXPECT_EQ(c.layers[0], Qwen35LayerKind::kDeltaNet);
    EXPECT_EQ(c.layers[2], Qwen35LayerKind::kDeltaNet);
    EXPECT_EQ(c.layers[3], Qwen35LayerKind::kAttention);
    EXPECT_EQ(c.index_within_kind(2), 2u);
    EXPECT_EQ(c.index_within_kind(3), 0u);
    // 3 DeltaNet layers x (3 x 768 conv + 8 x 64 x 64 delta) floats; 1 attention layer
    // x K and V x 2 heads x 128 floats per token.
    EXPECT_EQ(c.recurrent_state_bytes(), 3u * (3u * 768u + 8u * 64u * 64u) * 4u);
    EXPECT_EQ(c.kv_cache_bytes_per_token(), 2u * 2u * 128u * 4u);
  }
}

TEST(Qwen35MoeConfig, RejectsOtherArchitectures) {
  TANDEM_REQUIRE_SHARED();
  const ModelFile file(testing::reference_path("qwen3moe-tiny-Q8_0.gguf"));
  EXPECT_THROW(Qwen35MoeConfig::from_file(file), Error);
}

}  // namespace
}  // namespace tandem
