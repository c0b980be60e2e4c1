#include "ops/deltanet_block.h"

#include <algorithm>
#include <vector>

#include "ops/conv1d.h"
#include "ops/deltanet.h"
#include "ops/gated_norm.h"
#include "platform/error.h"

namespace tandem {

void deltanet_mix(const DeltaNetDims& dims, const DeltaNetLayerWeights& weights,
                  const DeltaNetProjections& projections, const DeltaNetMixOptions& options,
                  std::span<float> conv_state, std::span<float> delta_state, std::span<float> out,
                  ThreadPool& pool) {
  const size_t channels = dims.conv_channels();
  const size_t key_width = dims.key_width();
  const size_t value_width = dims.value_width();
  TANDEM_CHECK(projections.qkv.size() % channels == 0, "qkv is not [tokens][conv_channels]");
  const size_t tokens = projections.qkv.size() / channels;
  TANDEM_CHECK(projections.gate.size() == tokens * value_width);
  TANDEM_CHECK(projections.alpha.size() == tokens * dims.value_heads);
  TANDEM_CHECK(projections.beta.size() == tokens * dims.value_heads);
  TANDEM_CHECK(weights.conv.size() == channels * dims.conv_kernel);
  TANDEM_CHECK(weights.ssm_a.size() == dims.value_heads);
  TANDEM_CHECK(weights.norm.size() == dims.value_dim);
  TANDEM_CHECK(out.size() == tokens * value_width);

  // Gates: [tokens][value_heads] each.
  std::vector<float> log_decay(tokens * dims.value_heads);
  std::vector<float> beta(tokens * dims.value_heads);
  deltanet_gates(projections.alpha, projections.beta, weights.ssm_a, weights.dt_bias, log_decay,
                 beta);

  // Short convolution with SiLU: [tokens][channels].
  std::vector<float> mixed(tokens * channels);
  causal_conv1d(dims.conv_shape(), projections.qkv, weights.conv, conv_state, mixed,
                Conv1dActivation::kSilu, pool);

  // Split rows into q, k: [tokens][key_heads][key_dim] and v: [tokens][value_heads][value_dim].
  std::vector<float> query(tokens * key_width);
  std::vector<float> key(tokens * key_width);
  std::vector<float> value(tokens * value_width);
  for (size_t t = 0; t < tokens; ++t) {
    const float* row = mixed.data() + t * channels;
    std::copy(row, row + key_width, query.data() + t * key_width);
    std::copy(row + key_width, row + 2 * key_width, key.data() + t * key_width);
    std::copy(row + 2 * key_width, row + channels, value.data() + t * value_width);
  }
  l2_normalize_rows(query, dims.key_dim, options.eps);
  l2_normalize_rows(key, dims.key_dim, options.eps);

  const DeltaNetInputs inputs{query, key, value, log_decay, beta};
  std::vector<float> core(tokens * value_width);  // [tokens][value_heads][value_dim]
  gated_delta_rule(options.form, dims.rule_shape(), inputs, delta_state, core, pool);
  gated_rms_norm(core, projections.gate, weights.norm, options.eps, out);
}

}  // namespace tandem
