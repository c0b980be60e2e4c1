#pragma once
// SIMD versions of the hottest quantized kernels, written with Highway; the best
// target for the CPU is chosen at run time (no -march flags needed). Each is tested
// against its scalar reference in ops/quant:
// - simd_quantize_row (Q8_0, Q8_K) gives the same bytes as quantize_row;
// - simd_vec_dot for Q8_0 gives the same float as vec_dot (same integer block sums,
//   same float order); for Q4_K / Q5_K / Q6_K the integer parts are equal and the float
//   scaling is summed per super-block (portable kernels) or in 8 F32 lanes reduced once
//   per row (AVX2) instead of in the scalar kernel's 8 lanes, so results agree with
//   vec_dot up to float rounding.

#include <cstddef>
#include <cstdint>
#include <span>

#include "ops/tensor_type.h"

namespace tandem {

// True for weight types with a SIMD dot product: Q8_0, Q4_K, Q5_K, Q6_K.
bool has_simd_vec_dot(TensorType weight_type);
// As vec_dot(); requires has_simd_vec_dot(weight_type).
float simd_vec_dot(TensorType weight_type, const void* weight_row, const void* activation_row,
                   size_t n);

// simd_vec_dot of one weight row with `count` activation rows at activations + i *
// activation_stride, into out[0 .. count): the same values (a tile of one weight row).
// Requires has_simd_vec_dot(weight_type).
void simd_vec_dot_tokens(TensorType weight_type, const void* weight_row, const uint8_t* activations,
                         size_t activation_stride, size_t count, size_t n, float* out);

// True for weight types with simd_vec_dot_tile: every type with simd_vec_dot.
bool has_simd_vec_dot_tile(TensorType weight_type);
// Dot products of `rows` weight rows at weights + r * weight_stride with `tokens`
// activation rows at activations + t * activation_stride:
// out[t * out_stride + r] = simd_vec_dot(row r, activation row t), the same values,
// computed in register blocks of several weight rows x several tokens.
void simd_vec_dot_tile(TensorType weight_type, const uint8_t* weights, size_t weight_stride,
                       size_t rows, const uint8_t* activations, size_t activation_stride,
                       size_t tokens, size_t n, float* out, size_t out_stride);

// True when this CPU has kernels for `weight_type` weights stored as panels
// (ops/quant/panels.h) that beat the row tiles: Q4_K, Q6_K and Q8_0 where AVX2 runs,
// or on ARM64 with the dot-product instructions (panels_dotprod.h).
bool has_simd_panel_dot(TensorType weight_type);
// simd_vec_dot_tile of `rows` weight rows stored as panels (rows a multiple of 8, the
// groups from `panels` on): out[t * out_stride + r], the same values as the row tile of
// the same rows. Any type with a panel layout runs (through rows unpacked one group at a
// time where the CPU has no panel kernel for it).
void simd_vec_dot_panels(TensorType weight_type, const uint8_t* panels, size_t rows,
                         const uint8_t* activations, size_t activation_stride, size_t tokens,
                         size_t n, float* out, size_t out_stride);

// Dot products of F16 or F32 weight rows with F32 activations (no activation rounding),
// summed in F32 in vector lanes: within n * 2^-24 * sum |w a| of the exact value.
bool has_simd_float_dot(TensorType weight_type);
float simd_float_dot(TensorType weight_type, const void* weight_row, const float* activations,
                     size_t n);

// y[i] += alpha * x[i] in F32 vector lanes (fused multiply-add where the CPU has it).
void simd_add_scaled(std::span<float> y, float alpha, std::span<const float> x);

// True for types with a SIMD quantizer: Q8_0, Q8_K.
bool has_simd_quantize(TensorType type);
// As quantize_row(); requires has_simd_quantize(type).
void simd_quantize_row(TensorType type, std::span<const float> in, void* dst);

}  // namespace tandem
