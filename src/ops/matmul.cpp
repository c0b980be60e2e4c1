#include "ops/matmul.h"

#include "ops/quant/dequantize.h"
#include "ops/quant/quantize.h"
#include "ops/quant/vec_dot.h"

namespace tandem {
namespace {

// Weight rows handed to one worker at a time: enough to amortize the dispatch.
constexpr size_t kMinRowsPerTask = 16;

void check_shapes(const WeightMatrix& w, const FloatMatrix& x) {
  TANDEM_CHECK(x.cols() == w.cols, "matmul of a ", w.rows, "x", w.cols, " matrix with rows of ",
               x.cols());
  TANDEM_CHECK(w.row_stride >= row_bytes(w.type, w.cols), "row stride ", w.row_stride);
}

// F32 dot product with kLanes interleaved partial sums (the shape of a SIMD
// accumulator, which compilers vectorize), combined in double at the end.
float dot_f32(std::span<const float> a, std::span<const float> b) {
  constexpr size_t kLanes = 16;
  float partial[kLanes] = {};
  const size_t n = a.size();
  const size_t whole = n - n % kLanes;
  for (size_t i = 0; i < whole; i += kLanes) {
    for (size_t lane = 0; lane < kLanes; ++lane) partial[lane] += a[i + lane] * b[i + lane];
  }
  double sum = 0.0;
  for (size_t lane = 0; lane < kLanes; ++lane) sum += partial[lane];
  for (size_t i = whole; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(sum);
}

}  // namespace

void dequantize_weight_row(const WeightMatrix& w, size_t row, std::span<float> out) {
  TANDEM_CHECK(out.size() == w.cols, "row of ", w.cols, " into ", out.size());
  dequantize_row(w.type, w.row_data(row), out);
}

void matmul_reference(const WeightMatrix& w, const FloatMatrix& x, FloatMatrix& y,
                      ThreadPool& pool) {
  check_shapes(w, x);
  y.reset(x.rows(), w.rows);
  const size_t tokens = x.rows();
  pool.parallel_for(
      w.rows,
      [&](size_t begin, size_t end, size_t) {
        std::vector<float> weights(w.cols);  // one dequantized weight row
        for (size_t r = begin; r < end; ++r) {
          dequantize_row(w.type, w.row_data(r), weights);
          for (size_t t = 0; t < tokens; ++t) {
            y.row(t)[r] = dot_f32(weights, x.row(t));
          }
        }
      },
      kMinRowsPerTask);
}

TensorType fast_activation_type(TensorType weight_type) {
  if (weight_type == TensorType::kF16 || weight_type == TensorType::kBF16) return TensorType::kF32;
  return activation_type_for(weight_type);
}

void matmul_fast(const WeightMatrix& w, const FloatMatrix& x, FloatMatrix& y, ThreadPool& pool) {
  check_shapes(w, x);
  y.reset(x.rows(), w.rows);
  const size_t tokens = x.rows();
  const TensorType activation_type = fast_activation_type(w.type);
  if (activation_type == TensorType::kF32 && w.type != TensorType::kF32) {
    // Half-precision weights with F32 activations: the weights widen exactly, so this is
    // the reference product.
    matmul_reference(w, x, y, pool);
    return;
  }
  const size_t activation_bytes = row_bytes(activation_type, w.cols);
  // Quantized activations: [tokens][activation_bytes].
  std::vector<uint8_t> quantized(tokens * activation_bytes);
  pool.parallel_for(tokens, [&](size_t begin, size_t end, size_t) {
    for (size_t t = begin; t < end; ++t) {
      quantize_row(activation_type, x.row(t), quantized.data() + t * activation_bytes);
    }
  });
  pool.parallel_for(
      w.rows,
      [&](size_t begin, size_t end, size_t) {
        for (size_t r = begin; r < end; ++r) {
          const uint8_t* weight_row = w.row_data(r);
          for (size_t t = 0; t < tokens; ++t) {
            y.row(t)[r] =
                vec_dot(w.type, weight_row, quantized.data() + t * activation_bytes, w.cols);
          }
        }
      },
      kMinRowsPerTask);
}

void matmul(ComputeMode mode, const WeightMatrix& w, const FloatMatrix& x, FloatMatrix& y,
            ThreadPool& pool) {
  if (mode == ComputeMode::kReference) {
    matmul_reference(w, x, y, pool);
  } else {
    matmul_fast(w, x, y, pool);
  }
}

}  // namespace tandem
