#include "ops/attention.h"

#include <algorithm>

#include "ops/kernels.h"
#include "ops/quant/simd/quant_simd.h"
#include "platform/error.h"
#include "platform/half.h"

namespace tandem {
namespace {

float sequential_dot(const float* a, const float* b, size_t n) {
  float dot = 0.0f;
  for (size_t i = 0; i < n; ++i) dot += a[i] * b[i];
  return dot;
}

template <float (*Dot)(const float*, const float*, size_t)>
void attend_head_with(const AttentionShape& shape, size_t head, std::span<const float> query,
                      std::span<const float> keys, std::span<const float> values, size_t key_count,
                      std::span<float> scores, std::span<float> out) {
  const size_t dim = shape.head_dim;
  const size_t kv_width = shape.kv_head_count * dim;
  TANDEM_CHECK(shape.kv_head_count > 0 && shape.head_count % shape.kv_head_count == 0, "heads ",
               shape.head_count, " / kv heads ", shape.kv_head_count);
  TANDEM_CHECK(head < shape.head_count && query.size() == shape.head_count * dim &&
                   keys.size() >= key_count * kv_width && values.size() >= key_count * kv_width &&
                   scores.size() >= key_count && out.size() >= dim,
               "attention buffer sizes");
  const size_t kv_head = head / (shape.head_count / shape.kv_head_count);
  const float* q = query.data() + head * dim;
  for (size_t j = 0; j < key_count; ++j) {
    const float* k = keys.data() + j * kv_width + kv_head * dim;
    scores[j] = Dot(q, k, dim) * shape.scale;
  }
  softmax(scores.first(key_count));
  for (size_t i = 0; i < dim; ++i) out[i] = 0.0f;
  for (size_t j = 0; j < key_count; ++j) {
    const float* v = values.data() + j * kv_width + kv_head * dim;
    const float p = scores[j];
    for (size_t i = 0; i < dim; ++i) out[i] += p * v[i];
  }
}

}  // namespace

void attend_head(const AttentionShape& shape, size_t head, std::span<const float> query,
                 std::span<const float> keys, std::span<const float> values, size_t key_count,
                 std::span<float> scores, std::span<float> out) {
  attend_head_with<sequential_dot>(shape, head, query, keys, values, key_count, scores, out);
}

void attend_head_fast(const AttentionShape& shape, size_t head, std::span<const float> query,
                      std::span<const float> keys, std::span<const float> values, size_t key_count,
                      std::span<float> scores, std::span<float> out) {
  const size_t dim = shape.head_dim;
  const size_t kv_width = shape.kv_head_count * dim;
  TANDEM_CHECK(shape.kv_head_count > 0 && shape.head_count % shape.kv_head_count == 0 &&
                   head < shape.head_count && query.size() == shape.head_count * dim &&
                   keys.size() >= key_count * kv_width && values.size() >= key_count * kv_width &&
                   scores.size() >= key_count && out.size() >= dim,
               "attention buffer sizes");
  const size_t kv_head = head / (shape.head_count / shape.kv_head_count);
  const float* q = query.data() + head * dim;
  for (size_t j = 0; j < key_count; ++j) {
    const float* k = keys.data() + j * kv_width + kv_head * dim;
    scores[j] = simd_float_dot(TensorType::kF32, k, q, dim) * shape.scale;
  }
  softmax(scores.first(key_count));
  const std::span<float> head_out = out.first(dim);
  std::fill(head_out.begin(), head_out.end(), 0.0f);
  for (size_t j = 0; j < key_count; ++j) {
    simd_add_scaled(head_out, scores[j], values.subspan(j * kv_width + kv_head * dim, dim));
  }
}

void attend(const AttentionShape& shape, std::span<const float> query, std::span<const float> keys,
            std::span<const float> values, size_t key_count, std::span<float> scores,
            std::span<float> out) {
  TANDEM_CHECK(out.size() == shape.head_count * shape.head_dim, "attention output size");
  for (size_t h = 0; h < shape.head_count; ++h) {
    attend_head(shape, h, query, keys, values, key_count, scores,
                out.subspan(h * shape.head_dim, shape.head_dim));
  }
}

void attend_unit(const AttentionShape& shape, bool grouped, size_t unit,
                 std::span<const float> query, KvRows keys, KvRows values, size_t key_count,
                 std::vector<float>& scores, std::vector<float>& widened,
                 std::span<float> out_row) {
  const size_t dim = shape.head_dim;
  const bool half = keys.f32.empty();
  TANDEM_CHECK(half == values.f32.empty() && half != keys.f16.empty() && half != values.f16.empty(),
               "keys and values in one element type");
  if (grouped) {
    scores.resize(key_count * (shape.head_count / shape.kv_head_count));
    if (half) {
      attend_kv_group_fast_f16(shape, unit, query, keys.f16, values.f16, key_count, scores,
                               out_row);
    } else {
      attend_kv_group_fast(shape, unit, query, keys.f32, values.f32, key_count, scores, out_row);
    }
    return;
  }
  scores.resize(key_count);
  std::span<const float> key_rows = keys.f32;
  std::span<const float> value_rows = values.f32;
  if (half) {
    // The reference reads F32 rows: the causal window widened, keys then values.
    const size_t count = key_count * shape.kv_head_count * dim;
    TANDEM_CHECK(keys.f16.size() >= count && values.f16.size() >= count, "attention buffer sizes");
    widened.resize(2 * count);
    f16_to_f32(keys.f16.first(count), std::span(widened).first(count));
    f16_to_f32(values.f16.first(count), std::span(widened).last(count));
    key_rows = std::span<const float>(widened).first(count);
    value_rows = std::span<const float>(widened).last(count);
  }
  attend_head(shape, unit, query, key_rows, value_rows, key_count, scores,
              out_row.subspan(unit * dim, dim));
}

}  // namespace tandem
