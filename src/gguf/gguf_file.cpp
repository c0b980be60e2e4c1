#include "gguf/gguf_file.h"

#include <cstring>
#include <limits>

#include "platform/error.h"

namespace tandem {

uint64_t TensorInfo::element_count() const {
  uint64_t count = 1;
  for (int64_t d : shape) count *= static_cast<uint64_t>(d);
  return count;
}

// Reads a GGUF header from a byte span. Every read is bounds-checked; every count is
// checked against the bytes that remain, so a hostile file cannot make us allocate
// more than a small multiple of its own size.
class GgufParser {
 public:
  GgufParser(std::span<const uint8_t> bytes, const std::string& name)
      : bytes_(bytes), name_(name) {}

  void parse_into(GgufFile& file) {
    file.name_ = name_;
    file.file_size_ = bytes_.size();
    const uint32_t magic = read_u32("magic");
    if (magic != kGgufMagic) fail(0, "magic", "not a GGUF file (bad magic)");
    const uint64_t version_at = position_;
    file.version_ = read_u32("version");
    if (file.version_ != 2 && file.version_ != 3) {
      fail(version_at, "version",
           str_cat("unsupported GGUF version ", file.version_, " (need 2 or 3)"));
    }
    const uint64_t tensor_count_at = position_;
    const uint64_t tensor_count = read_u64("tensor_count");
    const uint64_t kv_count_at = position_;
    const uint64_t kv_count = read_u64("kv_count");
    // A key-value pair needs at least 8 (key length) + 4 (type) + 1 bytes.
    if (kv_count > remaining() / 13) {
      fail(kv_count_at, "kv_count", str_cat(kv_count, " key-value pairs cannot fit in the file"));
    }
    // A tensor info needs at least 8 (name length) + 4 (dims) + 4 (type) + 8 (offset).
    if (tensor_count > remaining() / 24) {
      fail(tensor_count_at, "tensor_count",
           str_cat(tensor_count, " tensors cannot fit in the file"));
    }

    file.metadata_.reserve(kv_count);
    for (uint64_t i = 0; i < kv_count; ++i) {
      const uint64_t key_at = position_;
      std::string key = read_string("metadata key");
      if (key.empty()) fail(key_at, "metadata key", "empty key");
      if (file.metadata_index_.count(key) != 0) fail(key_at, key, "duplicate key");
      const uint64_t type_at = position_;
      const uint32_t type = read_u32(key);
      if (!is_valid_value_type(type)) fail(type_at, key, str_cat("unknown value type ", type));
      GgufValue value = read_value(static_cast<GgufValueType>(type), key, 0);
      file.metadata_index_.emplace(key, file.metadata_.size());
      file.metadata_.emplace_back(std::move(key), std::move(value));
    }

    if (const GgufValue* alignment = file.find("general.alignment")) {
      if (!alignment->is_integer() || alignment->as_int() <= 0 ||
          (alignment->as_int() & (alignment->as_int() - 1)) != 0 ||
          alignment->as_int() > (1 << 20)) {
        fail(0, "general.alignment", "must be a power of two up to 1 MiB");
      }
      file.alignment_ = static_cast<uint64_t>(alignment->as_int());
    }

    file.tensors_.reserve(tensor_count);
    for (uint64_t i = 0; i < tensor_count; ++i) file.tensors_.push_back(read_tensor_info(file));

    const uint64_t header_end = position_;
    file.data_offset_ = align_up(header_end, file.alignment_);
    if (tensor_count > 0 && file.data_offset_ > bytes_.size()) {
      fail(header_end, "data section", "file ends before the tensor data");
    }
    for (auto& tensor : file.tensors_) {
      const uint64_t available =
          bytes_.size() - std::min<uint64_t>(bytes_.size(), file.data_offset_);
      if (tensor.offset > available || tensor.bytes > available - tensor.offset) {
        fail(file.data_offset_ + std::min(tensor.offset, available), tensor.name,
             str_cat("tensor data [", tensor.offset, ", +", tensor.bytes,
                     ") lies outside the file (", available, " data bytes)"));
      }
      tensor.data = bytes_.subspan(file.data_offset_ + tensor.offset, tensor.bytes);
    }
  }

 private:
  [[noreturn]] void fail(uint64_t offset, std::string_view field, std::string_view what) const {
    throw Error(str_cat(name_, ": ", field, " at offset ", offset, ": ", what));
  }

  uint64_t remaining() const { return bytes_.size() - position_; }

  static uint64_t align_up(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) / alignment * alignment;
  }

  void need(uint64_t count, std::string_view field) const {
    if (count > remaining()) {
      fail(position_, field,
           str_cat("needs ", count, " bytes but the file ends after ", remaining()));
    }
  }

  template <typename T>
  T read_scalar(std::string_view field) {
    need(sizeof(T), field);
    T value;
    std::memcpy(&value, bytes_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return value;
  }
  uint32_t read_u32(std::string_view field) { return read_scalar<uint32_t>(field); }
  uint64_t read_u64(std::string_view field) { return read_scalar<uint64_t>(field); }

  std::string read_string(std::string_view field) {
    const uint64_t at = position_;
    const uint64_t length = read_u64(field);
    if (length > remaining()) {
      fail(at, field, str_cat("string of ", length, " bytes runs past the end of the file"));
    }
    std::string out(reinterpret_cast<const char*>(bytes_.data() + position_), length);
    position_ += length;
    return out;
  }

  static uint64_t min_encoded_size(GgufValueType type) {
    switch (type) {
      case GgufValueType::kUint8:
      case GgufValueType::kInt8:
      case GgufValueType::kBool:
        return 1;
      case GgufValueType::kUint16:
      case GgufValueType::kInt16:
        return 2;
      case GgufValueType::kUint32:
      case GgufValueType::kInt32:
      case GgufValueType::kFloat32:
        return 4;
      case GgufValueType::kString:
      case GgufValueType::kUint64:
      case GgufValueType::kInt64:
      case GgufValueType::kFloat64:
        return 8;
      case GgufValueType::kArray:
        return 12;
    }
    return 1;
  }

  GgufValue read_value(GgufValueType type, const std::string& key, int depth) {
    const uint64_t at = position_;
    switch (type) {
      case GgufValueType::kUint8:
        return GgufValue::of_uint(type, read_scalar<uint8_t>(key));
      case GgufValueType::kInt8:
        return GgufValue::of_int(type, read_scalar<int8_t>(key));
      case GgufValueType::kUint16:
        return GgufValue::of_uint(type, read_scalar<uint16_t>(key));
      case GgufValueType::kInt16:
        return GgufValue::of_int(type, read_scalar<int16_t>(key));
      case GgufValueType::kUint32:
        return GgufValue::of_uint(type, read_scalar<uint32_t>(key));
      case GgufValueType::kInt32:
        return GgufValue::of_int(type, read_scalar<int32_t>(key));
      case GgufValueType::kUint64:
        return GgufValue::of_uint(type, read_scalar<uint64_t>(key));
      case GgufValueType::kInt64:
        return GgufValue::of_int(type, read_scalar<int64_t>(key));
      case GgufValueType::kFloat32:
        return GgufValue::of_float(type, read_scalar<float>(key));
      case GgufValueType::kFloat64:
        return GgufValue::of_float(type, read_scalar<double>(key));
      case GgufValueType::kBool: {
        const uint8_t raw = read_scalar<uint8_t>(key);
        if (raw > 1) fail(at, key, str_cat("bool value ", int{raw}, " is neither 0 nor 1"));
        return GgufValue::of_bool(raw == 1);
      }
      case GgufValueType::kString:
        return GgufValue::of_string(read_string(key));
      case GgufValueType::kArray: {
        if (depth >= kMaxArrayDepth) fail(at, key, "arrays nested too deeply");
        const uint32_t element_type = read_u32(key);
        if (!is_valid_value_type(element_type)) {
          fail(at, key, str_cat("unknown array element type ", element_type));
        }
        const auto element = static_cast<GgufValueType>(element_type);
        const uint64_t count_at = position_;
        const uint64_t count = read_u64(key);
        if (count > remaining() / min_encoded_size(element)) {
          fail(count_at, key,
               str_cat("array of ", count, " ", value_type_name(element), " cannot fit in the ",
                       remaining(), " bytes left"));
        }
        GgufValue::Array items;
        items.reserve(count);
        for (uint64_t i = 0; i < count; ++i) items.push_back(read_value(element, key, depth + 1));
        return GgufValue::of_array(element, std::move(items));
      }
    }
    fail(at, key, "unknown value type");
  }

  TensorInfo read_tensor_info(GgufFile& file) {
    TensorInfo tensor;
    const uint64_t at = position_;
    tensor.name = read_string("tensor name");
    if (tensor.name.empty()) fail(at, "tensor name", "empty tensor name");
    if (file.tensor_index_.count(tensor.name) != 0) fail(at, tensor.name, "duplicate tensor name");
    const uint64_t dims_at = position_;
    const uint32_t dims = read_u32(tensor.name);
    if (dims == 0 || dims > kGgufMaxDims) {
      fail(dims_at, tensor.name, str_cat(dims, " dimensions (must be 1 to ", kGgufMaxDims, ")"));
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < dims; ++d) {
      const uint64_t dim_at = position_;
      const uint64_t extent = read_u64(tensor.name);
      if (extent == 0 || extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          elements > std::numeric_limits<int64_t>::max() / extent) {
        fail(dim_at, tensor.name, str_cat("dimension ", d, " = ", extent, " is zero or overflows"));
      }
      elements *= extent;
      tensor.shape.push_back(static_cast<int64_t>(extent));
    }
    const uint64_t type_at = position_;
    const uint32_t type_id = read_u32(tensor.name);
    const auto type = find_tensor_type(type_id);
    if (!type) fail(type_at, tensor.name, str_cat("unknown tensor type ", type_id));
    tensor.type = type->type;
    if (static_cast<uint64_t>(tensor.shape[0]) % type->block_elements != 0) {
      fail(type_at, tensor.name,
           str_cat("row length ", tensor.shape[0], " is not a multiple of the ", type->name,
                   " block size ", type->block_elements));
    }
    const uint64_t blocks = elements / type->block_elements;
    if (blocks > std::numeric_limits<uint64_t>::max() / type->block_bytes) {
      fail(type_at, tensor.name, "tensor byte size overflows");
    }
    tensor.bytes = blocks * type->block_bytes;
    const uint64_t offset_at = position_;
    tensor.offset = read_u64(tensor.name);
    if (tensor.offset % file.alignment_ != 0) {
      fail(offset_at, tensor.name,
           str_cat("data offset ", tensor.offset, " is not aligned to ", file.alignment_));
    }
    file.tensor_index_.emplace(tensor.name, file.tensors_.size());
    return tensor;
  }

  static constexpr int kMaxArrayDepth = 8;
  std::span<const uint8_t> bytes_;
  const std::string& name_;
  uint64_t position_ = 0;
};

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, std::string name) {
  GgufFile file;
  GgufParser(bytes, name).parse_into(file);
  return file;
}

GgufFile GgufFile::open(const std::string& path) {
  MappedFile mapping(path);
  GgufFile file = parse(mapping.bytes(), path);
  file.mapping_.emplace(std::move(mapping));
  return file;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = metadata_index_.find(std::string(key));
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace tandem
