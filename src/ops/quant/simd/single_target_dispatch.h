#pragma once
// Included by the Highway files of ops/quant/simd in their HWY_ONCE part (after
// hwy/foreach_target.h, so HWY_NAMESPACE is the static target's). With a single target
// compiled (ARM64 builds NEON only), HWY_DYNAMIC_DISPATCH(quant::F) is the static call
// HWY_NAMESPACE::quant::F: this alias gives that name the target's F.

#include "hwy/highway.h"

#if (HWY_TARGETS & (HWY_TARGETS - 1)) == 0
namespace tandem {
namespace quant::HWY_NAMESPACE {}
namespace HWY_NAMESPACE {
namespace quant = ::tandem::quant::HWY_NAMESPACE;
}  // namespace HWY_NAMESPACE
}  // namespace tandem
#endif
