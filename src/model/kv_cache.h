#pragma once
// KvCache: keys (after RoPE) and values per layer and per sequence, growing with the
// context, stored as F32 or as F16 (half the memory; each element rounded to nearest even
// as it is written, as llama.cpp's default F16 cache does). A sequence's layer holds rows for
// positions 0 .. length - 1, each row [kv_heads * head_dim]. Writing position p requires p <=
// length: p == length appends, p < length overwrites and drops everything after it (a sequence
// rewound to p). Only the layers a node runs are ever filled, so a pipeline stage holding layers
// [first, last) keeps the same type.
//
// Models with recurrent layers (qwen35moe's Gated DeltaNet) also keep, per sequence, a
// fixed block of recurrent_floats F32 values (ops/recurrent_state.h lays it out). It
// holds the whole history in a summary that cannot be rewound: truncating such a
// sequence is only possible to length 0 (a fresh start).

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string_view>
#include <vector>

#include "ops/attention.h"

namespace tandem {

enum class KvType { kF32, kF16 };
// "f32" / "f16"; parse_kv_type throws Error for any other name.
std::string_view kv_type_name(KvType type);
KvType parse_kv_type(std::string_view name);
size_t kv_element_bytes(KvType type);

class KvCache {
 public:
  KvCache(size_t layer_count, size_t kv_width, size_t max_positions, size_t recurrent_floats = 0,
          KvType type = KvType::kF32);

  size_t layer_count() const { return layer_count_; }
  size_t kv_width() const { return kv_width_; }
  size_t max_positions() const { return max_positions_; }
  KvType type() const { return type_; }

  // Stores key and value of `position`; throws Error for a gap or past max_positions.
  void write(size_t layer, int32_t sequence_id, int32_t position, std::span<const float> key,
             std::span<const float> value);
  // Rows 0 .. length - 1 of a sequence's layer: [length][kv_width], in the cache's type.
  KvRows keys(size_t layer, int32_t sequence_id) const;
  KvRows values(size_t layer, int32_t sequence_id) const;
  size_t length(size_t layer, int32_t sequence_id) const;

  size_t recurrent_floats() const { return recurrent_floats_; }
  // The sequence's recurrent state, [recurrent_floats], zero for a new sequence.
  std::span<float> recurrent_state(int32_t sequence_id);

  // Forgets a sequence; its id may be reused.
  void remove(int32_t sequence_id);
  // Keeps positions 0 .. length - 1 of a sequence in every layer. With a recurrent
  // state, length must be 0 or the sequence's current length; otherwise throws Error.
  void truncate(int32_t sequence_id, size_t length);

 private:
  // [length][kv_width] each, in the vectors of the cache's type (the others stay empty).
  struct LayerRows {
    std::vector<float> keys;
    std::vector<float> values;
    std::vector<uint16_t> keys_f16;
    std::vector<uint16_t> values_f16;
    // Positions held, from the keys of the cache's type.
    size_t length(KvType type, size_t kv_width) const {
      return (type == KvType::kF16 ? keys_f16.size() : keys.size()) / kv_width;
    }
  };
  const LayerRows* find(size_t layer, int32_t sequence_id) const;

  size_t layer_count_;
  size_t kv_width_;
  size_t max_positions_;
  size_t recurrent_floats_;
  KvType type_;
  std::map<int32_t, std::vector<LayerRows>> sequences_;  // id -> [layer_count]
  std::map<int32_t, std::vector<float>> recurrent_;      // id -> [recurrent_floats]
};

}  // namespace tandem
