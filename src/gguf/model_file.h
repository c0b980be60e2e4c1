#pragma once
// A model stored as one GGUF file or as split files (name-00001-of-0000N.gguf).
// Gives typed metadata look-ups whose errors name the key, and one tensor table
// across all splits.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_file.h"
#include "platform/anonymous_memory.h"

namespace tandem {

enum class TensorLayouts : uint8_t {
  kFile,    // bytes as in the file
  kPanels,  // matrices the kernels read faster as panels reordered into them
};

class ModelFile {
 public:
  // Opens `path`; when it is the first of a split set, opens the others too.
  explicit ModelFile(const std::string& path);

  const std::string& path() const { return path_; }
  const GgufFile& primary() const { return *files_.front(); }
  const std::vector<std::unique_ptr<GgufFile>>& files() const { return files_; }
  const GgufMetadata& metadata() const { return primary().metadata(); }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // general.architecture, e.g. "qwen3moe".
  const std::string& architecture() const { return architecture_; }
  // "<architecture>.<suffix>", e.g. arch_key("block_count") = "qwen3moe.block_count".
  std::string arch_key(std::string_view suffix) const;

  const GgufValue* find(std::string_view key) const { return primary().find(key); }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed getters: throw Error naming the key when it is missing or of the wrong kind.
  uint64_t get_uint(std::string_view key) const;
  std::optional<uint64_t> get_uint_opt(std::string_view key) const;
  double get_float(std::string_view key) const;
  std::optional<double> get_float_opt(std::string_view key) const;
  bool get_bool_or(std::string_view key, bool fallback) const;
  const std::string& get_string(std::string_view key) const;
  std::optional<std::string> get_string_opt(std::string_view key) const;
  const GgufValue::Array& get_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<float> get_float_array(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;

  const TensorInfo* find_tensor(std::string_view name) const;
  // The tensor or an Error that names it and the file.
  const TensorInfo& tensor(std::string_view name) const;
  uint64_t total_tensor_bytes() const;

  // Copies the named tensors out of the file mappings into memory of this object's own
  // (huge pages where the kernel gives them; see anonymous_memory.h) and points their
  // `data` there, dropping the mapped pages they came from. For weights a compute loop
  // streams on every token; call before taking views of them. Throws Error on an unknown
  // name. Returns the bytes copied. With kPanels, the matrices that the SIMD kernels of
  // this CPU read faster as panels (ops/quant/panels.h: Q4_K / Q6_K, rows per matrix a
  // multiple of 8) are stored so, and marked TensorInfo::panels; such tensors are read
  // only through WeightMatrix (model/weights.h), never as the file's bytes.
  uint64_t copy_tensors_to_memory(const std::vector<std::string>& names,
                                  TensorLayouts layouts = TensorLayouts::kFile);
  // The names of every tensor, for copying them all.
  std::vector<std::string> tensor_names() const;

 private:
  const GgufValue& require(std::string_view key) const;

  std::string path_;
  std::string architecture_;
  std::vector<std::unique_ptr<GgufFile>> files_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  std::vector<AnonymousMemory> memory_;  // tensors copied out of the mappings
};

// "model-00001-of-00003.gguf" -> {"model", 3}; nullopt for a name outside that pattern.
struct SplitName {
  std::string prefix;
  int count;
};
std::optional<SplitName> parse_split_name(const std::string& path);
std::string split_path(const std::string& prefix, int index, int count);

}  // namespace tandem
