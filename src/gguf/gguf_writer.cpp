#include "gguf/gguf_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "gguf/model_file.h"
#include "platform/error.h"

namespace tandem {
namespace {

constexpr uint32_t kGgufVersion = 3;

uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// Appends little-endian encodings to a byte vector (the header is small: metadata and
// tensor infos only, so it is built in memory).
class HeaderBuffer {
 public:
  template <typename T>
  void scalar(T value) {
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void string(const std::string& text) {
    scalar<uint64_t>(text.size());
    bytes_.insert(bytes_.end(), text.begin(), text.end());
  }
  void value(const std::string& key, const GgufValue& value) {
    switch (value.type) {
      case GgufValueType::kUint8:
        return scalar(static_cast<uint8_t>(unsigned_of(key, value)));
      case GgufValueType::kUint16:
        return scalar(static_cast<uint16_t>(unsigned_of(key, value)));
      case GgufValueType::kUint32:
        return scalar(static_cast<uint32_t>(unsigned_of(key, value)));
      case GgufValueType::kUint64:
        return scalar(unsigned_of(key, value));
      case GgufValueType::kInt8:
        return scalar(static_cast<int8_t>(signed_of(key, value)));
      case GgufValueType::kInt16:
        return scalar(static_cast<int16_t>(signed_of(key, value)));
      case GgufValueType::kInt32:
        return scalar(static_cast<int32_t>(signed_of(key, value)));
      case GgufValueType::kInt64:
        return scalar(signed_of(key, value));
      case GgufValueType::kFloat32:
        return scalar(static_cast<float>(float_of(key, value)));
      case GgufValueType::kFloat64:
        return scalar(float_of(key, value));
      case GgufValueType::kBool: {
        const auto* b = std::get_if<bool>(&value.data);
        if (b == nullptr) throw Error(str_cat("metadata ", key, ": bool value holds no bool"));
        return scalar<uint8_t>(*b ? 1 : 0);
      }
      case GgufValueType::kString: {
        const auto* s = std::get_if<std::string>(&value.data);
        if (s == nullptr) throw Error(str_cat("metadata ", key, ": string value holds no string"));
        return string(*s);
      }
      case GgufValueType::kArray: {
        const auto* items = std::get_if<GgufValue::Array>(&value.data);
        if (items == nullptr)
          throw Error(str_cat("metadata ", key, ": array value holds no array"));
        scalar(static_cast<uint32_t>(value.element_type));
        scalar<uint64_t>(items->size());
        for (const GgufValue& item : *items) {
          if (item.type != value.element_type) {
            throw Error(str_cat("metadata ", key, ": array of ",
                                value_type_name(value.element_type), " holds a ",
                                value_type_name(item.type)));
          }
          this->value(key, item);
        }
        return;
      }
    }
    throw Error(str_cat("metadata ", key, ": unknown value type"));
  }
  void pad_to(uint64_t alignment) { bytes_.resize(align_up(bytes_.size(), alignment), 0); }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  static uint64_t unsigned_of(const std::string& key, const GgufValue& value) {
    if (const auto* u = std::get_if<uint64_t>(&value.data)) return *u;
    throw Error(str_cat("metadata ", key, ": unsigned value holds no unsigned integer"));
  }
  static int64_t signed_of(const std::string& key, const GgufValue& value) {
    if (const auto* i = std::get_if<int64_t>(&value.data)) return *i;
    throw Error(str_cat("metadata ", key, ": signed value holds no signed integer"));
  }
  static double float_of(const std::string& key, const GgufValue& value) {
    if (const auto* d = std::get_if<double>(&value.data)) return *d;
    throw Error(str_cat("metadata ", key, ": float value holds no float"));
  }

  std::vector<uint8_t> bytes_;
};

}  // namespace

uint64_t GgufTensorDecl::bytes() const {
  uint64_t elements = 1;
  for (int64_t d : shape) elements *= static_cast<uint64_t>(d);
  const TensorTypeTraits& t = traits(type);
  return elements / t.block_elements * t.block_bytes;
}

void GgufWriter::add(std::string key, GgufValue value) {
  if (file_) throw Error(str_cat("gguf writer: metadata ", key, " added after open()"));
  if (key.empty()) throw Error("gguf writer: empty metadata key");
  for (const auto& entry : metadata_) {
    if (entry.first == key) throw Error(str_cat("gguf writer: duplicate metadata key ", key));
  }
  if (key == "general.alignment") {
    if (value.type != GgufValueType::kUint32 || value.as_int() <= 0 ||
        (value.as_int() & (value.as_int() - 1)) != 0) {
      throw Error("gguf writer: general.alignment must be a u32 power of two");
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::set(std::string key, GgufValue value) {
  for (auto& entry : metadata_) {
    if (entry.first == key) {
      entry.second = std::move(value);
      return;
    }
  }
  add(std::move(key), std::move(value));
}

void GgufWriter::add_uint32(std::string key, uint32_t value) {
  add(std::move(key), GgufValue::of_uint(GgufValueType::kUint32, value));
}
void GgufWriter::add_int32(std::string key, int32_t value) {
  add(std::move(key), GgufValue::of_int(GgufValueType::kInt32, value));
}
void GgufWriter::add_float32(std::string key, float value) {
  add(std::move(key), GgufValue::of_float(GgufValueType::kFloat32, value));
}
void GgufWriter::add_bool(std::string key, bool value) {
  add(std::move(key), GgufValue::of_bool(value));
}
void GgufWriter::add_string(std::string key, std::string value) {
  add(std::move(key), GgufValue::of_string(std::move(value)));
}
void GgufWriter::add_int32_array(std::string key, const std::vector<int32_t>& values) {
  GgufValue::Array items;
  items.reserve(values.size());
  for (int32_t v : values) items.push_back(GgufValue::of_int(GgufValueType::kInt32, v));
  add(std::move(key), GgufValue::of_array(GgufValueType::kInt32, std::move(items)));
}
void GgufWriter::add_string_array(std::string key, const std::vector<std::string>& values) {
  GgufValue::Array items;
  items.reserve(values.size());
  for (const auto& v : values) items.push_back(GgufValue::of_string(v));
  add(std::move(key), GgufValue::of_array(GgufValueType::kString, std::move(items)));
}

void GgufWriter::add_tensor(GgufTensorDecl tensor) {
  if (file_) throw Error(str_cat("gguf writer: tensor ", tensor.name, " declared after open()"));
  if (tensor.name.empty()) throw Error("gguf writer: empty tensor name");
  if (tensor.shape.empty() || tensor.shape.size() > kGgufMaxDims) {
    throw Error(str_cat("gguf writer: tensor ", tensor.name, " has ", tensor.shape.size(),
                        " dimensions (must be 1 to ", kGgufMaxDims, ")"));
  }
  for (int64_t d : tensor.shape) {
    if (d <= 0) throw Error(str_cat("gguf writer: tensor ", tensor.name, " has a dimension ", d));
  }
  const TensorTypeTraits& t = traits(tensor.type);
  if (tensor.shape[0] % t.block_elements != 0) {
    throw Error(str_cat("gguf writer: tensor ", tensor.name, " row length ", tensor.shape[0],
                        " is not a multiple of the ", t.name, " block size ", t.block_elements));
  }
  for (const auto& other : tensors_) {
    if (other.name == tensor.name)
      throw Error(str_cat("gguf writer: duplicate tensor ", tensor.name));
  }
  tensors_.push_back(std::move(tensor));
}

uint64_t GgufWriter::alignment() const {
  for (const auto& [key, value] : metadata_) {
    if (key == "general.alignment") return static_cast<uint64_t>(value.as_int());
  }
  return kGgufDefaultAlignment;
}

std::vector<uint64_t> GgufWriter::tensor_offsets() const {
  std::vector<uint64_t> offsets;
  offsets.reserve(tensors_.size());
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    offsets.push_back(offset);
    offset += align_up(t.bytes(), alignment());
  }
  return offsets;
}

std::vector<uint8_t> GgufWriter::header() const {
  HeaderBuffer out;
  out.scalar(kGgufMagic);
  out.scalar(kGgufVersion);
  out.scalar<uint64_t>(tensors_.size());
  out.scalar<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    out.string(key);
    out.scalar(static_cast<uint32_t>(value.type));
    out.value(key, value);
  }
  const std::vector<uint64_t> offsets = tensor_offsets();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const GgufTensorDecl& t = tensors_[i];
    out.string(t.name);
    out.scalar(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) out.scalar(static_cast<uint64_t>(d));
    out.scalar(static_cast<uint32_t>(t.type));
    out.scalar(offsets[i]);
  }
  out.pad_to(alignment());
  return out.take();
}

uint64_t GgufWriter::file_size() const {
  uint64_t size = header().size();
  for (const auto& t : tensors_) size += align_up(t.bytes(), alignment());
  return size;
}

void GgufWriter::open(const std::string& path) {
  if (file_) throw Error(str_cat("gguf writer: ", path, ": already open"));
  const std::vector<uint8_t> head = header();
  file_.reset(std::fopen(path.c_str(), "wb"));
  if (!file_) throw Error(str_cat(path, ": cannot create: ", std::strerror(errno)));
  path_ = path;
  current_ = 0;
  written_in_current_ = 0;
  data_written_ = 0;
  write_raw(head.data(), head.size());
  finish_tensor_if_complete();  // (zero-byte tensors cannot exist, but keeps state uniform)
}

void GgufWriter::write_raw(const void* data, size_t size) {
  if (size != 0 && std::fwrite(data, 1, size, file_.get()) != size) {
    throw Error(str_cat(path_, ": write failed: ", std::strerror(errno)));
  }
}

void GgufWriter::write(std::span<const uint8_t> bytes) {
  if (!file_) throw Error("gguf writer: write() before open()");
  if (bytes.empty()) return;
  if (current_ >= tensors_.size()) {
    throw Error(str_cat(path_, ": ", bytes.size(), " bytes written after the last tensor"));
  }
  const GgufTensorDecl& tensor = tensors_[current_];
  if (written_in_current_ + bytes.size() > tensor.bytes()) {
    throw Error(str_cat(path_, ": tensor ", tensor.name, " is ", tensor.bytes(), " bytes but ",
                        written_in_current_ + bytes.size(), " were written"));
  }
  write_raw(bytes.data(), bytes.size());
  written_in_current_ += bytes.size();
  data_written_ += bytes.size();
  finish_tensor_if_complete();
}

void GgufWriter::finish_tensor_if_complete() {
  while (current_ < tensors_.size() && written_in_current_ == tensors_[current_].bytes()) {
    const uint64_t padded = align_up(data_written_, alignment());
    static constexpr uint8_t kZeros[64] = {};
    uint64_t padding = padded - data_written_;
    while (padding > 0) {
      const size_t piece = static_cast<size_t>(std::min<uint64_t>(padding, sizeof(kZeros)));
      write_raw(kZeros, piece);
      padding -= piece;
    }
    data_written_ = padded;
    ++current_;
    written_in_current_ = 0;
  }
}

void GgufWriter::close() {
  if (!file_) throw Error("gguf writer: close() without open()");
  if (current_ != tensors_.size()) {
    throw Error(str_cat(path_, ": closed after ", current_, " of ", tensors_.size(), " tensors"));
  }
  std::FILE* file = file_.release();
  if (std::fclose(file) != 0) throw Error(str_cat(path_, ": close failed: ", std::strerror(errno)));
}

void GgufWriter::close_as_hole() {
  if (!file_) throw Error("gguf writer: close_as_hole() without open()");
  if (data_written_ != 0)
    throw Error(str_cat(path_, ": tensor data written before close_as_hole()"));
  if (std::fflush(file_.get()) != 0 ||
      ::ftruncate(fileno(file_.get()), static_cast<off_t>(file_size())) != 0) {
    throw Error(
        str_cat(path_, ": cannot extend to ", file_size(), " bytes: ", std::strerror(errno)));
  }
  current_ = tensors_.size();
  close();
}

GgufSplitWriter::GgufSplitWriter(const GgufWriter& whole, std::string prefix, int count) {
  const auto& tensors = whole.tensors();
  if (count < 1 || static_cast<size_t>(count) > tensors.size()) {
    throw Error(
        str_cat("gguf writer: cannot split ", tensors.size(), " tensors into ", count, " files"));
  }
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.bytes();
  parts_.resize(count);
  // Contiguous groups: move to the next part once the bytes before a tensor reach that
  // part's share of the total, or when the tensors left are just enough for the parts left.
  std::vector<size_t> part_of(tensors.size());
  const uint64_t parts = static_cast<uint64_t>(count);
  uint64_t before = 0;
  size_t part = 0;
  size_t in_part = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t parts_after = parts_.size() - 1 - part;
    const bool must = in_part > 0 && tensors.size() - i == parts_after;
    const bool share_reached =
        in_part > 0 && parts_after > 0 && before * parts >= (part + 1) * total;
    if (must || share_reached) {
      ++part;
      in_part = 0;
    }
    part_of[i] = part;
    ++in_part;
    before += tensors[i].bytes();
  }
  for (size_t p = 0; p < parts_.size(); ++p) {
    if (p == 0) {
      for (const auto& [key, value] : whole.metadata()) {
        if (key.rfind("split.", 0) != 0) parts_[p].add(key, value);
      }
    } else if (whole.alignment() != kGgufDefaultAlignment) {
      parts_[p].add_uint32("general.alignment", static_cast<uint32_t>(whole.alignment()));
    }
    parts_[p].add("split.no", GgufValue::of_uint(GgufValueType::kUint16, p));
    parts_[p].add("split.count", GgufValue::of_uint(GgufValueType::kUint16, parts_.size()));
    parts_[p].add("split.tensors.count",
                  GgufValue::of_int(GgufValueType::kInt32, static_cast<int64_t>(tensors.size())));
    paths_.push_back(split_path(prefix, static_cast<int>(p) + 1, count));
  }
  for (size_t i = 0; i < tensors.size(); ++i) parts_[part_of[i]].add_tensor(tensors[i]);
  for (const auto& p : parts_) {
    if (p.tensors().empty()) throw Error("gguf writer: a split would hold no tensor");
  }
}

void GgufSplitWriter::open() {
  for (size_t p = 0; p < parts_.size(); ++p) parts_[p].open(paths_[p]);
  current_part_ = 0;
}

void GgufSplitWriter::write(std::span<const uint8_t> bytes) {
  while (current_part_ < parts_.size() &&
         parts_[current_part_].current_tensor() == parts_[current_part_].tensors().size()) {
    ++current_part_;
  }
  if (current_part_ == parts_.size())
    throw Error("gguf writer: bytes written after the last split");
  parts_[current_part_].write(bytes);
}

void GgufSplitWriter::close() {
  for (auto& p : parts_) p.close();
}

void GgufSplitWriter::close_as_hole() {
  for (auto& p : parts_) p.close_as_hole();
}

}  // namespace tandem
