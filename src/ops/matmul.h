#pragma once
// Matrix products of a stored weight matrix with a batch of F32 activation rows:
// y[t] = W x[t], x: [tokens][W.cols], y: [tokens][W.rows].
//
// Two ways to compute it:
// - reference: each weight row is dequantized to F32 (dequantize_row) and dotted with
//   the F32 activations in double. This is the exact product of the dequantized
//   weights, the definition the fast path is measured against.
// - fast: each activation row is first rounded to the format llama.cpp pairs with the
//   weight type (Q8_0, Q8_K, ...; fast_activation_type) and the products are the
//   block dot products of vec_dot. This is what llama.cpp's CPU backend computes.
// Both split the weight rows over the thread pool; results do not depend on the
// number of threads.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ops/float_matrix.h"
#include "ops/weight_matrix.h"
#include "platform/thread_pool.h"

namespace tandem {

enum class ComputeMode {
  kReference,  // F32 activations, dequantized weights, scalar kernels
  kFast,       // activations quantized as llama.cpp does, vec_dot kernels
};

// The format the fast path rounds activations to before vec_dot with weights of
// `weight_type`: llama.cpp's pairing (activation_type_for: Q8_0, Q8_K, ...) for quantized
// weights, F32 for F16 / BF16 weights, whose widening to F32 is exact. (Rounding the
// activations to F16 as well moves the logits no closer to llama.cpp's on x86, whose
// sgemm reads F32 activations for prompt batches.)
TensorType fast_activation_type(TensorType weight_type);

// y is resized to [x.rows()][w.rows].
void matmul_reference(const WeightMatrix& w, const FloatMatrix& x, FloatMatrix& y,
                      ThreadPool& pool);
void matmul_fast(const WeightMatrix& w, const FloatMatrix& x, FloatMatrix& y, ThreadPool& pool);
void matmul(ComputeMode mode, const WeightMatrix& w, const FloatMatrix& x, FloatMatrix& y,
            ThreadPool& pool);

// Activation rows quantized once for the fast path's dot products with weights of one
// type: [rows][stride] bytes in fast_activation_type(weight_type). Lets several
// products share one quantization of their input (q / k / v, the experts of a block).
struct PreparedRows {
  TensorType weight_type = TensorType::kF32;
  size_t rows = 0;
  size_t cols = 0;
  size_t stride = 0;  // bytes from one row to the next
  std::vector<uint8_t> bytes;
  const uint8_t* row(size_t r) const { return bytes.data() + r * stride; }
};

// True when the fast path quantizes activations for weights of `weight_type` (every
// quantized type with a vec_dot).
bool fast_path_quantizes(TensorType weight_type);

// Quantizes the rows of x for weights of `weight_type` (fast_path_quantizes must hold);
// rows are split over the pool when there are many.
void prepare_rows(TensorType weight_type, const FloatMatrix& x, PreparedRows& out,
                  ThreadPool& pool);
// One row as prepare_rows quantizes it, into out (prepared_row_bytes(weight_type, x.size())
// bytes), on the calling thread.
void prepare_row(TensorType weight_type, std::span<const float> x, uint8_t* out);
size_t prepared_row_bytes(TensorType weight_type, size_t cols);

// The fast-path products of weight rows [row_begin, row_end) with `tokens` prepared rows
// at activations + t * stride, on the calling thread:
// out[t * out_stride + (r - row_begin)] = row r . activation row t. The values equal
// matmul_fast's for the same rows and tokens, whatever the ranges.
void dot_weight_rows(const WeightMatrix& w, size_t row_begin, size_t row_end,
                     const uint8_t* activations, size_t stride, size_t tokens, float* out,
                     size_t out_stride);

// matmul_fast of several weight matrices with the same input x (q / k / v of attention)
// in one dispatch of the pool: ys[i] = ws[i] x. Inputs are quantized once per
// activation format.
void matmul_fast_shared_input(std::span<const WeightMatrix* const> ws, const FloatMatrix& x,
                              std::span<FloatMatrix* const> ys, ThreadPool& pool);

// Row `row` of w as F32 (the embedding look-up).
void dequantize_weight_row(const WeightMatrix& w, size_t row, std::span<float> out);

}  // namespace tandem
