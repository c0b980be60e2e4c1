#include "ops/matmul.h"

#include <algorithm>
#include <atomic>

#include "ops/quant/dequantize.h"
#include "ops/quant/quantize.h"
#include "ops/quant/simd/quant_simd.h"
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

namespace {

// A dot product of one weight row with one prepared activation row (quantized bytes, or
// F32 values for float weights).
using RowDot = float (*)(TensorType type, const void* weight_row, const void* activation_row,
                         size_t n);

float float_dot(TensorType type, const void* weight_row, const void* activation_row, size_t n) {
  return simd_float_dot(type, weight_row, static_cast<const float*>(activation_row), n);
}

// Work split of the fast path. Weight rows go in tiles of kRowTile, taken by workers
// from a shared counter, so a worker slowed by other load on the machine does not hold
// the others back. Within a tile, tokens go in groups of kTokenTile: the tile's weight
// rows (kRowTile rows, a few KiB to tens of KiB) stay in L1/L2 while the group's
// activation rows (kTokenTile quantized rows, up to ~150 KiB) stay in L2, so each
// weight byte is fetched from memory once per matmul however many tokens there are.
constexpr size_t kRowTile = 16;
constexpr size_t kTokenTile = 64;
// Products of fewer multiply-adds than this (tens of microseconds on one core) run on the
// calling thread: waking a helper can cost more than the work, above all on a loaded
// machine where the helper must first be scheduled.
constexpr size_t kMinParallelWork = size_t{1} << 19;

}  // namespace

void matmul_fast(const WeightMatrix& w, const FloatMatrix& x, FloatMatrix& y, ThreadPool& pool) {
  check_shapes(w, x);
  y.reset(x.rows(), w.rows);
  const size_t tokens = x.rows();
  const TensorType activation_type = fast_activation_type(w.type);
  if (activation_type == TensorType::kF32 && !has_simd_float_dot(w.type)) {
    // Half-precision weights with F32 activations: the weights widen exactly, so this is
    // the reference product.
    matmul_reference(w, x, y, pool);
    return;
  }
  // Prepared activations: [tokens][activation_bytes], quantized once per matmul (F32
  // rows are read in place).
  const size_t activation_bytes = row_bytes(activation_type, w.cols);
  std::vector<uint8_t> quantized;
  const uint8_t* activations = reinterpret_cast<const uint8_t*>(x.data().data());
  RowDot dot = float_dot;
  if (activation_type != TensorType::kF32) {
    quantized.resize(tokens * activation_bytes);
    const bool simd_quantize = has_simd_quantize(activation_type);
    pool.parallel_for(tokens, [&](size_t begin, size_t end, size_t) {
      for (size_t t = begin; t < end; ++t) {
        uint8_t* out = quantized.data() + t * activation_bytes;
        if (simd_quantize) {
          simd_quantize_row(activation_type, x.row(t), out);
        } else {
          quantize_row(activation_type, x.row(t), out);
        }
      }
    });
    activations = quantized.data();
    dot = has_simd_vec_dot(w.type) ? simd_vec_dot : vec_dot;
  }
  const size_t activation_stride =
      activation_type == TensorType::kF32 ? x.cols() * sizeof(float) : activation_bytes;
  TANDEM_CHECK(activation_type != TensorType::kF32 || x.cols() == w.cols, "activation width");

  const size_t tiles = (w.rows + kRowTile - 1) / kRowTile;
  std::atomic<size_t> next_tile{0};
  const bool several_tokens = activation_type != TensorType::kF32 && has_simd_vec_dot(w.type);
  const auto run_tiles = [&](size_t, size_t, size_t) {
    float results[kTokenTile];  // one weight row with the tokens of a group
    for (size_t tile = next_tile.fetch_add(1); tile < tiles; tile = next_tile.fetch_add(1)) {
      const size_t row_begin = tile * kRowTile;
      const size_t row_end = std::min(w.rows, row_begin + kRowTile);
      for (size_t t0 = 0; t0 < tokens; t0 += kTokenTile) {
        const size_t t1 = std::min(tokens, t0 + kTokenTile);
        for (size_t r = row_begin; r < row_end; ++r) {
          const uint8_t* weight_row = w.row_data(r);
          if (several_tokens) {
            simd_vec_dot_tokens(w.type, weight_row, activations + t0 * activation_stride,
                                activation_stride, t1 - t0, w.cols, results);
            for (size_t t = t0; t < t1; ++t) y.row(t)[r] = results[t - t0];
            continue;
          }
          for (size_t t = t0; t < t1; ++t) {
            y.row(t)[r] = dot(w.type, weight_row, activations + t * activation_stride, w.cols);
          }
        }
      }
    }
  };
  if (tiles == 1 || tokens * w.rows * w.cols < kMinParallelWork) {
    run_tiles(0, 1, 0);
  } else {
    pool.run_on_all(run_tiles);
  }
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
