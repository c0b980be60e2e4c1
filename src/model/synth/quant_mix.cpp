#include "model/synth/quant_mix.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>

#include "platform/error.h"

namespace tandem::synth {
namespace {

enum class Category {
  kOutput,
  kTokenEmbd,
  kAttnQkv,
  kAttnV,
  kAttnK,
  kAttnQ,
  kAttnOutput,
  kFfnUp,
  kFfnGate,
  kFfnDown,
  kOther
};

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// llama-quantize's tensor categories, matched on the name as it does.
Category category_of(const std::string& name) {
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight") return Category::kTokenEmbd;
  if (contains(name, "attn_qkv.weight")) return Category::kAttnQkv;
  if (contains(name, "attn_v.weight")) return Category::kAttnV;
  if (contains(name, "attn_k.weight")) return Category::kAttnK;
  if (contains(name, "attn_q.weight")) return Category::kAttnQ;
  if (contains(name, "attn_output.weight")) return Category::kAttnOutput;
  if (contains(name, "ffn_up")) return Category::kFfnUp;
  if (contains(name, "ffn_gate")) return Category::kFfnGate;
  if (contains(name, "ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

// Tensors llama-quantize leaves in their source type (F32 here).
bool allows_quantization(const SynthTensor& t) {
  const std::string& name = t.name;
  if (t.shape.size() < 2) return false;
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "weight") != 0) return false;
  if (contains(name, "_norm.weight")) return false;
  if (contains(name, "ffn_gate_inp.weight")) return false;
  if (contains(name, "ssm_conv1d")) return false;
  return true;
}

// Layers that get more bits in the K-quant mixes: the first and last eighth, and every
// third layer in between.
bool use_more_bits(int layer, int layers) {
  return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

int layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) {
    throw Error(str_cat("synth: cannot find the layer of tensor ", name));
  }
  return layer;
}

// The state llama-quantize carries from tensor to tensor.
struct MixState {
  int layers = 0;
  int experts = 0;
  bool tied = true;
  int attention_wv_count = 0;
  int attention_wv_seen = 0;
  int ffn_down_seen = 0;
};

TensorType q4_k_m_type(const SynthTensor& t, MixState& s) {
  const Category category = category_of(t.name);
  if (category == Category::kOutput || (s.tied && category == Category::kTokenEmbd)) {
    return t.shape[0] % 256 != 0 ? TensorType::kQ8_0 : TensorType::kQ6_K;
  }
  switch (category) {
    case Category::kAttnV:
    case Category::kAttnQkv: {
      TensorType type = TensorType::kQ4_K;
      if (use_more_bits(s.attention_wv_seen, s.attention_wv_count)) type = TensorType::kQ6_K;
      if (s.experts == 8) type = TensorType::kQ8_0;
      ++s.attention_wv_seen;
      return type;
    }
    case Category::kAttnK:
      return s.experts == 8 ? TensorType::kQ8_0 : TensorType::kQ4_K;
    case Category::kFfnDown: {
      const int layer = s.experts > 1 ? layer_of(t.name) : s.ffn_down_seen;
      ++s.ffn_down_seen;
      return use_more_bits(layer, s.layers) ? TensorType::kQ6_K : TensorType::kQ4_K;
    }
    case Category::kAttnOutput:
      return s.experts == 8 ? TensorType::kQ5_K : TensorType::kQ4_K;
    default:
      return TensorType::kQ4_K;
  }
}

// Rows that do not fit the block size fall back as llama-quantize's tensor_type_fallback.
TensorType fallback(const SynthTensor& t, TensorType type) {
  const int64_t row = t.shape[0];
  if (row % traits(type).block_elements == 0) return type;
  TensorType next;
  switch (type) {
    case TensorType::kQ4_K:
      next = TensorType::kQ5_0;
      break;
    case TensorType::kQ5_K:
      next = TensorType::kQ5_1;
      break;
    case TensorType::kQ6_K:
      next = TensorType::kQ8_0;
      break;
    default:
      throw Error(str_cat("synth: tensor ", t.name, " row length ", row, " does not fit ",
                          type_name(type), " blocks"));
  }
  return row % traits(next).block_elements == 0 ? next : TensorType::kF16;
}

TensorType base_type(FileType type) {
  switch (type) {
    case FileType::kF32:
      return TensorType::kF32;
    case FileType::kF16:
      return TensorType::kF16;
    case FileType::kBF16:
      return TensorType::kBF16;
    case FileType::kQ8_0:
      return TensorType::kQ8_0;
    case FileType::kQ4_K:
    case FileType::kQ4_K_M:
      return TensorType::kQ4_K;
    case FileType::kQ6_K:
      return TensorType::kQ6_K;
  }
  return TensorType::kF32;
}

bool is_block_quantized(TensorType type) { return traits(type).block_elements > 1; }

}  // namespace

std::optional<FileType> parse_file_type(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  for (FileType t : {FileType::kF32, FileType::kF16, FileType::kBF16, FileType::kQ8_0,
                     FileType::kQ4_K, FileType::kQ6_K, FileType::kQ4_K_M}) {
    if (file_type_name(t) == lower) return t;
  }
  return std::nullopt;
}

std::string_view file_type_name(FileType type) {
  switch (type) {
    case FileType::kF32:
      return "f32";
    case FileType::kF16:
      return "f16";
    case FileType::kBF16:
      return "bf16";
    case FileType::kQ8_0:
      return "q8_0";
    case FileType::kQ4_K:
      return "q4_k";
    case FileType::kQ6_K:
      return "q6_k";
    case FileType::kQ4_K_M:
      return "q4_k_m";
  }
  return "?";
}

uint32_t llama_file_type(FileType type) {
  switch (type) {
    case FileType::kF32:
      return 0;
    case FileType::kF16:
      return 1;
    case FileType::kQ8_0:
      return 7;
    // llama-quantize's "Q4_K" is Q4_K_M; a pure Q4_K file (--pure) keeps that number.
    case FileType::kQ4_K:
    case FileType::kQ4_K_M:
      return 15;
    case FileType::kQ6_K:
      return 18;
    case FileType::kBF16:
      return 32;
  }
  return 0;
}

std::vector<TensorType> choose_tensor_types(FileType file_type,
                                            const std::vector<SynthTensor>& tensors,
                                            uint32_t layers, uint32_t experts) {
  MixState state;
  state.layers = static_cast<int>(layers);
  state.experts = static_cast<int>(experts);
  for (const SynthTensor& t : tensors) {
    const Category category = category_of(t.name);
    if (category == Category::kOutput) state.tied = false;
    if (category == Category::kAttnV || category == Category::kAttnQkv) ++state.attention_wv_count;
  }
  const TensorType base = base_type(file_type);
  std::vector<TensorType> out;
  out.reserve(tensors.size());
  for (const SynthTensor& t : tensors) {
    if (!allows_quantization(t)) {
      out.push_back(TensorType::kF32);
      continue;
    }
    if (!is_block_quantized(base)) {
      out.push_back(base);
      continue;
    }
    const TensorType type = file_type == FileType::kQ4_K_M ? q4_k_m_type(t, state) : base;
    out.push_back(fallback(t, type));
  }
  return out;
}

}  // namespace tandem::synth
