#pragma once
// Products of weights stored as panels (ops/quant/panels.h) on ARM64 CPUs with the
// dot-product instructions (Armv8.2 dotprod, found at run time): `sdot` by element adds
// the products of the 4-byte groups of a weight vector with one 4-byte group of the
// activations into each int32 lane, and a panel keeps word i of 8 rows in 8 such lanes,
// so one instruction serves 4 elements of 4 rows with no broadcast or reduction. Each
// (row, token) pair takes the float steps of the portable row kernels in their order
// (per block the exact integer sums, then the same multiplications and additions), so
// the results equal simd_vec_dot_tile's on the same rows. Elsewhere nothing here runs.

#include <cstddef>
#include <cstdint>

#include "ops/tensor_type.h"

// GCC compiles the kernels for the dot-product extension function by function (and they
// run only where the CPU has it); other compilers only where the whole build targets it.
#if defined(__aarch64__) && (!defined(__clang__) || defined(__ARM_FEATURE_DOTPROD))
#define TANDEM_DOTPROD_KERNELS 1
#else
#define TANDEM_DOTPROD_KERNELS 0
#endif

namespace tandem {

// True on ARM64 CPUs with the dot-product instructions; then the three panel types (Q4_K,
// Q6_K, Q8_0) have dotprod_panel_dot. A constant false in builds without the kernels, so
// the panel products' dispatch costs nothing there.
#if TANDEM_DOTPROD_KERNELS
bool has_dotprod_panel_dot();
#else
inline bool has_dotprod_panel_dot() { return false; }
#endif
// As simd_vec_dot_panels (same arguments, same results). Requires has_dotprod_panel_dot.
void dotprod_panel_dot(TensorType type, const uint8_t* panels, size_t rows,
                       const uint8_t* activations, size_t activation_stride, size_t tokens,
                       size_t n, float* out, size_t out_stride);

}  // namespace tandem
