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

// Row `row` of w as F32 (the embedding look-up).
void dequantize_weight_row(const WeightMatrix& w, size_t row, std::span<float> out);

}  // namespace tandem
