#include "ops/tensor_type.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "platform/error.h"

namespace tandem {
namespace {

constexpr std::array kTypes = {
    TensorTypeTraits{TensorType::kF32, "f32", 1, 4, true},
    TensorTypeTraits{TensorType::kF16, "f16", 1, 2, true},
    TensorTypeTraits{TensorType::kQ4_0, "q4_0", 32, 18, true},
    TensorTypeTraits{TensorType::kQ4_1, "q4_1", 32, 20, true},
    TensorTypeTraits{TensorType::kQ5_0, "q5_0", 32, 22, true},
    TensorTypeTraits{TensorType::kQ5_1, "q5_1", 32, 24, true},
    TensorTypeTraits{TensorType::kQ8_0, "q8_0", 32, 34, true},
    TensorTypeTraits{TensorType::kQ8_1, "q8_1", 32, 36, true},
    TensorTypeTraits{TensorType::kQ2_K, "q2_K", 256, 84, false},
    TensorTypeTraits{TensorType::kQ3_K, "q3_K", 256, 110, false},
    TensorTypeTraits{TensorType::kQ4_K, "q4_K", 256, 144, true},
    TensorTypeTraits{TensorType::kQ5_K, "q5_K", 256, 176, true},
    TensorTypeTraits{TensorType::kQ6_K, "q6_K", 256, 210, true},
    TensorTypeTraits{TensorType::kQ8_K, "q8_K", 256, 292, true},
    TensorTypeTraits{TensorType::kI8, "i8", 1, 1, false},
    TensorTypeTraits{TensorType::kI16, "i16", 1, 2, false},
    TensorTypeTraits{TensorType::kI32, "i32", 1, 4, false},
    TensorTypeTraits{TensorType::kI64, "i64", 1, 8, false},
    TensorTypeTraits{TensorType::kF64, "f64", 1, 8, false},
    TensorTypeTraits{TensorType::kBF16, "bf16", 1, 2, true},
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<TensorTypeTraits> find_tensor_type(uint32_t id) {
  for (const auto& entry : kTypes) {
    if (static_cast<uint32_t>(entry.type) == id) return entry;
  }
  return std::nullopt;
}

const TensorTypeTraits& traits(TensorType type) {
  for (const auto& entry : kTypes) {
    if (entry.type == type) return entry;
  }
  TANDEM_CHECK(false, "unknown tensor type ", static_cast<uint32_t>(type));
}

std::string_view type_name(TensorType type) { return traits(type).name; }

std::optional<TensorType> parse_tensor_type(std::string_view name) {
  const std::string wanted = lower(name);
  for (const auto& entry : kTypes) {
    if (lower(entry.name) == wanted) return entry.type;
  }
  return std::nullopt;
}

size_t row_bytes(TensorType type, uint64_t elements) {
  const auto& info = traits(type);
  TANDEM_CHECK(elements % info.block_elements == 0, "row of ", elements, " elements of ", info.name,
               " is not whole blocks");
  return static_cast<size_t>(elements / info.block_elements * info.block_bytes);
}

}  // namespace tandem
