#pragma once
// Per-format quantizers behind quantize_row(). Each reads in.size() floats (a
// multiple of the format's block size) and writes whole blocks at dst (any alignment).

#include <span>

namespace tandem::quant {

void quantize_q8_0(std::span<const float> in, void* dst);
void quantize_q8_1(std::span<const float> in, void* dst);

void quantize_q4_k(std::span<const float> in, void* dst);
void quantize_q5_k(std::span<const float> in, void* dst);
void quantize_q6_k(std::span<const float> in, void* dst);
void quantize_q8_k(std::span<const float> in, void* dst);

}  // namespace tandem::quant
