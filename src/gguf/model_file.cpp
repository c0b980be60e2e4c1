#include "gguf/model_file.h"

#include <cstdio>
#include <cstring>
#include <regex>

#include "ops/quant/panels.h"
#include "ops/quant/simd/quant_simd.h"
#include "platform/error.h"

namespace tandem {
namespace {

// Panels pay for a matrix, or a stack of matrices (experts) of whole groups of 8 rows,
// whose type this CPU has panel kernels for.
bool panels_pay(const TensorInfo& tensor) {
  if (tensor.shape.size() < 2 || tensor.shape.size() > 3) return false;
  return has_simd_panel_dot(tensor.type) &&
         fits_panel_layout(tensor.type, static_cast<size_t>(tensor.dim(1)),
                           static_cast<size_t>(tensor.dim(0)));
}

}  // namespace

std::optional<SplitName> parse_split_name(const std::string& path) {
  static const std::regex kPattern(R"((.*)-(\d{5})-of-(\d{5})\.gguf)");
  std::smatch match;
  if (!std::regex_match(path, match, kPattern)) return std::nullopt;
  const int count = std::stoi(match[3].str());
  if (count < 1) return std::nullopt;
  return SplitName{match[1].str(), count};
}

std::string split_path(const std::string& prefix, int index, int count) {
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "-%05d-of-%05d.gguf", index, count);
  return prefix + suffix;
}

ModelFile::ModelFile(const std::string& path) : path_(path) {
  files_.push_back(std::make_unique<GgufFile>(GgufFile::open(path)));
  const auto split = parse_split_name(path);
  uint64_t split_count = get_uint_opt("split.count").value_or(1);
  if (split_count > 1) {
    if (!split)
      throw Error(str_cat(path, ": split.count is ", split_count,
                          " but the name is not NAME-00001-of-NNNNN.gguf"));
    if (get_uint_opt("split.no").value_or(0) != 0) {
      throw Error(
          str_cat(path, ": is split ", get_uint("split.no") + 1, ", open the first split instead"));
    }
    if (static_cast<uint64_t>(split->count) != split_count) {
      throw Error(str_cat(path, ": split.count ", split_count, " disagrees with the file name"));
    }
    for (int i = 2; i <= split->count; ++i) {
      const std::string part = split_path(split->prefix, i, split->count);
      files_.push_back(std::make_unique<GgufFile>(GgufFile::open(part)));
      const GgufValue* number = files_.back()->find("split.no");
      if (number == nullptr || !number->is_integer() || number->as_int() != i - 1) {
        throw Error(str_cat(part, ": split.no should be ", i - 1));
      }
    }
  }
  for (uint32_t f = 0; f < files_.size(); ++f) {
    for (const TensorInfo& info : files_[f]->tensors()) {
      if (tensor_index_.count(info.name) != 0) {
        throw Error(str_cat(files_[f]->name(), ": tensor ", info.name, " appears in two splits"));
      }
      tensor_index_.emplace(info.name, tensors_.size());
      tensors_.push_back(info);
      tensors_.back().file_index = f;
    }
  }
  if (const auto expected = get_uint_opt("split.tensors.count")) {
    if (*expected != tensors_.size()) {
      throw Error(str_cat(path, ": split.tensors.count is ", *expected, " but the splits hold ",
                          tensors_.size()));
    }
  }
  architecture_ = get_string_opt("general.architecture").value_or("");
}

std::string ModelFile::arch_key(std::string_view suffix) const {
  return str_cat(architecture_, ".", suffix);
}

const GgufValue& ModelFile::require(std::string_view key) const {
  const GgufValue* value = find(key);
  if (value == nullptr) throw Error(str_cat(path_, ": missing metadata key ", key));
  return *value;
}

uint64_t ModelFile::get_uint(std::string_view key) const {
  const GgufValue& value = require(key);
  if (!value.is_integer() || value.as_int() < 0) {
    throw Error(str_cat(path_, ": metadata key ", key, " must be a non-negative integer"));
  }
  return static_cast<uint64_t>(value.as_int());
}

std::optional<uint64_t> ModelFile::get_uint_opt(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_uint(key);
}

double ModelFile::get_float(std::string_view key) const {
  const GgufValue& value = require(key);
  if (!value.is_integer() && !value.is_float()) {
    throw Error(str_cat(path_, ": metadata key ", key, " must be a number"));
  }
  return value.as_double();
}

std::optional<double> ModelFile::get_float_opt(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_float(key);
}

bool ModelFile::get_bool_or(std::string_view key, bool fallback) const {
  const GgufValue* value = find(key);
  if (value == nullptr) return fallback;
  if (value->type != GgufValueType::kBool)
    throw Error(str_cat(path_, ": metadata key ", key, " must be a bool"));
  return value->as_bool();
}

const std::string& ModelFile::get_string(std::string_view key) const {
  const GgufValue& value = require(key);
  if (value.type != GgufValueType::kString) {
    throw Error(str_cat(path_, ": metadata key ", key, " must be a string"));
  }
  return value.as_string();
}

std::optional<std::string> ModelFile::get_string_opt(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_string(key);
}

const GgufValue::Array& ModelFile::get_array(std::string_view key) const {
  const GgufValue& value = require(key);
  if (value.type != GgufValueType::kArray) {
    throw Error(str_cat(path_, ": metadata key ", key, " must be an array"));
  }
  return value.as_array();
}

std::vector<int64_t> ModelFile::get_int_array(std::string_view key) const {
  std::vector<int64_t> out;
  for (const GgufValue& item : get_array(key)) {
    if (!item.is_integer())
      throw Error(str_cat(path_, ": metadata key ", key, " must hold integers"));
    out.push_back(item.as_int());
  }
  return out;
}

std::vector<float> ModelFile::get_float_array(std::string_view key) const {
  std::vector<float> out;
  for (const GgufValue& item : get_array(key)) {
    if (!item.is_integer() && !item.is_float()) {
      throw Error(str_cat(path_, ": metadata key ", key, " must hold numbers"));
    }
    out.push_back(static_cast<float>(item.as_double()));
  }
  return out;
}

std::vector<std::string> ModelFile::get_string_array(std::string_view key) const {
  std::vector<std::string> out;
  const auto& items = get_array(key);
  out.reserve(items.size());
  for (const GgufValue& item : items) {
    if (item.type != GgufValueType::kString) {
      throw Error(str_cat(path_, ": metadata key ", key, " must hold strings"));
    }
    out.push_back(item.as_string());
  }
  return out;
}

const TensorInfo* ModelFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& ModelFile::tensor(std::string_view name) const {
  const TensorInfo* info = find_tensor(name);
  if (info == nullptr) throw Error(str_cat(path_, ": missing tensor ", name));
  return *info;
}

uint64_t ModelFile::total_tensor_bytes() const {
  uint64_t total = 0;
  for (const auto& t : tensors_) total += t.bytes;
  return total;
}

uint64_t ModelFile::copy_tensors_to_memory(const std::vector<std::string>& names,
                                           TensorLayouts layouts) {
  // 64-byte aligned slots in one allocation: rows stay as aligned as in the file.
  const auto slot = [](uint64_t bytes) { return (bytes + 63) / 64 * 64; };
  std::vector<size_t> indices;
  uint64_t total = 0;
  for (const std::string& name : names) {
    const auto it = tensor_index_.find(name);
    if (it == tensor_index_.end()) throw Error(str_cat(path_, ": no tensor '", name, "'"));
    const TensorInfo& tensor = tensors_[it->second];
    if (tensor.data.empty()) continue;
    const MappedFile* mapping = files_[tensor.file_index]->mapping();
    if (mapping == nullptr || !mapping->contains(tensor.data.data())) continue;  // copied before
    indices.push_back(it->second);
    total += slot(tensor.data.size());
  }
  if (total == 0) return 0;
  AnonymousMemory memory(total);
  uint64_t used = 0;
  for (size_t index : indices) {
    TensorInfo& tensor = tensors_[index];
    const MappedFile& mapping = *files_[tensor.file_index]->mapping();
    const std::span<uint8_t> target = memory.bytes().subspan(used, tensor.data.size());
    if (layouts == TensorLayouts::kPanels && panels_pay(tensor)) {
      pack_panels(tensor.type, tensor.row_count(), static_cast<size_t>(tensor.row_length()),
                  tensor.data, target);
      tensor.panels = true;
    } else {
      std::memcpy(target.data(), tensor.data.data(), tensor.data.size());
    }
    mapping.release_pages(static_cast<size_t>(tensor.data.data() - mapping.bytes().data()),
                          tensor.data.size());
    tensor.data = target;
    used += slot(tensor.data.size());
  }
  memory_.push_back(std::move(memory));
  return used;
}

std::vector<std::string> ModelFile::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const TensorInfo& tensor : tensors_) names.push_back(tensor.name);
  return names;
}

}  // namespace tandem
