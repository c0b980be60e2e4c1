#pragma once
// Reference quantizers: F32 rows to a block format. Round trips through
// dequantize_row() stay within the format's quantization step.

#include <cstdint>
#include <span>

#include "ops/tensor_type.h"

namespace tandem {

// True when quantize_row() supports `type`.
bool can_quantize(TensorType type);

// Quantizes `in.size()` floats (a multiple of the block size) into row_bytes(type, n)
// bytes at dst.
void quantize_row(TensorType type, std::span<const float> in, void* dst);

}  // namespace tandem
