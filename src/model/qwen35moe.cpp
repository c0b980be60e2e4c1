// Qwen3.5 hybrid MoE (llama.cpp's qwen35moe); docs/qwen35moe.md has every step. Per layer:
//   x = rms_norm(hidden) * attn_norm
//   hidden += deltanet(x)            for layer il with (il + 1) % full_attention_interval != 0
//   hidden += gated_attention(x)     otherwise
//   f = rms_norm(hidden) * post_attention_norm
//   hidden += moe(f) + sigmoid(ffn_gate_inp_shexp . f) * shared_expert(f)
// Then logits = output(rms_norm(hidden) * output_norm). The DeltaNet layers keep a fixed
// recurrent state per sequence in the KvCache; only the attention layers store keys and
// values.

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/architectures.h"
#include "model/blocks.h"
#include "model/qwen35moe_config.h"
#include "ops/attention.h"
#include "ops/deltanet_block.h"
#include "ops/kernels.h"
#include "ops/rope_imrope.h"
#include "platform/error.h"

namespace tandem {
namespace {

struct DeltaNetWeights {
  WeightMatrix qkv;            // attn_qkv [conv_channels][hidden]
  WeightMatrix gate;           // attn_gate, z [value_width][hidden]
  WeightMatrix alpha;          // ssm_alpha [value_heads][hidden]
  WeightMatrix beta;           // ssm_beta [value_heads][hidden]
  WeightMatrix out;            // ssm_out [hidden][value_width]
  DeltaNetLayerWeights small;  // ssm_conv1d, ssm_a, ssm_dt.bias, ssm_norm (F32)
};

struct SharedExpertWeights {
  WeightMatrix gate;                // ffn_gate_shexp [shared_ffn][hidden]
  WeightMatrix up;                  // ffn_up_shexp [shared_ffn][hidden]
  WeightMatrix down;                // ffn_down_shexp [hidden][shared_ffn]
  std::span<const float> gate_inp;  // ffn_gate_inp_shexp [hidden]
};

struct Qwen35Layer {
  std::span<const float> attn_norm;
  bool recurrent = false;
  size_t recurrent_index = 0;  // slot among the DeltaNet layers
  AttentionWeights attention;  // attention layers (norm unused: applied by the caller)
  DeltaNetWeights deltanet;
  MoeFfnWeights moe;  // norm = post_attention_norm
  SharedExpertWeights shared;
};

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

class Qwen35MoeModel final : public Model {
 public:
  Qwen35MoeModel(const ModelFile& file, ModelConfig config, const ModelOptions& options,
                 ThreadPool& pool)
      : Model(std::move(config), options, pool) {
    dims_ = qwen35_deltanet_dims(config_);
    rope_ = qwen35_rope(config_);
    recurrent_layers_ = qwen35_deltanet_layer_count(config_);
    const WeightLookup lookup(file);
    embedding_ = load_embedding_weights(lookup, config_, options.input, options.output);
    for (size_t layer = 0; layer < config_.layer_count; ++layer) {
      // Another stage's layer stays empty: it is never run here.
      layers_.push_back(options.loads_layer(layer) ? load_layer(lookup, layer) : Qwen35Layer{});
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
    check_continuation(first_layer, last_layer, batch, cache);
    for (size_t layer = first_layer; layer < last_layer; ++layer) {
      const Qwen35Layer& weights = layers_[layer];
      FloatMatrix normed;  // [tokens][hidden]
      rms_norm_rows(hidden, weights.attn_norm, config_.rms_eps, normed);
      FloatMatrix mixed;  // [tokens][hidden]
      if (weights.recurrent) {
        deltanet_layer(weights, batch, normed, cache, mixed);
      } else {
        gated_attention_layer(weights, layer, batch, normed, cache, mixed);
      }
      for (size_t t = 0; t < hidden.rows(); ++t) add_in_place(hidden.row(t), mixed.row(t));
      ffn_layer(weights, hidden);
    }
  }

  FloatMatrix output(const Batch& batch, const FloatMatrix& hidden) const override {
    return output_logits(embedding_, batch, hidden, config_.rms_eps, context_);
  }

 private:
  Qwen35Layer load_layer(const WeightLookup& lookup, size_t layer) const {
    const auto name = [layer](std::string_view suffix) { return layer_tensor(layer, suffix); };
    const size_t hidden = config_.hidden;
    Qwen35Layer w;
    w.attn_norm = lookup.vector(name("attn_norm.weight"), hidden);
    w.recurrent = qwen35_is_deltanet_layer(config_, layer);
    if (w.recurrent) {
      w.recurrent_index = qwen35_deltanet_index(config_, layer);
      const size_t channels = dims_.conv_channels();
      DeltaNetWeights& d = w.deltanet;
      d.qkv = lookup.matrix(name("attn_qkv.weight"), channels, hidden);
      d.gate = lookup.matrix(name("attn_gate.weight"), dims_.value_width(), hidden);
      d.alpha = lookup.matrix(name("ssm_alpha.weight"), dims_.value_heads, hidden);
      d.beta = lookup.matrix(name("ssm_beta.weight"), dims_.value_heads, hidden);
      d.out = lookup.matrix(name("ssm_out.weight"), hidden, dims_.value_width());
      d.small.conv = lookup.vector(name("ssm_conv1d.weight"), channels * dims_.conv_kernel);
      d.small.ssm_a = lookup.vector(name("ssm_a"), dims_.value_heads);
      d.small.dt_bias = lookup.vector(name("ssm_dt.bias"), dims_.value_heads);
      d.small.norm = lookup.vector(name("ssm_norm.weight"), dims_.value_dim);
    } else {
      const size_t dim = config_.head_dim;
      AttentionWeights& a = w.attention;
      a.norm = w.attn_norm;
      a.q = lookup.matrix(name("attn_q.weight"), 2 * config_.head_count * dim, hidden);
      a.k = lookup.matrix(name("attn_k.weight"), config_.kv_width(), hidden);
      a.v = lookup.matrix(name("attn_v.weight"), config_.kv_width(), hidden);
      a.output = lookup.matrix(name("attn_output.weight"), hidden, config_.q_width());
      a.q_norm = lookup.vector(name("attn_q_norm.weight"), dim);
      a.k_norm = lookup.vector(name("attn_k_norm.weight"), dim);
    }
    const size_t experts = config_.expert_count;
    const size_t ffn = config_.expert_ffn_hidden;
    w.moe.norm = lookup.vector(name("post_attention_norm.weight"), hidden);
    w.moe.router = lookup.matrix(name("ffn_gate_inp.weight"), experts, hidden);
    w.moe.gate = lookup.experts(name("ffn_gate_exps.weight"), experts, ffn, hidden);
    w.moe.up = lookup.experts(name("ffn_up_exps.weight"), experts, ffn, hidden);
    w.moe.down = lookup.experts(name("ffn_down_exps.weight"), experts, hidden, ffn);
    // llama.cpp falls back to feed_forward_length without the shared-expert key.
    const size_t shared =
        config_.shared_expert_ffn_hidden ? config_.shared_expert_ffn_hidden : config_.ffn_hidden;
    w.shared.gate = lookup.matrix(name("ffn_gate_shexp.weight"), shared, hidden);
    w.shared.up = lookup.matrix(name("ffn_up_shexp.weight"), shared, hidden);
    w.shared.down = lookup.matrix(name("ffn_down_shexp.weight"), hidden, shared);
    w.shared.gate_inp = lookup.vector(name("ffn_gate_inp_shexp.weight"), hidden);
    return w;
  }

  // Gated DeltaNet: the four projections for the whole batch, then each sequence's
  // rows in order through deltanet_mix with that sequence's recurrent state.
  void deltanet_layer(const Qwen35Layer& w, const Batch& batch, const FloatMatrix& x,
                      KvCache& cache, FloatMatrix& out) const {
    const DeltaNetWeights& d = w.deltanet;
    FloatMatrix qkv, z, alpha, beta;  // [tokens][conv_channels], [tokens][value_width], ...
    matmul_shared_input(context_, {&d.qkv, &d.gate, &d.alpha, &d.beta}, x,
                        {&qkv, &z, &alpha, &beta});
    FloatMatrix mixed(batch.size(), dims_.value_width());  // input of ssm_out
    const DeltaNetMixOptions options{config_.rms_eps, context_.mode == ComputeMode::kReference
                                                          ? DeltaRuleForm::kReference
                                                          : DeltaRuleForm::kSequential};
    for (const int32_t sequence : sequences_of(batch)) {
      std::vector<size_t> rows;
      for (size_t t = 0; t < batch.size(); ++t) {
        if (batch.sequence_ids[t] == sequence) rows.push_back(t);
      }
      const auto gather = [&](const FloatMatrix& m) {
        std::vector<float> g;  // [rows][m.cols()]
        g.reserve(rows.size() * m.cols());
        for (size_t t : rows) g.insert(g.end(), m.row(t).begin(), m.row(t).end());
        return g;
      };
      const auto qkv_rows = gather(qkv), z_rows = gather(z);
      const auto alpha_rows = gather(alpha), beta_rows = gather(beta);
      std::vector<float> result(rows.size() * dims_.value_width());
      const RecurrentStateView state(dims_, recurrent_layers_, cache.recurrent_state(sequence));
      deltanet_mix(dims_, d.small, {qkv_rows, z_rows, alpha_rows, beta_rows}, options,
                   state.conv_state(w.recurrent_index), state.delta_state(w.recurrent_index),
                   result, context_.pool);
      for (size_t i = 0; i < rows.size(); ++i) {
        std::copy_n(result.begin() + static_cast<ptrdiff_t>(i * dims_.value_width()),
                    dims_.value_width(), mixed.row(rows[i]).begin());
      }
    }
    matmul(context_.mode, d.out, mixed, out, context_.pool);
  }

  // Attention whose attn_q rows hold, per head, the query then an output gate.
  void gated_attention_layer(const Qwen35Layer& w, size_t layer, const Batch& batch,
                             const FloatMatrix& x, KvCache& cache, FloatMatrix& out) const {
    const AttentionWeights& a = w.attention;
    const size_t tokens = batch.size();
    const size_t heads = config_.head_count;
    const size_t dim = config_.head_dim;
    FloatMatrix query_gate, k, v;  // [tokens][heads][2 dim], [tokens][kv_width] x 2
    matmul_shared_input(context_, {&a.q, &a.k, &a.v}, x, {&query_gate, &k, &v});
    FloatMatrix q(tokens, heads * dim), gate(tokens, heads * dim);
    // QK-norm and RoPE of each token: independent, so split over the pool (as
    // attention_block), then into the cache in batch order.
    context_.pool.parallel_for(
        tokens,
        [&](size_t begin, size_t end, size_t) {
          for (size_t t = begin; t < end; ++t) {
            const int32_t position = batch.positions[t];
            for (size_t h = 0; h < heads; ++h) {
              const auto both = query_gate.row(t).subspan(h * 2 * dim, 2 * dim);
              const auto head = q.row(t).subspan(h * dim, dim);
              rms_norm(both.first(dim), a.q_norm, config_.rms_eps, head);
              std::copy(both.begin() + static_cast<ptrdiff_t>(dim), both.end(),
                        gate.row(t).subspan(h * dim, dim).begin());
            }
            for (size_t h = 0; h < config_.kv_head_count; ++h) {
              const auto head = k.row(t).subspan(h * dim, dim);
              rms_norm(head, a.k_norm, config_.rms_eps, head);
            }
            apply_imrope_text(rope_, std::span(&position, 1), q.row(t));
            apply_imrope_text(rope_, std::span(&position, 1), k.row(t));
          }
        },
        kMinRotateTokens);
    for (size_t t = 0; t < tokens; ++t) {
      cache.write(layer, batch.sequence_ids[t], batch.positions[t], k.row(t), v.row(t));
    }
    const AttentionShape shape{heads, config_.kv_head_count, dim,
                               1.0f / std::sqrt(static_cast<float>(dim))};
    FloatMatrix attended(tokens, heads * dim);  // [tokens][heads * dim]
    // Items: (token, head), or (token, kv head) groups of heads on the fast path.
    const bool grouped = context_.mode != ComputeMode::kReference;
    const size_t units = grouped ? config_.kv_head_count : heads;
    const size_t heads_per_unit = heads / units;
    context_.pool.parallel_for(tokens * units, [&](size_t begin, size_t end, size_t) {
      std::vector<float> scores;
      std::vector<float> widened;
      for (size_t item = begin; item < end; ++item) {
        const size_t t = item / units;
        const size_t unit = item % units;
        const int32_t sequence = batch.sequence_ids[t];
        const size_t key_count = static_cast<size_t>(batch.positions[t]) + 1;
        attend_unit(shape, grouped, unit, q.row(t), cache.keys(layer, sequence),
                    cache.values(layer, sequence), key_count, scores, widened, attended.row(t));
        // sigmoid(gate) on this item's heads.
        const size_t first = unit * heads_per_unit * dim;
        const auto o = attended.row(t).subspan(first, heads_per_unit * dim);
        const auto g = gate.row(t).subspan(first, heads_per_unit * dim);
        for (size_t i = 0; i < o.size(); ++i) o[i] *= sigmoid(g[i]);
      }
    });
    matmul(context_.mode, a.output, attended, out, context_.pool);
  }

  // hidden += moe(f) + sigmoid(gate_inp . f) * shared_expert(f), f = rms_norm(hidden).
  void ffn_layer(const Qwen35Layer& w, FloatMatrix& hidden) const {
    FloatMatrix normed;
    rms_norm_rows(hidden, w.moe.norm, config_.rms_eps, normed);
    const MoeOptions options{config_.experts_used, /*renormalize=*/true, config_.rms_eps};
    const Routing routing = route_tokens(w.moe.router, normed, options, context_);
    FloatMatrix routed, shared;  // [tokens][hidden]
    mixture_of_experts(w.moe, routing, normed, routed, context_);
    swiglu_ffn(w.shared.gate, w.shared.up, w.shared.down, normed, shared, context_);
    for (size_t t = 0; t < hidden.rows(); ++t) {
      const auto f = normed.row(t);
      float logit = 0.0f;
      for (size_t i = 0; i < f.size(); ++i) logit += w.shared.gate_inp[i] * f[i];
      const float scale = sigmoid(logit);
      const auto h = hidden.row(t);
      const auto r = routed.row(t);
      const auto s = shared.row(t);
      for (size_t i = 0; i < h.size(); ++i) h[i] += r[i] + scale * s[i];
    }
  }

  // The recurrent state summarizes a sequence's whole history, so each batch must
  // continue its sequences where they stopped: a sequence's first row here must be at
  // the length its attention layers have cached (checked when the range has one).
  void check_continuation(size_t first_layer, size_t last_layer, const Batch& batch,
                          const KvCache& cache) const {
    size_t attention_layer = last_layer;
    for (size_t layer = first_layer; layer < last_layer; ++layer) {
      if (!layers_[layer].recurrent) {
        attention_layer = layer;
        break;
      }
    }
    if (attention_layer == last_layer) return;
    for (const int32_t sequence : sequences_of(batch)) {
      const size_t cached = cache.length(attention_layer, sequence);
      int32_t expected = static_cast<int32_t>(cached);
      for (size_t t = 0; t < batch.size(); ++t) {
        if (batch.sequence_ids[t] != sequence) continue;
        if (batch.positions[t] != expected) {
          throw Error(str_cat("sequence ", sequence, ": position ", batch.positions[t], " where ",
                              expected,
                              " was expected; a model with recurrent "
                              "layers cannot skip or rewind positions"));
        }
        ++expected;
      }
    }
  }

  static std::vector<int32_t> sequences_of(const Batch& batch) {
    std::vector<int32_t> ids;
    for (const int32_t id : batch.sequence_ids) {
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
    return ids;
  }

  DeltaNetDims dims_;
  size_t recurrent_layers_ = 0;
  ImropeOptions rope_;
  EmbeddingWeights embedding_;
  std::vector<Qwen35Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_qwen35moe_model(const ModelFile& file, ModelConfig config,
                                            const ModelOptions& options, ThreadPool& pool) {
  return std::make_unique<Qwen35MoeModel>(file, std::move(config), options, pool);
}

}  // namespace tandem
