#pragma once
// Scalar reference dequantizers: one row of a quantized tensor to F32. These define
// the formats (they follow ggml's block layouts bit for bit); fast kernels are
// tested against them.

#include <cstdint>
#include <span>

#include "ops/tensor_type.h"

namespace tandem {

// Dequantizes `out.size()` elements stored as `type` at `src` (whole blocks) into out.
// Requires traits(type).can_dequantize.
void dequantize_row(TensorType type, const void* src, std::span<float> out);

}  // namespace tandem
