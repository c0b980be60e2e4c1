#include "ops/quant/vec_dot.h"

#include <cstring>

#include "ops/quant/vec_dot_formats.h"
#include "platform/error.h"
#include "platform/half.h"

namespace tandem {
namespace {

template <typename T>
T load(const void* row, size_t i) {
  T value;
  std::memcpy(&value, static_cast<const uint8_t*>(row) + i * sizeof(T), sizeof(T));
  return value;
}

// Float rows: each product rounded to float, accumulated in double (as ggml's scalar
// ggml_vec_dot_f32 / _f16 / _bf16 do), the sum rounded to float once.
double dot_f32(const void* w, const void* a, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += static_cast<double>(load<float>(w, i) * load<float>(a, i));
  return sum;
}

template <float (*kConvert)(uint16_t)>
double dot_half(const void* w, const void* a, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    sum += static_cast<double>(kConvert(load<uint16_t>(w, i)) * kConvert(load<uint16_t>(a, i)));
  }
  return sum;
}

}  // namespace

TensorType activation_type_for(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
      return weight_type;
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
    case TensorType::kQ8_0:
      return TensorType::kQ8_0;
    case TensorType::kQ4_1:
    case TensorType::kQ5_1:
      return TensorType::kQ8_1;
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
      return TensorType::kQ8_K;
    default:
      break;
  }
  TANDEM_CHECK(false, "no dot product for weights of type ", type_name(weight_type));
}

bool has_vec_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
    case TensorType::kQ4_0:
    case TensorType::kQ4_1:
    case TensorType::kQ5_0:
    case TensorType::kQ5_1:
    case TensorType::kQ8_0:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
      return true;
    default:
      return false;
  }
}

float vec_dot(TensorType weight_type, const void* weight_row, const void* activation_row,
              size_t n) {
  TANDEM_CHECK(n % traits(weight_type).block_elements == 0, "dot product of ", n,
               " elements is not whole blocks of ", type_name(weight_type));
  const void* w = weight_row;
  const void* a = activation_row;
  switch (weight_type) {
    case TensorType::kF32:
      return static_cast<float>(dot_f32(w, a, n));
    case TensorType::kF16:
      return static_cast<float>(dot_half<f16_to_f32>(w, a, n));
    case TensorType::kBF16:
      return static_cast<float>(dot_half<bf16_to_f32>(w, a, n));
    case TensorType::kQ4_0:
      return quant::dot_q4_0_q8_0(w, a, n);
    case TensorType::kQ4_1:
      return quant::dot_q4_1_q8_1(w, a, n);
    case TensorType::kQ5_0:
      return quant::dot_q5_0_q8_0(w, a, n);
    case TensorType::kQ5_1:
      return quant::dot_q5_1_q8_1(w, a, n);
    case TensorType::kQ8_0:
      return quant::dot_q8_0_q8_0(w, a, n);
    case TensorType::kQ4_K:
      return quant::dot_q4_k_q8_k(w, a, n);
    case TensorType::kQ5_K:
      return quant::dot_q5_k_q8_k(w, a, n);
    case TensorType::kQ6_K:
      return quant::dot_q6_k_q8_k(w, a, n);
    default:
      break;
  }
  TANDEM_CHECK(false, "no dot product for weights of type ", type_name(weight_type));
}

}  // namespace tandem
