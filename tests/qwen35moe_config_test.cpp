#include <gtest/gtest.h>

#include "gguf/model_file.h"
#include "model/model_config.h"
#include "model/qwen35moe_config.h"
#include "test_paths.h"

namespace tandem {
namespace {

TEST(Qwen35MoeConfig, TinyModel) {
  TANDEM_REQUIRE_SHARED();
  const ModelFile file(testing::reference_path("qwen35moe-tiny-Q8_0.gguf"));
  const ModelConfig config = ModelConfig::from_model(file);
  // Values from the reference README and the file's JSON.
  const DeltaNetDims d = qwen35_deltanet_dims(config);
  EXPECT_EQ(d.key_heads, 2u);
  EXPECT_EQ(d.value_heads, 8u);
  EXPECT_EQ(d.key_dim, 64u);
  EXPECT_EQ(d.value_dim, 64u);
  EXPECT_EQ(d.conv_kernel, 4u);
  EXPECT_EQ(d.conv_channels(), 768u);
  EXPECT_TRUE(qwen35_is_deltanet_layer(config, 0));
  EXPECT_TRUE(qwen35_is_deltanet_layer(config, 2));
  EXPECT_FALSE(qwen35_is_deltanet_layer(config, 3));
  EXPECT_EQ(qwen35_deltanet_layer_count(config), 3u);
  EXPECT_EQ(qwen35_deltanet_index(config, 2), 2u);
  const ImropeOptions rope = qwen35_rope(config);
  EXPECT_EQ(rope.rotated_dims, 32u);
  EXPECT_EQ(rope.sections, (std::array<int32_t, 4>{6, 6, 4, 0}));
  EXPECT_FLOAT_EQ(rope.theta, 1e7f);
  // 3 DeltaNet layers x (3 x 768 conv + 8 x 64 x 64 delta) floats per sequence.
  EXPECT_EQ(recurrent_state_floats(config), 3u * (3u * 768u + 8u * 64u * 64u));
}

TEST(Qwen35MoeConfig, NoRecurrentStateForQwen3Moe) {
  TANDEM_REQUIRE_SHARED();
  const ModelFile file(testing::reference_path("qwen3moe-tiny-Q8_0.gguf"));
  EXPECT_EQ(recurrent_state_floats(ModelConfig::from_model(file)), 0u);
}

}  // namespace
}  // namespace tandem
