#include "cluster/placement.h"

#include <gtest/gtest.h>

#include "platform/error.h"
#include "test_paths.h"

namespace tandem {
namespace {

// A synthetic model: `layers` equal layers of 1 GiB, half of it experts with 1/4 active.
ModelFootprint uniform_model(size_t layers) {
  ModelFootprint m;
  for (size_t i = 0; i < layers; ++i) {
    LayerFootprint l;
    l.weight_bytes = 1ull << 30;
    l.active_bytes_per_token = 1ull << 28;
    l.kv_bytes_per_token = 4096;
    m.layers.push_back(l);
  }
  m.embedding_bytes = 1ull << 28;
  m.output_bytes = 1ull << 28;
  m.output_active_bytes = 1ull << 28;
  m.hidden_size = 4096;
  return m;
}

NodeCapacity node(const char* name, double gib_free, double gb_per_s) {
  NodeCapacity n;
  n.name = name;
  n.free_memory_bytes = static_cast<uint64_t>(gib_free * double(1ull << 30));
  n.weight_read_bytes_per_s = gb_per_s * 1e9;
  n.link_latency_s = 50e-6;
  n.link_bytes_per_s = 1e9;
  return n;
}

TEST(Placement, SplitsEqualNodesEvenly) {
  const Placement p = plan_placement(uniform_model(24), {node("a", 20, 50), node("b", 20, 50)}, {});
  ASSERT_EQ(p.stages.size(), 2u);
  EXPECT_EQ(p.stages[0].first_layer, 0u);
  EXPECT_EQ(p.stages[0].end_layer, p.stages[1].first_layer);
  EXPECT_EQ(p.stages[1].end_layer, 24u);
  EXPECT_NEAR(static_cast<double>(p.stages[0].end_layer), 12.0, 1.0);
  EXPECT_TRUE(p.stages[0].has_embedding);
  EXPECT_TRUE(p.stages[1].has_output);
  EXPECT_GT(p.token_seconds, p.bottleneck_seconds);
}

TEST(Placement, FasterNodeTakesMoreLayersMemoryPermitting) {
  const Placement p =
      plan_placement(uniform_model(24), {node("slow", 30, 20), node("fast", 30, 60)}, {});
  ASSERT_EQ(p.stages.size(), 2u);
  const size_t slow_layers = p.stages[0].end_layer - p.stages[0].first_layer;
  EXPECT_LT(slow_layers, 9u);  // about a quarter of the work
  for (const auto& s : p.stages) EXPECT_LE(s.total_bytes, 30ull << 30);
}

TEST(Placement, RespectsMemory) {
  const Placement p =
      plan_placement(uniform_model(24), {node("small", 6, 50), node("big", 40, 50)}, {});
  ASSERT_EQ(p.stages.size(), 2u);
  EXPECT_LE(p.stages[0].total_bytes, 6ull << 30);
}

TEST(Placement, RefusesAModelThatDoesNotFitWithNumbers) {
  try {
    plan_placement(uniform_model(24), {node("a", 8, 50), node("b", 8, 50)}, {});
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("does not fit"), std::string::npos) << message;
    EXPECT_NE(message.find("GiB"), std::string::npos) << message;
    EXPECT_NE(message.find("a 8.00 GiB"), std::string::npos) << message;
  }
}

TEST(Footprint, ReferenceModelsHaveTheirLayerKinds) {
  TANDEM_REQUIRE_SHARED();
  const ModelFile hybrid(testing::reference_path("qwen35moe-tiny-Q8_0.gguf"));
  const ModelFootprint f = ModelFootprint::from_model(hybrid);
  ASSERT_EQ(f.layers.size(), 4u);
  // Layers 0-2 are DeltaNet (fixed state), layer 3 full attention (KV grows with context).
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(f.layers[i].recurrent);
    EXPECT_EQ(f.layers[i].kv_bytes_per_token, 0u);
    // conv: (4 - 1) x 768 floats; delta: 64 x 512 floats.
    EXPECT_EQ(f.layers[i].state_bytes_per_sequence, (3u * 768 + 64u * 512) * 4);
  }
  EXPECT_FALSE(f.layers[3].recurrent);
  EXPECT_EQ(f.layers[3].kv_bytes_per_token, 2u * 2 * 128 * 4);
  // An F16 cache halves the KV part; the recurrent state stays F32.
  const uint64_t states = 3u * (3u * 768 + 64u * 512) * 4;
  EXPECT_EQ(f.cache_bytes(0, 4, 100, 2), (states + 100u * 2 * 2 * 128 * 4) * 2);
  EXPECT_EQ(f.cache_bytes(0, 4, 100, 2, KvType::kF16), (states + 100u * 2 * 2 * 128 * 2) * 2);
  EXPECT_LT(f.layers[0].active_bytes_per_token, f.layers[0].weight_bytes);
  uint64_t tensors = 0;
  for (const auto& t : hybrid.tensors()) tensors += t.bytes;
  EXPECT_EQ(f.total_weight_bytes(), tensors);

  const ModelFile dense(testing::reference_path("qwen3-dense-tiny-Q8_0.gguf"));
  const ModelFootprint d = ModelFootprint::from_model(dense);
  EXPECT_TRUE(d.tied_embeddings);
  EXPECT_EQ(d.layers[0].active_bytes_per_token, d.layers[0].weight_bytes);
}

// Measured links enter the plan through hop_seconds: a slow link is avoided when the
// model fits without it, and the printed plan names the numbers it used.
TEST(Placement, SlowLinkKeepsTheModelOnOneNodeWhenItFits) {
  const ModelFootprint model = uniform_model(24);
  std::vector<NodeCapacity> nodes = {node("a", 40, 50), node("b", 40, 50)};
  EXPECT_EQ(plan_placement(model, nodes, {}).stages.size(), 2u);  // fast link: split
  nodes[0].link_latency_s = 0.5;  // a hop costs more than the whole model on one node
  const Placement slow = plan_placement(model, nodes, {});
  ASSERT_EQ(slow.stages.size(), 1u);
  EXPECT_EQ(slow.stages[0].first_layer, 0u);
  EXPECT_EQ(slow.stages[0].end_layer, 24u);
  EXPECT_EQ(slow.stages[0].hop_seconds, 0);
}

TEST(Placement, SlowLinkIsRoutedAround) {
  // No node holds the model alone (24 GiB of weights), so two stages are needed; a's
  // link to b is slow, b's to c fast: the plan uses b and c.
  std::vector<NodeCapacity> nodes = {node("a", 16, 50), node("b", 16, 50), node("c", 16, 50)};
  nodes[0].link_latency_s = 0.2;
  const Placement p = plan_placement(uniform_model(24), nodes, {});
  ASSERT_EQ(p.stages.size(), 2u);
  EXPECT_EQ(p.stages[0].node, 1u);
  EXPECT_EQ(p.stages[1].node, 2u);
}

TEST(Placement, DescribeShowsTheMeasuredInputs) {
  std::vector<NodeCapacity> nodes = {node("a", 20, 50), node("b", 20, 25)};
  nodes[0].link_latency_s = 0.002;
  nodes[0].link_bytes_per_s = 125e6;
  const Placement p = plan_placement(uniform_model(24), nodes, {});
  const std::string text = describe(p, nodes);
  EXPECT_NE(text.find("link 2.000 ms, 125.0 MB/s"), std::string::npos) << text;
  EXPECT_NE(text.find("node reads 50.00 GB/s"), std::string::npos) << text;
  EXPECT_NE(text.find("node reads 25.00 GB/s"), std::string::npos) << text;
  EXPECT_NE(text.find("20.00 GiB free"), std::string::npos) << text;
  // hop = latency + activation bytes / bandwidth = 2 ms + 16384 B / 125 MB/s.
  EXPECT_NEAR(p.stages[0].hop_seconds, 0.002 + 16384 / 125e6, 1e-12);
}

}  // namespace
}  // namespace tandem
