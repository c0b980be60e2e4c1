#pragma once
// Per-format scalar dot products behind vec_dot(): weights `w` (n elements, whole
// blocks) with activations `a` in the matching 8-bit format; both any alignment.

#include <cstddef>

namespace tandem::quant {

float dot_q4_0_q8_0(const void* w, const void* a, size_t n);
float dot_q4_1_q8_1(const void* w, const void* a, size_t n);
float dot_q5_0_q8_0(const void* w, const void* a, size_t n);
float dot_q5_1_q8_1(const void* w, const void* a, size_t n);
float dot_q8_0_q8_0(const void* w, const void* a, size_t n);

float dot_q4_k_q8_k(const void* w, const void* a, size_t n);
float dot_q5_k_q8_k(const void* w, const void* a, size_t n);
float dot_q6_k_q8_k(const void* w, const void* a, size_t n);

}  // namespace tandem::quant
