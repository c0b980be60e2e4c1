#pragma once
// One GGUF file (v2 or v3), memory-mapped and validated. Tensor data are zero-copy
// views into the mapping. Every field is checked against the file size before it is
// trusted; a bad file throws tandem::Error naming the file, the field and the offset.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gguf/gguf_value.h"
#include "ops/tensor_type.h"
#include "platform/mapped_file.h"

namespace tandem {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint64_t kGgufDefaultAlignment = 32;
inline constexpr size_t kGgufMaxDims = 4;

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::kF32;
  // ggml order: shape[0] is the contiguous row length, shape[1] the number of rows, ...
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // from the start of the file's data section
  uint64_t bytes = 0;
  std::span<const uint8_t> data;  // view into the mapping (empty when parsed headers-only)
  uint32_t file_index = 0;        // which file of a split model holds it
  // `data` holds the tensor in the panel layout of ops/quant/panels.h, not the file's
  // (ModelFile::copy_tensors_to_memory with TensorLayouts::kPanels).
  bool panels = false;

  uint64_t element_count() const;
  int64_t dim(size_t i) const { return i < shape.size() ? shape[i] : 1; }
  int64_t row_length() const { return dim(0); }
  uint64_t row_count() const { return element_count() / static_cast<uint64_t>(dim(0)); }
};

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

class GgufFile {
 public:
  // Maps and parses the file at `path`.
  static GgufFile open(const std::string& path);
  // Parses bytes someone else owns (they must outlive the result). `name` is used in errors.
  static GgufFile parse(std::span<const uint8_t> bytes, std::string name);

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return file_size_; }
  const GgufMetadata& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  std::vector<TensorInfo>& mutable_tensors() { return tensors_; }

  const GgufValue* find(std::string_view key) const;
  const TensorInfo* find_tensor(std::string_view name) const;
  const MappedFile* mapping() const { return mapping_ ? &*mapping_ : nullptr; }

 private:
  GgufFile() = default;
  friend class GgufParser;

  std::string name_;
  std::optional<MappedFile> mapping_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  uint64_t file_size_ = 0;
  GgufMetadata metadata_;
  std::unordered_map<std::string, size_t> metadata_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace tandem
