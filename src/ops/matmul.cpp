#include "ops/matmul.h"

#include <algorithm>
#include <atomic>

#include "ops/quant/dequantize.h"
#include "ops/quant/panels.h"
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

// Row r of w in the row layout: its bytes in place, or unpacked from panels into buffer.
const uint8_t* row_in_rows(const WeightMatrix& w, size_t r, std::vector<uint8_t>& buffer) {
  if (w.layout == WeightLayout::kRows) return w.row_data(r);
  buffer.resize(row_bytes(w.type, w.cols));
  unpack_panel_row(w.type, w.cols, w.bytes, r, buffer);
  return buffer.data();
}

}  // namespace

void dequantize_weight_row(const WeightMatrix& w, size_t row, std::span<float> out) {
  TANDEM_CHECK(out.size() == w.cols, "row of ", w.cols, " into ", out.size());
  std::vector<uint8_t> buffer;
  dequantize_row(w.type, row_in_rows(w, row, buffer), out);
}

void matmul_reference(const WeightMatrix& w, const FloatMatrix& x, FloatMatrix& y,
                      ThreadPool& pool) {
  check_shapes(w, x);
  y.resize_for_overwrite(x.rows(), w.rows);  // every element is written below
  const size_t tokens = x.rows();
  pool.parallel_for(
      w.rows,
      [&](size_t begin, size_t end, size_t) {
        std::vector<float> weights(w.cols);  // one dequantized weight row
        std::vector<uint8_t> unpacked;
        for (size_t r = begin; r < end; ++r) {
          dequantize_row(w.type, row_in_rows(w, r, unpacked), weights);
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

// Work split of the fast path. Weight rows go in tiles of kRowTile, taken by workers
// from a shared counter, so a worker slowed by other load on the machine does not hold
// the others back. Within a tile, tokens go in groups of kTokenTile: the tile's weight
// rows (kRowTile rows, a few KiB to tens of KiB) stay in L1/L2 while the group's
// activation rows (kTokenTile quantized rows, up to ~150 KiB) stay in L2, so each
// weight byte is fetched from memory once per matmul however many tokens there are.
constexpr size_t kRowTile = 16;
constexpr size_t kTokenTile = 64;
// With few tokens a tile of kRowTile rows is a microsecond or two of work, and the
// counter step (a cache line passed between cores), the call into the kernel and the
// restart of its prefetch stream cost a tenth of that: such tiles grow to about
// kTileWork multiply-adds, up to kMaxRowTile rows, while leaving every worker
// kTilesPerWorker tiles to even out (measured at one token: 16 -> 256 rows, decode
// +13%).
constexpr size_t kTileWork = size_t{1} << 20;
constexpr size_t kMaxRowTile = 256;
constexpr size_t kTilesPerWorker = 4;

// Rows per tile of a product of `tokens` rows of `cols` with `rows` weight rows in all.
size_t row_tile(size_t rows, size_t cols, size_t tokens, size_t workers) {
  size_t tile = kTileWork / std::max<size_t>(1, tokens * cols);
  tile = std::min(tile, rows / (workers * kTilesPerWorker));
  tile = std::min(tile, kMaxRowTile) / kRowTile * kRowTile;
  return std::max(tile, kRowTile);
}
// Products of fewer multiply-adds than this (tens of microseconds on one core) run on the
// calling thread: waking a helper can cost more than the work, above all on a loaded
// machine where the helper must first be scheduled.
constexpr size_t kMinParallelWork = size_t{1} << 19;
// ... unless their weights are at least this many bytes: with few tokens a product streams
// its weights from memory, and a wide type makes few multiply-adds a long stream (a MoE
// router's 64 x 2048 F32 rows: 512 KiB, about 20 microseconds on one core).
constexpr size_t kMinParallelBytes = size_t{1} << 18;

}  // namespace

bool fast_path_quantizes(TensorType weight_type) {
  return fast_activation_type(weight_type) != TensorType::kF32 && has_vec_dot(weight_type);
}

void prepare_rows(TensorType weight_type, const FloatMatrix& x, PreparedRows& out,
                  ThreadPool& pool) {
  TANDEM_CHECK(fast_path_quantizes(weight_type), "no quantized activations for ",
               type_name(weight_type));
  out.weight_type = weight_type;
  out.rows = x.rows();
  out.cols = x.cols();
  out.stride = prepared_row_bytes(weight_type, x.cols());
  out.bytes.resize(out.rows * out.stride);
  // Rows are quantized in chunks of 8: one row is a few microseconds of work.
  pool.parallel_for(
      x.rows(),
      [&](size_t begin, size_t end, size_t) {
        for (size_t t = begin; t < end; ++t) {
          prepare_row(weight_type, x.row(t), out.bytes.data() + t * out.stride);
        }
      },
      8);
}

size_t prepared_row_bytes(TensorType weight_type, size_t cols) {
  return row_bytes(fast_activation_type(weight_type), cols);
}

void prepare_row(TensorType weight_type, std::span<const float> x, uint8_t* out) {
  const TensorType activation_type = fast_activation_type(weight_type);
  if (has_simd_quantize(activation_type)) {
    simd_quantize_row(activation_type, x, out);
  } else {
    quantize_row(activation_type, x, out);
  }
}

void dot_weight_rows(const WeightMatrix& w, size_t row_begin, size_t row_end,
                     const uint8_t* activations, size_t stride, size_t tokens, float* out,
                     size_t out_stride) {
  if (w.layout == WeightLayout::kPanels) {
    // Whole groups of 8 rows (row tiles and expert items are multiples of 16), stored
    // one after another as pack_panels writes them.
    TANDEM_CHECK(row_begin % kPanelRows == 0 && row_end % kPanelRows == 0, "rows ", row_begin, "..",
                 row_end, " cut a group of panel rows");
    TANDEM_CHECK(w.row_stride == row_bytes(w.type, w.cols), "panel rows ", w.row_stride,
                 " bytes apart");
    for (size_t t0 = 0; t0 < tokens; t0 += kTokenTile) {
      const size_t count = std::min(tokens, t0 + kTokenTile) - t0;
      simd_vec_dot_panels(w.type, w.bytes.data() + row_begin * w.row_stride, row_end - row_begin,
                          activations + t0 * stride, stride, count, w.cols, out + t0 * out_stride,
                          out_stride);
    }
    return;
  }
  if (has_simd_vec_dot_tile(w.type)) {
    if (row_end == row_begin) return;
    // Register-blocked rows x tokens; token tiles of kTokenTile keep their activation
    // rows in L2 while the kernel passes over the rows.
    for (size_t t0 = 0; t0 < tokens; t0 += kTokenTile) {
      const size_t count = std::min(tokens, t0 + kTokenTile) - t0;
      simd_vec_dot_tile(w.type, w.row_data(row_begin), w.row_stride, row_end - row_begin,
                        activations + t0 * stride, stride, count, w.cols, out + t0 * out_stride,
                        out_stride);
    }
    return;
  }
  // Types without SIMD integer kernels: F16 / F32 weights with F32 activations, or the
  // scalar dot product; rows within token groups of kTokenTile as above.
  const bool float_activations = fast_activation_type(w.type) == TensorType::kF32;
  for (size_t t0 = 0; t0 < tokens; t0 += kTokenTile) {
    const size_t t1 = std::min(tokens, t0 + kTokenTile);
    for (size_t r = row_begin; r < row_end; ++r) {
      const uint8_t* weight_row = w.row_data(r);
      float* column = out + (r - row_begin);
      for (size_t t = t0; t < t1; ++t) {
        const uint8_t* activation = activations + t * stride;
        column[t * out_stride] =
            float_activations ? simd_float_dot(w.type, weight_row,
                                               reinterpret_cast<const float*>(activation), w.cols)
                              : vec_dot(w.type, weight_row, activation, w.cols);
      }
    }
  }
}

void matmul_fast_shared_input(std::span<const WeightMatrix* const> ws, const FloatMatrix& x,
                              std::span<FloatMatrix* const> ys, ThreadPool& pool) {
  TANDEM_CHECK(ws.size() == ys.size(), ws.size(), " matrices, ", ys.size(), " outputs");
  const size_t tokens = x.rows();
  // Per matrix: its prepared input (F32 rows are read in place), or none when the
  // reference product runs instead.
  std::vector<PreparedRows> prepared;
  prepared.reserve(ws.size());
  struct Input {
    const uint8_t* rows = nullptr;
    size_t stride = 0;
  };
  std::vector<Input> inputs(ws.size());
  std::vector<size_t> tile_ends;  // cumulative tile counts of the matrices run here
  size_t tiles = 0;
  size_t rows = 0;  // weight rows of the matrices run here
  size_t work = 0;
  size_t weight_bytes = 0;
  for (size_t i = 0; i < ws.size(); ++i) {
    const WeightMatrix& w = *ws[i];
    check_shapes(w, x);
    ys[i]->resize_for_overwrite(tokens, w.rows);  // the tiles cover every element
    if (fast_path_quantizes(w.type)) {
      const TensorType activation_type = fast_activation_type(w.type);
      const PreparedRows* shared = nullptr;
      for (const PreparedRows& p : prepared) {
        if (fast_activation_type(p.weight_type) == activation_type) shared = &p;
      }
      if (shared == nullptr) {
        prepare_rows(w.type, x, prepared.emplace_back(), pool);
        shared = &prepared.back();
      }
      inputs[i] = {shared->bytes.data(), shared->stride};
    } else if (has_simd_float_dot(w.type)) {
      inputs[i] = {reinterpret_cast<const uint8_t*>(x.data().data()), x.cols() * sizeof(float)};
    } else {
      // Half-precision weights without a SIMD kernel: the weights widen exactly, so this
      // is the reference product.
      matmul_reference(w, x, *ys[i], pool);
    }
    if (inputs[i].rows != nullptr) {
      rows += w.rows;
      work += tokens * w.rows * w.cols;
      weight_bytes += w.rows * row_bytes(w.type, w.cols);
    }
  }
  const size_t tile_rows = row_tile(rows, x.cols(), tokens, pool.size());
  for (size_t i = 0; i < ws.size(); ++i) {
    if (inputs[i].rows != nullptr) tiles += (ws[i]->rows + tile_rows - 1) / tile_rows;
    tile_ends.push_back(tiles);
  }
  std::atomic<size_t> next_tile{0};
  const auto run_tiles = [&](size_t, size_t, size_t) {
    size_t matrix = 0;
    for (size_t tile = next_tile.fetch_add(1); tile < tiles; tile = next_tile.fetch_add(1)) {
      while (tile >= tile_ends[matrix]) ++matrix;
      const WeightMatrix& w = *ws[matrix];
      const size_t first_tile = matrix == 0 ? 0 : tile_ends[matrix - 1];
      const size_t row_begin = (tile - first_tile) * tile_rows;
      const size_t row_end = std::min(w.rows, row_begin + tile_rows);
      FloatMatrix& y = *ys[matrix];
      dot_weight_rows(w, row_begin, row_end, inputs[matrix].rows, inputs[matrix].stride, tokens,
                      y.data().data() + row_begin, y.cols());
    }
  };
  if (tiles == 0) return;
  if (tiles == 1 || (work < kMinParallelWork && weight_bytes < kMinParallelBytes)) {
    run_tiles(0, 1, 0);
  } else {
    pool.run_on_all(run_tiles);
  }
}

void matmul_fast(const WeightMatrix& w, const FloatMatrix& x, FloatMatrix& y, ThreadPool& pool) {
  const WeightMatrix* ws[] = {&w};
  FloatMatrix* ys[] = {&y};
  matmul_fast_shared_input(ws, x, ys, pool);
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
