#pragma once
// Per-format dequantizers behind dequantize_row(). Each takes a row of whole blocks
// at `src` (any alignment) and writes out.size() floats; out.size() is a multiple of
// the format's block size.

#include <span>

namespace tandem::quant {

void dequantize_q4_0(const void* src, std::span<float> out);
void dequantize_q4_1(const void* src, std::span<float> out);
void dequantize_q5_0(const void* src, std::span<float> out);
void dequantize_q5_1(const void* src, std::span<float> out);
void dequantize_q8_0(const void* src, std::span<float> out);
void dequantize_q8_1(const void* src, std::span<float> out);

void dequantize_q4_k(const void* src, std::span<float> out);
void dequantize_q5_k(const void* src, std::span<float> out);
void dequantize_q6_k(const void* src, std::span<float> out);
void dequantize_q8_k(const void* src, std::span<float> out);

}  // namespace tandem::quant
