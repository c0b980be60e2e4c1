#pragma once
// Which tensor type each weight gets for a requested file type, following llama.cpp's
// llama-quantize (llama_tensor_get_type): 1-D tensors, norms, routers and ssm_conv1d stay
// F32; "pure" types use one type for every other tensor; Q4_K_M is llama.cpp's mix.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "model/synth/synth_spec.h"
#include "ops/tensor_type.h"

namespace tandem::synth {

enum class FileType { kF32, kF16, kBF16, kQ8_0, kQ4_K, kQ6_K, kQ4_K_M };

// "f32", "f16", "bf16", "q8_0", "q4_k", "q6_k", "q4_k_m" (any case).
std::optional<FileType> parse_file_type(std::string_view name);
std::string_view file_type_name(FileType type);
// general.file_type as llama.cpp numbers it (llama_ftype).
uint32_t llama_file_type(FileType type);

// The type of every tensor of `tensors` (in file order: the Q4_K_M mix counts attn_v-like
// and ffn_down tensors in the order llama-quantize visits them). `experts` is the
// expert count of the model (0 for dense).
std::vector<TensorType> choose_tensor_types(FileType file_type,
                                            const std::vector<SynthTensor>& tensors,
                                            uint32_t layers, uint32_t experts);

}  // namespace tandem::synth
