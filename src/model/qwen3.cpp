// Qwen3 (dense) and Qwen3-MoE. Per layer:
//   hidden += attn_output(attention(rope(q_norm(attn_q x)), rope(k_norm(attn_k x)), attn_v x)),
//             x = rms_norm(hidden) * attn_norm
//   hidden += ffn(rms_norm(hidden) * ffn_norm)
// where ffn is a SwiGLU (qwen3) or the renormalized top-k mixture of SwiGLU experts
// (qwen3moe). Then logits = output(rms_norm(hidden) * output_norm).

#include <variant>
#include <vector>

#include "model/architectures.h"
#include "ops/kernels.h"
#include "platform/error.h"

namespace tandem {
namespace {

struct Qwen3Layer {
  AttentionWeights attention;
  std::variant<DenseFfnWeights, MoeFfnWeights> ffn;
};

class Qwen3Model final : public Model {
 public:
  Qwen3Model(const ModelFile& file, ModelConfig config, const ModelOptions& options,
             ThreadPool& pool)
      : Model(std::move(config), options, pool) {
    const WeightLookup lookup(file);
    embedding_ = load_embedding_weights(lookup, config_, options.input, options.output);
    layers_.reserve(config_.layer_count);
    for (size_t layer = 0; layer < config_.layer_count; ++layer) {
      if (!options.loads_layer(layer)) {
        layers_.emplace_back();  // another stage's layer: never run here
        continue;
      }
      Qwen3Layer weights{load_attention_weights(lookup, config_, layer), DenseFfnWeights{}};
      if (config_.is_moe()) {
        weights.ffn = load_moe_ffn_weights(lookup, config_, layer);
      } else {
        weights.ffn = load_dense_ffn_weights(lookup, config_, layer);
      }
      layers_.push_back(std::move(weights));
    }
  }

  FloatMatrix embed(const Batch& batch) const override {
    validate(batch);
    return embed_tokens(embedding_, batch, config_.hidden);
  }

  void run_layers(size_t first_layer, size_t last_layer, const Batch& batch, FloatMatrix& hidden,
                  KvCache& cache) const override {
    TANDEM_CHECK(first_layer <= last_layer && last_layer <= layers_.size(), "layers ", first_layer,
                 "..", last_layer, " of ", layers_.size());
    validate(batch);
    for (size_t layer = first_layer; layer < last_layer; ++layer) {
      const Qwen3Layer& weights = layers_[layer];
      attention_block(weights.attention, attention_options(layer), batch, hidden, cache, context_);
      if (const auto* dense = std::get_if<DenseFfnWeights>(&weights.ffn)) {
        dense_ffn_block(*dense, FfnOptions{config_.rms_eps}, hidden, context_);
      } else {
        const MoeOptions options{config_.experts_used, /*renormalize=*/true, config_.rms_eps};
        moe_ffn_block(std::get<MoeFfnWeights>(weights.ffn), options, hidden, context_);
      }
    }
  }

  FloatMatrix output(const Batch& batch, const FloatMatrix& hidden) const override {
    return output_logits(embedding_, batch, hidden, config_.rms_eps, context_);
  }

 private:
  AttentionOptions attention_options(size_t layer) const {
    return {layer,
            config_.head_count,
            config_.kv_head_count,
            config_.head_dim,
            config_.rope_dims,
            config_.rope_theta,
            config_.rms_eps};
  }

  EmbeddingWeights embedding_;
  std::vector<Qwen3Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_qwen3_model(const ModelFile& file, ModelConfig config,
                                        const ModelOptions& options, ThreadPool& pool) {
  return std::make_unique<Qwen3Model>(file, std::move(config), options, pool);
}

}  // namespace tandem
