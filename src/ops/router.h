#pragma once
// Mixture-of-experts routing: softmax over all router logits, the k most probable
// experts, their probabilities optionally renormalized to sum to 1 (Qwen3-MoE).

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem {

struct RouterOptions {
  size_t experts_used = 0;  // k
  bool renormalize = true;  // divide the k weights by their sum
};

// router_logits: [expert_count]. Writes the chosen experts, most probable first (the
// lower id on ties), and their weights. experts.size() == weights.size() == k.
void route_top_k(std::span<const float> router_logits, const RouterOptions& options,
                 std::span<int32_t> experts, std::span<float> weights);

}  // namespace tandem
