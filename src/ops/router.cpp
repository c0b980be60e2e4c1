#include "ops/router.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "ops/kernels.h"
#include "platform/error.h"

namespace tandem {

void route_top_k(std::span<const float> router_logits, const RouterOptions& options,
                 std::span<int32_t> experts, std::span<float> weights) {
  const size_t k = options.experts_used;
  TANDEM_CHECK(k > 0 && k <= router_logits.size() && experts.size() == k && weights.size() == k,
               "top-", k, " of ", router_logits.size(), " experts");
  std::vector<float> probabilities(router_logits.begin(), router_logits.end());
  softmax(probabilities);
  std::vector<int32_t> order(probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](int32_t a, int32_t b) {
                      return probabilities[a] > probabilities[b] ||
                             (probabilities[a] == probabilities[b] && a < b);
                    });
  float sum = 0.0f;
  for (size_t i = 0; i < k; ++i) {
    experts[i] = order[i];
    weights[i] = probabilities[order[i]];
    sum += weights[i];
  }
  if (options.renormalize) {
    for (float& w : weights) w /= sum;
  }
}

}  // namespace tandem
