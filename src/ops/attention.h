#pragma once
// Causal grouped-query attention of one query row over a run of cached keys and
// values (scaled dot products, softmax, weighted sum of values), in F32 as llama.cpp
// computes it with an F32 KV cache and flash attention off.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tandem {

// Cached key or value rows, [key_count][kv_head_count * head_dim], in the cache's element
// type: F32, or F16 (IEEE half bits) holding half the bytes. Exactly one span is set.
struct KvRows {
  std::span<const float> f32;
  std::span<const uint16_t> f16;
};

struct AttentionShape {
  size_t head_count = 0;  // query heads
  size_t kv_head_count =
      0;  // key/value heads; query head h reads kv head h / (head_count / kv_head_count)
  size_t head_dim = 0;
  float scale = 1.0f;  // multiplies q.k, usually 1 / sqrt(head_dim)
};

// query: [head_count * head_dim]; keys, values: [key_count][kv_head_count * head_dim]
// (positions 0 .. key_count - 1 of one sequence, the causal window of the query);
// scores: scratch of key_count floats; out: [head_count * head_dim].
void attend(const AttentionShape& shape, std::span<const float> query, std::span<const float> keys,
            std::span<const float> values, size_t key_count, std::span<float> scores,
            std::span<float> out);

// One head only (head < head_count), writing out[0 .. head_dim): the unit of work
// the forward pass spreads over threads.
void attend_head(const AttentionShape& shape, size_t head, std::span<const float> query,
                 std::span<const float> keys, std::span<const float> values, size_t key_count,
                 std::span<float> scores, std::span<float> out);

// As attend_head with SIMD kernels (ops/quant/simd): q.k summed in vector lanes, as
// ggml's vectorized F32 dot product, and the weighted sum of values with fused
// multiply-adds; attend_head's sequential sums are chains of dependent adds.
void attend_head_fast(const AttentionShape& shape, size_t head, std::span<const float> query,
                      std::span<const float> keys, std::span<const float> values, size_t key_count,
                      std::span<float> scores, std::span<float> out);

// Every query head that reads kv head `kv_head` (head_count / kv_head_count of them,
// adjacent in the query row) in one pass: each key and value row is loaded once for the
// group, in register blocks of fused multiply-adds. scores: scratch of at least
// group * key_count floats; writes only this group's heads of out [head_count * head_dim].
// Sums in vector lanes as attend_head_fast, so results differ from attend_head's by
// rounding only.
void attend_kv_group_fast(const AttentionShape& shape, size_t kv_head, std::span<const float> query,
                          std::span<const float> keys, std::span<const float> values,
                          size_t key_count, std::span<float> scores, std::span<float> out);

// As attend_kv_group_fast with F16 keys and values ([key_count][kv_head_count * head_dim]
// half bits): each element is widened exactly to F32 as it is loaded, so the result equals
// attend_kv_group_fast's on the widened rows.
void attend_kv_group_fast_f16(const AttentionShape& shape, size_t kv_head,
                              std::span<const float> query, std::span<const uint16_t> keys,
                              std::span<const uint16_t> values, size_t key_count,
                              std::span<float> scores, std::span<float> out);

// One work item of a token's attention: query head `unit` with attend_head, or, when
// `grouped`, the heads of kv head `unit` with attend_kv_group_fast (or its F16 form).
// Sizes `scores` itself, and `widened` where F16 rows must first become F32 (the
// sequential reference); writes only the item's heads of out_row [head_count * head_dim].
void attend_unit(const AttentionShape& shape, bool grouped, size_t unit,
                 std::span<const float> query, KvRows keys, KvRows values, size_t key_count,
                 std::vector<float>& scores, std::vector<float>& widened, std::span<float> out_row);

}  // namespace tandem
