// End-to-end check of the Gated DeltaNet kernels and of docs/qwen35moe.md: a plain
// reference forward pass of qwen35moe (every weight dequantized to F32 at load, F32
// activations, matrix-vector products row by row) built on the kernels of src/ops,
// compared with llama.cpp's logits for the tiny reference models by the README's
// judgement for the exact path.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "gguf/model_file.h"
#include "model/qwen35moe_config.h"
#include "ops/deltanet.h"
#include "ops/deltanet_block.h"
#include "ops/quant/dequantize.h"
#include "ops/recurrent_state.h"
#include "ops/rope_imrope.h"
#include "platform/thread_pool.h"
#include "test_paths.h"

namespace tandem::testing {
namespace {

// A dequantized weight: `rows` rows of `cols` floats (GGUF ne = [cols, rows, ...]).
struct DenseMatrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<float> data;
  std::span<const float> row(size_t r) const { return std::span(data).subspan(r * cols, cols); }
};

struct ReferenceOptions {
  DeltaRuleForm form = DeltaRuleForm::kSequential;
  bool exact_imrope = true;  // false: plain NEOX RoPE on all n_rot dims
};

class ReferenceQwen35Moe {
 public:
  explicit ReferenceQwen35Moe(const std::string& path);

  size_t vocab() const { return vocab_; }
  // Runs `tokens` at positions start.. after what was run before; returns the logits,
  // [tokens][vocab].
  std::vector<float> forward(std::span<const int32_t> tokens, const ReferenceOptions& options);
  void reset();

 private:
  struct Layer {
    bool recurrent = false;
    std::vector<float> attn_norm, post_norm;
    // DeltaNet
    DenseMatrix qkv, gate, alpha, beta, out;
    std::vector<float> conv, dt_bias, ssm_a, ssm_norm;
    size_t recurrent_index = 0;
    // attention
    DenseMatrix q, k, v, o;
    std::vector<float> q_norm, k_norm;
    size_t attention_index = 0;
    // MoE
    DenseMatrix router, gate_exps, up_exps, down_exps, gate_shexp, up_shexp, down_shexp;
    std::vector<float> shexp_gate;
  };

  std::vector<float> attention(const Layer& layer, std::span<const float> x, size_t tokens,
                               const ReferenceOptions& options);
  std::vector<float> deltanet(const Layer& layer, std::span<const float> x, size_t tokens,
                              const ReferenceOptions& options);
  std::vector<float> moe(const Layer& layer, std::span<const float> x) const;

  ModelFile file_;
  size_t embd_ = 0, vocab_ = 0, heads_ = 0, kv_heads_ = 0, head_dim_ = 0;
  size_t experts_ = 0, experts_used_ = 0;
  float eps_ = 1e-6f;
  ImropeOptions rope_;
  DeltaNetDims dims_;
  DenseMatrix token_embd_, output_;
  std::vector<float> output_norm_;
  std::vector<Layer> layers_;
  std::unique_ptr<RecurrentState> state_;
  std::vector<std::vector<float>> keys_, values_;  // per attention layer: [pos][kv_heads][dim]
  size_t position_ = 0;
  ThreadPool pool_{2};
};

// The README's agreement measure: per position, the rms over the vocabulary of the
// difference of the two rows after centring each on its own mean.
std::vector<double> centred_rms_diff(std::span<const float> a, std::span<const float> b,
                                     size_t vocab);
double median(std::vector<double> values);
// Fraction of positions whose argmax (lowest id on ties) agrees.
double argmax_agreement(std::span<const float> a, std::span<const float> b, size_t vocab);

DenseMatrix load_matrix(const ModelFile& file, const std::string& name) {
  const TensorInfo& info = file.tensor(name);
  DenseMatrix m;
  m.cols = static_cast<size_t>(info.row_length());
  m.rows = static_cast<size_t>(info.row_count());
  m.data.resize(m.rows * m.cols);
  const size_t bytes = row_bytes(info.type, m.cols);
  for (size_t r = 0; r < m.rows; ++r) {
    dequantize_row(info.type, info.data.data() + r * bytes,
                   std::span(m.data).subspan(r * m.cols, m.cols));
  }
  return m;
}

std::vector<float> load_vector(const ModelFile& file, const std::string& name) {
  return load_matrix(file, name).data;
}

// y = W x for rows [first, first + count) of W.
std::vector<float> matvec(const DenseMatrix& w, std::span<const float> x, size_t first = 0,
                          size_t count = 0) {
  if (count == 0) count = w.rows - first;
  EXPECT_EQ(x.size(), w.cols);
  std::vector<float> y(count);
  for (size_t r = 0; r < count; ++r) {
    const auto row = w.row(first + r);
    float sum = 0.0f;
    for (size_t c = 0; c < w.cols; ++c) sum += row[c] * x[c];
    y[r] = sum;
  }
  return y;
}

// Applies W to every row of x ([tokens][W.cols]) -> [tokens][W.rows].
std::vector<float> matmul_rows(const DenseMatrix& w, std::span<const float> x) {
  const size_t tokens = x.size() / w.cols;
  std::vector<float> y(tokens * w.rows);
  for (size_t t = 0; t < tokens; ++t) {
    const auto row = matvec(w, x.subspan(t * w.cols, w.cols));
    std::copy(row.begin(), row.end(), y.begin() + static_cast<ptrdiff_t>(t * w.rows));
  }
  return y;
}

// ggml's rms_norm: squares summed in double, then x * w / sqrt(mean + eps), per row.
void rms_norm_rows(std::span<float> x, std::span<const float> weight, float eps) {
  const size_t dim = weight.size();
  for (size_t begin = 0; begin < x.size(); begin += dim) {
    double sum = 0.0;
    for (size_t i = 0; i < dim; ++i) sum += static_cast<double>(x[begin + i] * x[begin + i]);
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(dim)) + eps);
    for (size_t i = 0; i < dim; ++i) x[begin + i] = x[begin + i] * scale * weight[i];
  }
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

ReferenceQwen35Moe::ReferenceQwen35Moe(const std::string& path) : file_(path) {
  const auto config = Qwen35MoeConfig::from_file(file_);
  embd_ = config.embedding;
  heads_ = config.heads;
  kv_heads_ = config.kv_heads;
  head_dim_ = config.head_dim;
  experts_ = config.experts;
  experts_used_ = config.experts_used;
  eps_ = config.rms_eps;
  rope_ = config.rope;
  dims_ = config.deltanet;
  const size_t layer_count = config.layer_count;

  token_embd_ = load_matrix(file_, "token_embd.weight");
  vocab_ = token_embd_.rows;
  output_ = load_matrix(file_,
                        file_.find_tensor("output.weight") ? "output.weight" : "token_embd.weight");
  output_norm_ = load_vector(file_, "output_norm.weight");
  size_t recurrent_count = 0, attention_count = 0;
  for (size_t il = 0; il < layer_count; ++il) {
    Layer layer;
    auto name = [&](const std::string& suffix) {
      return "blk." + std::to_string(il) + "." + suffix;
    };
    layer.recurrent = config.layers[il] == Qwen35LayerKind::kDeltaNet;
    layer.attn_norm = load_vector(file_, name("attn_norm.weight"));
    layer.post_norm = load_vector(file_, name("post_attention_norm.weight"));
    if (layer.recurrent) {
      layer.qkv = load_matrix(file_, name("attn_qkv.weight"));
      layer.gate = load_matrix(file_, name("attn_gate.weight"));
      layer.alpha = load_matrix(file_, name("ssm_alpha.weight"));
      layer.beta = load_matrix(file_, name("ssm_beta.weight"));
      layer.out = load_matrix(file_, name("ssm_out.weight"));
      layer.conv = load_vector(file_, name("ssm_conv1d.weight"));
      layer.dt_bias = load_vector(file_, name("ssm_dt.bias"));
      layer.ssm_a = load_vector(file_, name("ssm_a"));
      layer.ssm_norm = load_vector(file_, name("ssm_norm.weight"));
      layer.recurrent_index = recurrent_count++;
    } else {
      layer.q = load_matrix(file_, name("attn_q.weight"));
      layer.k = load_matrix(file_, name("attn_k.weight"));
      layer.v = load_matrix(file_, name("attn_v.weight"));
      layer.o = load_matrix(file_, name("attn_output.weight"));
      layer.q_norm = load_vector(file_, name("attn_q_norm.weight"));
      layer.k_norm = load_vector(file_, name("attn_k_norm.weight"));
      layer.attention_index = attention_count++;
    }
    layer.router = load_matrix(file_, name("ffn_gate_inp.weight"));
    layer.gate_exps = load_matrix(file_, name("ffn_gate_exps.weight"));
    layer.up_exps = load_matrix(file_, name("ffn_up_exps.weight"));
    layer.down_exps = load_matrix(file_, name("ffn_down_exps.weight"));
    layer.gate_shexp = load_matrix(file_, name("ffn_gate_shexp.weight"));
    layer.up_shexp = load_matrix(file_, name("ffn_up_shexp.weight"));
    layer.down_shexp = load_matrix(file_, name("ffn_down_shexp.weight"));
    layer.shexp_gate = load_vector(file_, name("ffn_gate_inp_shexp.weight"));
    layers_.push_back(std::move(layer));
  }
  state_ = std::make_unique<RecurrentState>(dims_, recurrent_count);
  keys_.resize(attention_count);
  values_.resize(attention_count);
}

void ReferenceQwen35Moe::reset() {
  state_->reset();
  for (auto& k : keys_) k.clear();
  for (auto& v : values_) v.clear();
  position_ = 0;
}

std::vector<float> ReferenceQwen35Moe::deltanet(const Layer& layer, std::span<const float> x,
                                                size_t tokens, const ReferenceOptions& options) {
  const auto qkv = matmul_rows(layer.qkv, x);
  const auto z = matmul_rows(layer.gate, x);
  const auto alpha = matmul_rows(layer.alpha, x);
  const auto beta = matmul_rows(layer.beta, x);
  std::vector<float> mixed(tokens * dims_.value_width());
  deltanet_mix(dims_, {layer.conv, layer.ssm_a, layer.dt_bias, layer.ssm_norm},
               {qkv, z, alpha, beta}, {eps_, options.form},
               state_->conv_state(layer.recurrent_index),
               state_->delta_state(layer.recurrent_index), mixed, pool_);
  return matmul_rows(layer.out, mixed);
}

std::vector<float> ReferenceQwen35Moe::attention(const Layer& layer, std::span<const float> x,
                                                 size_t tokens, const ReferenceOptions& options) {
  const size_t d = head_dim_;
  const auto qg = matmul_rows(layer.q, x);  // [tokens][heads][2 d]: query, then gate
  std::vector<float> q(tokens * heads_ * d), gate(tokens * heads_ * d);
  for (size_t r = 0; r < tokens * heads_; ++r) {
    std::copy_n(qg.begin() + static_cast<ptrdiff_t>(r * 2 * d), d,
                q.begin() + static_cast<ptrdiff_t>(r * d));
    std::copy_n(qg.begin() + static_cast<ptrdiff_t>(r * 2 * d + d), d,
                gate.begin() + static_cast<ptrdiff_t>(r * d));
  }
  auto k = matmul_rows(layer.k, x);  // [tokens][kv_heads][d]
  const auto v = matmul_rows(layer.v, x);
  rms_norm_rows(q, layer.q_norm, eps_);
  rms_norm_rows(k, layer.k_norm, eps_);
  std::vector<int32_t> positions(tokens);
  std::iota(positions.begin(), positions.end(), static_cast<int32_t>(position_));
  ImropeOptions rope = rope_;
  if (!options.exact_imrope) rope.sections = {static_cast<int32_t>(rope.rotated_dims / 2), 0, 0, 0};
  apply_imrope_text(rope, positions, q);
  apply_imrope_text(rope, positions, k);
  auto& key_cache = keys_[layer.attention_index];
  auto& value_cache = values_[layer.attention_index];
  key_cache.insert(key_cache.end(), k.begin(), k.end());
  value_cache.insert(value_cache.end(), v.begin(), v.end());

  const size_t group = heads_ / kv_heads_;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> o(tokens * heads_ * d, 0.0f);
  for (size_t t = 0; t < tokens; ++t) {
    const size_t visible = position_ + t + 1;
    for (size_t h = 0; h < heads_; ++h) {
      const float* qh = q.data() + (t * heads_ + h) * d;
      const size_t kvh = h / group;
      std::vector<float> scores(visible);
      for (size_t p = 0; p < visible; ++p) {
        const float* kp = key_cache.data() + (p * kv_heads_ + kvh) * d;
        float dot = 0.0f;
        for (size_t i = 0; i < d; ++i) dot += qh[i] * kp[i];
        scores[p] = dot * scale;
      }
      const float top = *std::max_element(scores.begin(), scores.end());
      double sum = 0.0;
      for (float& s : scores) sum += (s = std::exp(s - top));
      float* oh = o.data() + (t * heads_ + h) * d;
      for (size_t p = 0; p < visible; ++p) {
        const float weight = static_cast<float>(scores[p] / sum);
        const float* vp = value_cache.data() + (p * kv_heads_ + kvh) * d;
        for (size_t i = 0; i < d; ++i) oh[i] += weight * vp[i];
      }
    }
  }
  for (size_t i = 0; i < o.size(); ++i) o[i] *= sigmoid(gate[i]);
  return matmul_rows(layer.o, o);
}

std::vector<float> ReferenceQwen35Moe::moe(const Layer& layer, std::span<const float> x) const {
  auto logits = matvec(layer.router, x);
  const float top = *std::max_element(logits.begin(), logits.end());
  float sum = 0.0f;
  for (float& l : logits) sum += (l = std::exp(l - top));
  for (float& l : logits) l /= sum;
  std::vector<size_t> order(experts_);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return logits[a] > logits[b]; });
  float chosen_sum = 0.0f;
  for (size_t i = 0; i < experts_used_; ++i) chosen_sum += logits[order[i]];
  const size_t ff = layer.gate_exps.rows / experts_;
  std::vector<float> y(embd_, 0.0f);
  for (size_t i = 0; i < experts_used_; ++i) {
    const size_t e = order[i];
    const auto g = matvec(layer.gate_exps, x, e * ff, ff);
    const auto u = matvec(layer.up_exps, x, e * ff, ff);
    std::vector<float> hidden(ff);
    for (size_t j = 0; j < ff; ++j) hidden[j] = silu(g[j]) * u[j];
    const auto down = matvec(layer.down_exps, hidden, e * embd_, embd_);
    const float weight = logits[e] / chosen_sum;
    for (size_t j = 0; j < embd_; ++j) y[j] += weight * down[j];
  }
  const auto g = matvec(layer.gate_shexp, x);
  const auto u = matvec(layer.up_shexp, x);
  std::vector<float> hidden(g.size());
  for (size_t j = 0; j < g.size(); ++j) hidden[j] = silu(g[j]) * u[j];
  const auto shared = matvec(layer.down_shexp, hidden);
  float gate_logit = 0.0f;
  for (size_t j = 0; j < embd_; ++j) gate_logit += layer.shexp_gate[j] * x[j];
  const float shared_weight = sigmoid(gate_logit);
  for (size_t j = 0; j < embd_; ++j) y[j] += shared_weight * shared[j];
  return y;
}

std::vector<float> ReferenceQwen35Moe::forward(std::span<const int32_t> tokens,
                                               const ReferenceOptions& options) {
  const size_t n = tokens.size();
  std::vector<float> h(n * embd_);  // residual stream [tokens][embd]
  for (size_t t = 0; t < n; ++t) {
    const auto row = token_embd_.row(static_cast<size_t>(tokens[t]));
    std::copy(row.begin(), row.end(), h.begin() + static_cast<ptrdiff_t>(t * embd_));
  }
  for (const Layer& layer : layers_) {
    std::vector<float> a = h;
    rms_norm_rows(a, layer.attn_norm, eps_);
    const auto mixed =
        layer.recurrent ? deltanet(layer, a, n, options) : attention(layer, a, n, options);
    for (size_t i = 0; i < h.size(); ++i) h[i] += mixed[i];
    std::vector<float> f = h;
    rms_norm_rows(f, layer.post_norm, eps_);
    for (size_t t = 0; t < n; ++t) {
      const auto y = moe(layer, std::span<const float>(f).subspan(t * embd_, embd_));
      for (size_t j = 0; j < embd_; ++j) h[t * embd_ + j] += y[j];
    }
  }
  position_ += n;
  rms_norm_rows(h, output_norm_, eps_);
  return matmul_rows(output_, h);
}

std::vector<double> centred_rms_diff(std::span<const float> a, std::span<const float> b,
                                     size_t vocab) {
  std::vector<double> result;
  for (size_t begin = 0; begin + vocab <= a.size(); begin += vocab) {
    double mean_a = 0.0, mean_b = 0.0;
    for (size_t i = 0; i < vocab; ++i) {
      mean_a += a[begin + i];
      mean_b += b[begin + i];
    }
    mean_a /= static_cast<double>(vocab);
    mean_b /= static_cast<double>(vocab);
    double sum = 0.0;
    for (size_t i = 0; i < vocab; ++i) {
      const double diff = (a[begin + i] - mean_a) - (b[begin + i] - mean_b);
      sum += diff * diff;
    }
    result.push_back(std::sqrt(sum / static_cast<double>(vocab)));
  }
  return result;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double argmax_agreement(std::span<const float> a, std::span<const float> b, size_t vocab) {
  size_t agree = 0, rows = 0;
  for (size_t begin = 0; begin + vocab <= a.size(); begin += vocab, ++rows) {
    const auto ra = a.subspan(begin, vocab), rb = b.subspan(begin, vocab);
    agree += std::max_element(ra.begin(), ra.end()) - ra.begin() ==
             std::max_element(rb.begin(), rb.end()) - rb.begin();
  }
  return static_cast<double>(agree) / static_cast<double>(rows);
}

std::vector<float> read_logits(const std::string& name) {
  std::ifstream in(reference_path(name), std::ios::binary);
  EXPECT_TRUE(in) << name;
  in.seekg(0, std::ios::end);
  std::vector<float> v(static_cast<size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  return v;
}

struct Prompt {
  std::string name;
  std::vector<int32_t> tokens;
};

std::vector<Prompt> read_prompts(const std::string& model) {
  std::ifstream in(reference_path(model + ".json"));
  const auto json = nlohmann::json::parse(in);
  std::vector<Prompt> prompts;
  for (const auto& p : json["prompts"]) {
    prompts.push_back({p["name"].get<std::string>(), p["token_ids"].get<std::vector<int32_t>>()});
  }
  return prompts;
}

class Qwen35MoeReference : public ::testing::TestWithParam<std::string> {};

// Exact path: median centred rms difference to llama.cpp's dequantized-F32 run <= 1e-3
// and argmax agreement >= 0.95, for every prompt.
TEST_P(Qwen35MoeReference, ExactPathMatchesDequantizedLlamaCpp) {
  TANDEM_REQUIRE_SHARED();
  const std::string model = GetParam();
  ReferenceQwen35Moe forward(reference_path(model + ".gguf"));
  for (const Prompt& prompt : read_prompts(model)) {
    forward.reset();
    const auto logits = forward.forward(prompt.tokens, {DeltaRuleForm::kReference, true});
    const auto expected = read_logits(model + "." + prompt.name + ".deqf32.logits.f32");
    ASSERT_EQ(logits.size(), expected.size());
    const double med = median(centred_rms_diff(logits, expected, forward.vocab()));
    const double agree = argmax_agreement(logits, expected, forward.vocab());
    EXPECT_LE(med, 1e-3) << model << " " << prompt.name;
    EXPECT_GE(agree, 0.95) << model << " " << prompt.name;
    std::printf("%s %-5s median d %.2e  argmax agreement %.3f\n", model.c_str(),
                prompt.name.c_str(), med, agree);
  }
}

// Batch (chunked or sequential rule) vs one token at a time: the recurrent state and the
// KV cache carry the sequence.
TEST_P(Qwen35MoeReference, BatchEqualsIncrementalDecode) {
  TANDEM_REQUIRE_SHARED();
  const std::string model = GetParam();
  ReferenceQwen35Moe forward(reference_path(model + ".gguf"));
  const auto prompts = read_prompts(model);
  const auto& tokens = prompts.back().tokens;  // the long prompt: several 64-token chunks
  const auto chunked = forward.forward(tokens, {DeltaRuleForm::kChunked, true});
  forward.reset();
  std::vector<float> steps;
  for (const int32_t token : tokens) {
    const auto row = forward.forward(std::span(&token, 1), {DeltaRuleForm::kSequential, true});
    steps.insert(steps.end(), row.begin(), row.end());
  }
  const auto diff = centred_rms_diff(chunked, steps, forward.vocab());
  EXPECT_LT(*std::max_element(diff.begin(), diff.end()), 1e-3);
  EXPECT_EQ(argmax_agreement(chunked, steps, forward.vocab()), 1.0);
}

// The README's description (NEOX on all 32 rotated dims) and llama.cpp's IMROPE differ on
// the pairs whose section gives them the text-empty 4th position; the logits decide.
TEST_P(Qwen35MoeReference, ImropeFourthSectionIsNotRotated) {
  TANDEM_REQUIRE_SHARED();
  const std::string model = GetParam();
  ReferenceQwen35Moe forward(reference_path(model + ".gguf"));
  const auto prompt = read_prompts(model).front();
  const auto expected = read_logits(model + "." + prompt.name + ".deqf32.logits.f32");
  const auto exact = forward.forward(prompt.tokens, {DeltaRuleForm::kSequential, true});
  forward.reset();
  const auto neox = forward.forward(prompt.tokens, {DeltaRuleForm::kSequential, false});
  const double exact_median = median(centred_rms_diff(exact, expected, forward.vocab()));
  const double neox_median = median(centred_rms_diff(neox, expected, forward.vocab()));
  std::printf("%s imrope %.2e  plain neox %.2e\n", model.c_str(), exact_median, neox_median);
  EXPECT_LT(exact_median, neox_median);
}

INSTANTIATE_TEST_SUITE_P(Files, Qwen35MoeReference,
                         ::testing::Values("qwen35moe-tiny-Q8_0", "qwen35moe-tiny-Q4_K_M"));

}  // namespace
}  // namespace tandem::testing
