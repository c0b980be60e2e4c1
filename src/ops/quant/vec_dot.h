#pragma once
// Scalar reference dot products of a weight row with an activation row, as llama.cpp's
// CPU backend computes them: the activations are first rounded to a format that
// matches the weights (activation_type_for), then each block's dot product is an
// integer sum scaled by the two block scales. The float operations follow ggml's
// scalar kernels in the same order, so results agree with llama.cpp's arithmetic.
// SIMD kernels are tested against these.

#include <cstddef>

#include "ops/tensor_type.h"

namespace tandem {

// The format activations are quantized to (with quantize_row) before vec_dot with
// weights of `weight_type`: Q8_0 for Q4_0 / Q5_0 / Q8_0, Q8_1 for Q4_1 / Q5_1, Q8_K for
// Q4_K / Q5_K / Q6_K, and the weight type itself for F32, F16 and BF16.
TensorType activation_type_for(TensorType weight_type);

// True when vec_dot supports weights of `weight_type`.
bool has_vec_dot(TensorType weight_type);

// Dot product of n elements: weight_row holds row_bytes(weight_type, n) bytes,
// activation_row row_bytes(activation_type_for(weight_type), n) bytes. n must be a
// multiple of both block sizes.
float vec_dot(TensorType weight_type, const void* weight_row, const void* activation_row, size_t n);

}  // namespace tandem
