#pragma once
// WeightMatrix: a view of a 2-D weight tensor stored in a model file (usually the
// mmap). Row r holds `cols` elements of `type` at bytes[r * row_stride ...]; the
// matrix maps a cols-vector to a rows-vector (y = W x), as ggml's mul_mat does with
// a tensor of shape ne = [cols, rows]. In the panel layout (ops/quant/panels.h) the
// bytes of each group of 8 rows are reordered for the SIMD kernels; such a matrix has no
// row views (row_data) and is read through the products and dequantize_weight_row.

#include <cstddef>
#include <cstdint>
#include <span>

#include "ops/tensor_type.h"
#include "platform/error.h"

namespace tandem {

enum class WeightLayout : uint8_t {
  kRows,    // row r at bytes[r * row_stride ...]
  kPanels,  // groups of 8 rows as pack_panels wrote them (row_stride still bytes per row)
};

struct WeightMatrix {
  TensorType type = TensorType::kF32;
  size_t rows = 0;
  size_t cols = 0;
  size_t row_stride = 0;           // bytes from one row to the next
  std::span<const uint8_t> bytes;  // rows * row_stride bytes, not owned
  WeightLayout layout = WeightLayout::kRows;

  bool empty() const { return rows == 0; }
  const uint8_t* row_data(size_t r) const {
    TANDEM_DCHECK(r < rows, "row ", r, " of ", rows);
    TANDEM_DCHECK(layout == WeightLayout::kRows, "row view of a panel matrix");
    return bytes.data() + r * row_stride;
  }
  // Rows [first, first + count) as a matrix of their own (an expert of a stacked tensor);
  // whole groups of 8 rows in the panel layout.
  WeightMatrix slice_rows(size_t first, size_t count) const {
    TANDEM_CHECK(first + count <= rows, "rows ", first, "+", count, " of ", rows);
    TANDEM_CHECK(layout == WeightLayout::kRows || (first % 8 == 0 && count % 8 == 0), "rows ",
                 first, "+", count, " cut a group of 8 panel rows");
    return {type,  count, cols, row_stride, bytes.subspan(first * row_stride, count * row_stride),
            layout};
  }
};

}  // namespace tandem
