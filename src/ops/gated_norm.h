#pragma once
// Normalizations of the Gated DeltaNet layer: the L2 norm of q and k heads and the
// gated RMSNorm of its output. Both follow ggml: squares summed in double, the L2
// norm's eps is a floor on the norm (x / max(||x||, eps)), the RMS norm's eps sits
// under the root (x / sqrt(mean(x^2) + eps)).

#include <cstddef>
#include <span>

namespace tandem {

// rows: [n][dim], each row replaced by row / max(||row||_2, eps).
void l2_normalize_rows(std::span<float> rows, size_t dim, float eps);

// x, gate, out: [n][dim]; weight: [dim], shared by every row.
// out = x / sqrt(mean(x^2) + eps) * weight * silu(gate). out may alias x.
void gated_rms_norm(std::span<const float> x, std::span<const float> gate,
                    std::span<const float> weight, float eps, std::span<float> out);

}  // namespace tandem
