#include "ops/quant/quantize.h"

#include <cstring>

#include "ops/quant/quantize_formats.h"
#include "platform/error.h"
#include "platform/half.h"

namespace tandem {
namespace {

template <uint16_t (*kConvert)(float)>
void quantize_half(std::span<const float> in, void* dst) {
  auto* bytes = static_cast<uint8_t*>(dst);
  for (size_t i = 0; i < in.size(); ++i) {
    const uint16_t bits = kConvert(in[i]);
    std::memcpy(bytes + 2 * i, &bits, sizeof(bits));
  }
}

}  // namespace

bool can_quantize(TensorType type) {
  switch (type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
    case TensorType::kQ8_0:
    case TensorType::kQ8_1:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
    case TensorType::kQ8_K:
      return true;
    default:
      return false;
  }
}

void quantize_row(TensorType type, std::span<const float> in, void* dst) {
  const TensorTypeTraits& info = traits(type);
  TANDEM_CHECK(in.size() % info.block_elements == 0, "row of ", in.size(), " elements of ",
               info.name, " is not whole blocks");
  switch (type) {
    case TensorType::kF32:
      std::memcpy(dst, in.data(), in.size_bytes());
      return;
    case TensorType::kF16:
      return quantize_half<f32_to_f16>(in, dst);
    case TensorType::kBF16:
      return quantize_half<f32_to_bf16>(in, dst);
    case TensorType::kQ8_0:
      return quant::quantize_q8_0(in, dst);
    case TensorType::kQ8_1:
      return quant::quantize_q8_1(in, dst);
    case TensorType::kQ4_K:
      return quant::quantize_q4_k(in, dst);
    case TensorType::kQ5_K:
      return quant::quantize_q5_k(in, dst);
    case TensorType::kQ6_K:
      return quant::quantize_q6_k(in, dst);
    case TensorType::kQ8_K:
      return quant::quantize_q8_k(in, dst);
    default:
      break;
  }
  TANDEM_CHECK(false, "no quantizer for tensor type ", info.name);
}

}  // namespace tandem
