#include "ops/quant/dequantize.h"

#include <cstring>

#include "ops/quant/dequantize_formats.h"
#include "platform/error.h"
#include "platform/half.h"

namespace tandem {
namespace {

void dequantize_f32(const void* src, std::span<float> out) {
  std::memcpy(out.data(), src, out.size_bytes());
}

// Half-width floats: converted one element at a time (rows need not be aligned).
template <float (*kConvert)(uint16_t)>
void dequantize_half(const void* src, std::span<float> out) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, bytes + 2 * i, sizeof(bits));
    out[i] = kConvert(bits);
  }
}

}  // namespace

void dequantize_row(TensorType type, const void* src, std::span<float> out) {
  const TensorTypeTraits& info = traits(type);
  TANDEM_CHECK(out.size() % info.block_elements == 0, "row of ", out.size(), " elements of ",
               info.name, " is not whole blocks");
  switch (type) {
    case TensorType::kF32:
      return dequantize_f32(src, out);
    case TensorType::kF16:
      return dequantize_half<f16_to_f32>(src, out);
    case TensorType::kBF16:
      return dequantize_half<bf16_to_f32>(src, out);
    case TensorType::kQ4_0:
      return quant::dequantize_q4_0(src, out);
    case TensorType::kQ4_1:
      return quant::dequantize_q4_1(src, out);
    case TensorType::kQ5_0:
      return quant::dequantize_q5_0(src, out);
    case TensorType::kQ5_1:
      return quant::dequantize_q5_1(src, out);
    case TensorType::kQ8_0:
      return quant::dequantize_q8_0(src, out);
    case TensorType::kQ8_1:
      return quant::dequantize_q8_1(src, out);
    case TensorType::kQ4_K:
      return quant::dequantize_q4_k(src, out);
    case TensorType::kQ5_K:
      return quant::dequantize_q5_k(src, out);
    case TensorType::kQ6_K:
      return quant::dequantize_q6_k(src, out);
    case TensorType::kQ8_K:
      return quant::dequantize_q8_k(src, out);
    default:
      break;
  }
  TANDEM_CHECK(false, "no dequantizer for tensor type ", info.name);
}

}  // namespace tandem
