#pragma once
// Tensor element types with ggml's numbering (the ids stored in GGUF files) and the
// block layout of each: a row of n elements is n / block_elements blocks of
// block_bytes bytes.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tandem {

enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;    // as ggml prints it: "f32", "q4_K", ...
  uint32_t block_elements;  // elements per block (1 for plain types)
  uint32_t block_bytes;     // bytes per block
  bool can_dequantize;      // tandem has a dequantizer for it
};

// The traits of a type id read from a file, or nullopt for an id tandem does not know.
std::optional<TensorTypeTraits> find_tensor_type(uint32_t id);
const TensorTypeTraits& traits(TensorType type);
std::string_view type_name(TensorType type);
// Parses "q4_K", "Q4_K", "f16", ...; nullopt when unknown.
std::optional<TensorType> parse_tensor_type(std::string_view name);

// Bytes of a row of `elements` elements. elements must be a multiple of the block size.
size_t row_bytes(TensorType type, uint64_t elements);

}  // namespace tandem
