#include "model/kv_cache.h"

#include <algorithm>

#include "platform/error.h"
#include "platform/half.h"

namespace tandem {

std::string_view kv_type_name(KvType type) { return type == KvType::kF16 ? "f16" : "f32"; }

KvType parse_kv_type(std::string_view name) {
  if (name == "f32") return KvType::kF32;
  if (name == "f16") return KvType::kF16;
  throw Error(str_cat("unknown KV cache type '", name, "' (f32 or f16)"));
}

size_t kv_element_bytes(KvType type) {
  return type == KvType::kF16 ? sizeof(uint16_t) : sizeof(float);
}

KvCache::KvCache(size_t layer_count, size_t kv_width, size_t max_positions, size_t recurrent_floats,
                 KvType type)
    : layer_count_(layer_count),
      kv_width_(kv_width),
      max_positions_(max_positions),
      recurrent_floats_(recurrent_floats),
      type_(type) {}

std::span<float> KvCache::recurrent_state(int32_t sequence_id) {
  TANDEM_CHECK(recurrent_floats_ > 0, "this cache has no recurrent state");
  auto& state = recurrent_[sequence_id];
  if (state.empty()) state.assign(recurrent_floats_, 0.0f);
  return state;
}

void KvCache::write(size_t layer, int32_t sequence_id, int32_t position, std::span<const float> key,
                    std::span<const float> value) {
  TANDEM_CHECK(layer < layer_count_ && key.size() == kv_width_ && value.size() == kv_width_,
               "kv write layer ", layer, " sizes ", key.size(), " ", value.size());
  auto& layers = sequences_[sequence_id];
  if (layers.empty()) layers.resize(layer_count_);
  LayerRows& rows = layers[layer];
  const size_t length = rows.length(type_, kv_width_);
  if (position < 0 || static_cast<size_t>(position) > length) {
    throw Error(str_cat("sequence ", sequence_id, ": position ", position,
                        " does not follow its cached length ", length));
  }
  if (static_cast<size_t>(position) >= max_positions_) {
    throw Error(str_cat("sequence ", sequence_id, ": position ", position,
                        " exceeds the context length ", max_positions_));
  }
  const size_t offset = static_cast<size_t>(position) * kv_width_;
  if (type_ == KvType::kF16) {
    rows.keys_f16.resize(offset + kv_width_);
    rows.values_f16.resize(offset + kv_width_);
    for (size_t i = 0; i < kv_width_; ++i) {
      rows.keys_f16[offset + i] = f32_to_f16(key[i]);
      rows.values_f16[offset + i] = f32_to_f16(value[i]);
    }
    return;
  }
  rows.keys.resize(offset);
  rows.values.resize(offset);
  rows.keys.insert(rows.keys.end(), key.begin(), key.end());
  rows.values.insert(rows.values.end(), value.begin(), value.end());
}

const KvCache::LayerRows* KvCache::find(size_t layer, int32_t sequence_id) const {
  TANDEM_CHECK(layer < layer_count_, "layer ", layer, " of ", layer_count_);
  auto it = sequences_.find(sequence_id);
  if (it == sequences_.end()) return nullptr;
  return &it->second[layer];
}

KvRows KvCache::keys(size_t layer, int32_t sequence_id) const {
  const LayerRows* rows = find(layer, sequence_id);
  if (rows == nullptr) return {};
  return type_ == KvType::kF16 ? KvRows{{}, rows->keys_f16} : KvRows{rows->keys, {}};
}

KvRows KvCache::values(size_t layer, int32_t sequence_id) const {
  const LayerRows* rows = find(layer, sequence_id);
  if (rows == nullptr) return {};
  return type_ == KvType::kF16 ? KvRows{{}, rows->values_f16} : KvRows{rows->values, {}};
}

size_t KvCache::length(size_t layer, int32_t sequence_id) const {
  const LayerRows* rows = find(layer, sequence_id);
  return rows ? rows->length(type_, kv_width_) : 0;
}

void KvCache::remove(int32_t sequence_id) {
  sequences_.erase(sequence_id);
  recurrent_.erase(sequence_id);
}

void KvCache::truncate(int32_t sequence_id, size_t length) {
  if (recurrent_floats_ > 0) {
    size_t current = 0;
    for (size_t layer = 0; layer < layer_count_; ++layer) {
      current = std::max(current, this->length(layer, sequence_id));
    }
    if (length == 0) {
      recurrent_.erase(sequence_id);
    } else if (length < current) {
      throw Error(str_cat("sequence ", sequence_id, ": a recurrent state cannot be rewound from ",
                          current, " to ", length, " positions"));
    }
  }
  auto it = sequences_.find(sequence_id);
  if (it == sequences_.end()) return;
  for (LayerRows& rows : it->second) {
    const size_t keep = std::min(rows.length(type_, kv_width_), length) * kv_width_;
    if (type_ == KvType::kF16) {
      rows.keys_f16.resize(keep);
      rows.values_f16.resize(keep);
    } else {
      rows.keys.resize(keep);
      rows.values.resize(keep);
    }
  }
}

}  // namespace tandem
