#pragma once
// FloatMatrix: an owning, row-major F32 matrix, the activation buffer of the forward
// pass (one row per token). Views into it are std::span rows. The data starts on a cache
// line: threads that write column strips of 16 floats (matmul tiles of 16 rows) then share
// no line.

#include <cstddef>
#include <span>
#include <vector>

#include "platform/cache_aligned_allocator.h"
#include "platform/error.h"

namespace tandem {

class FloatMatrix {
 public:
  FloatMatrix() = default;
  FloatMatrix(size_t rows, size_t cols) : rows_(rows), cols_(cols), data_(rows * cols, 0.0f) {}

  size_t rows() const { return rows_; }
  size_t cols() const { return cols_; }
  bool empty() const { return data_.empty(); }

  std::span<float> row(size_t i) {
    TANDEM_DCHECK(i < rows_, "row ", i, " of ", rows_);
    return {data_.data() + i * cols_, cols_};
  }
  std::span<const float> row(size_t i) const {
    TANDEM_DCHECK(i < rows_, "row ", i, " of ", rows_);
    return {data_.data() + i * cols_, cols_};
  }
  std::span<float> data() { return data_; }
  std::span<const float> data() const { return data_; }

  // Resizes to rows x cols; contents are zeroed.
  void reset(size_t rows, size_t cols) {
    rows_ = rows;
    cols_ = cols;
    data_.assign(rows * cols, 0.0f);
  }
  // Resizes to rows x cols for a writer that sets every element (a matrix product's
  // output): contents are unspecified until then, and no time goes to zeroing them.
  void resize_for_overwrite(size_t rows, size_t cols) {
    rows_ = rows;
    cols_ = cols;
    data_.resize(rows * cols);
  }

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  std::vector<float, CacheAlignedAllocator<float>> data_;
};

}  // namespace tandem
