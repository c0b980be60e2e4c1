// Highway quantizers of activation rows to Q8_0 and Q8_K. They compute exactly what
// the scalar quantizers compute (same scale, same products, same rounding rule), so
// the bytes are identical.

#include <cmath>
#include <cstring>

#include "ops/quant/blocks.h"
#include "platform/half.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/quant/simd/quantize_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace tandem::quant::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 float lanes, so every chunk divides a 32-element block.
using DF = hn::CappedTag<float, 16>;
using DI = hn::RebindToSigned<DF>;
using D8 = hn::Rebind<int8_t, DF>;

HWY_INLINE float max_abs(const float* x, size_t count) {
  const DF df;
  auto m = hn::Zero(df);
  for (size_t k = 0; k < count; k += hn::Lanes(df)) m = hn::Max(m, hn::Abs(hn::LoadU(df, x + k)));
  return hn::GetLane(hn::MaxOfLanes(df, m));
}

// Rounds to nearest with ties away from zero, like std::round: the hardware rounds
// ties to even, so exact halves are redone from the truncated value.
template <class V>
HWY_INLINE V round_half_away(V v) {
  const DF df;
  const auto truncated = hn::Trunc(v);
  const auto tie = hn::Eq(hn::Abs(hn::Sub(v, truncated)), hn::Set(df, 0.5f));
  const auto away = hn::Add(truncated, hn::CopySign(hn::Set(df, 1.0f), v));
  return hn::IfThenElse(tie, away, hn::Round(v));
}

void QuantizeQ8_0(const float* in, size_t n, uint8_t* dst) {
  const DF df;
  const DI di;
  const D8 d8;
  for (size_t b = 0; b < n / kLegacyBlock; ++b) {
    const float* x = in + b * kLegacyBlock;
    uint8_t* block = dst + b * sizeof(BlockQ8_0);
    const float d = max_abs(x, kLegacyBlock) / 127;
    const float inverse = d != 0 ? 1.0f / d : 0.0f;
    const uint16_t d_bits = f32_to_f16(d);
    std::memcpy(block, &d_bits, 2);
    auto* qs = reinterpret_cast<int8_t*>(block + 2);
    const auto scale = hn::Set(df, inverse);
    for (size_t k = 0; k < kLegacyBlock; k += hn::Lanes(df)) {
      const auto levels = round_half_away(hn::Mul(hn::LoadU(df, x + k), scale));
      hn::StoreU(hn::DemoteTo(d8, hn::ConvertTo(di, levels)), d8, qs + k);
    }
  }
}

void QuantizeQ8_K(const float* in, size_t n, uint8_t* dst) {
  const DF df;
  const DI di;
  const D8 d8;
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    const float* x = in + b * kSuperBlock;
    BlockQ8_K block{};
    const float amax = max_abs(x, kSuperBlock);
    if (amax != 0) {
      // The first element of largest magnitude sets the sign of the scale.
      size_t first = 0;
      while (std::fabs(x[first]) != amax) ++first;
      const float inverse = -127.0f / x[first];
      const auto scale = hn::Set(df, inverse);
      const auto top = hn::Set(di, 127);
      // Round ties to even (as nearest_int does), cap at 127.
      for (size_t k = 0; k < kSuperBlock; k += hn::Lanes(df)) {
        const auto levels = hn::ConvertTo(di, hn::Round(hn::Mul(hn::LoadU(df, x + k), scale)));
        hn::StoreU(hn::DemoteTo(d8, hn::Min(levels, top)), d8, block.qs + k);
      }
      for (int g = 0; g < kSuperBlock / 16; ++g) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += block.qs[16 * g + l];
        block.bsums[g] = static_cast<int16_t>(sum);
      }
      block.d = 1 / inverse;
    }
    std::memcpy(dst + b * sizeof(BlockQ8_K), &block, sizeof(block));
  }
}

}  // namespace tandem::quant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/quant/simd/quant_simd.h"
#include "ops/quant/simd/single_target_dispatch.h"
#include "platform/error.h"

namespace tandem {
namespace quant {
HWY_EXPORT(QuantizeQ8_0);
HWY_EXPORT(QuantizeQ8_K);
}  // namespace quant

bool has_simd_quantize(TensorType type) {
  return type == TensorType::kQ8_0 || type == TensorType::kQ8_K;
}

void simd_quantize_row(TensorType type, std::span<const float> in, void* dst) {
  TANDEM_CHECK(in.size() % traits(type).block_elements == 0, "row of ", in.size(), " elements of ",
               type_name(type), " is not whole blocks");
  auto* bytes = static_cast<uint8_t*>(dst);
  switch (type) {
    case TensorType::kQ8_0:
      return HWY_DYNAMIC_DISPATCH(quant::QuantizeQ8_0)(in.data(), in.size(), bytes);
    case TensorType::kQ8_K:
      return HWY_DYNAMIC_DISPATCH(quant::QuantizeQ8_K)(in.data(), in.size(), bytes);
    default:
      break;
  }
  TANDEM_CHECK(false, "no SIMD quantizer for ", type_name(type));
}

}  // namespace tandem
#endif  // HWY_ONCE
