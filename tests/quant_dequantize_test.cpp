// Dequantizers: hand-written blocks with values worked out from the format definition,
// and the reference models, whose quantized tensors must sit within one quantization
// step of the F16 copy of the same weights.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/model_file.h"
#include "ops/quant/blocks.h"
#include "ops/quant/dequantize.h"
#include "platform/half.h"
#include "test_paths.h"

namespace tandem {
namespace {

using quant::BlockQ4_0;
using quant::BlockQ4_1;
using quant::BlockQ4_K;
using quant::BlockQ5_0;
using quant::BlockQ5_1;
using quant::BlockQ5_K;
using quant::BlockQ6_K;
using quant::BlockQ8_0;
using quant::BlockQ8_K;

// Exact F16 bit patterns of small powers of two.
constexpr uint16_t kHalfOne = 0x3C00;
constexpr uint16_t kHalfHalf = 0x3800;     // 0.5
constexpr uint16_t kHalfQuarter = 0x3400;  // 0.25
constexpr uint16_t kHalfTwo = 0x4000;
constexpr uint16_t kHalfMinusOne = 0xBC00;

// Deterministic filler bytes for quantized payloads.
uint8_t pattern_byte(int i) { return static_cast<uint8_t>((i * 37 + 11) ^ (i >> 3)); }

template <typename Block>
std::vector<float> dequantize_one(TensorType type, const Block& block) {
  std::vector<float> out(traits(type).block_elements);
  dequantize_row(type, &block, out);
  return out;
}

TEST(QuantDequantize, BlockSizesMatchTypeTable) {
  EXPECT_EQ(traits(TensorType::kQ4_0).block_bytes, sizeof(BlockQ4_0));
  EXPECT_EQ(traits(TensorType::kQ4_1).block_bytes, sizeof(BlockQ4_1));
  EXPECT_EQ(traits(TensorType::kQ5_0).block_bytes, sizeof(BlockQ5_0));
  EXPECT_EQ(traits(TensorType::kQ5_1).block_bytes, sizeof(BlockQ5_1));
  EXPECT_EQ(traits(TensorType::kQ8_0).block_bytes, sizeof(BlockQ8_0));
  EXPECT_EQ(traits(TensorType::kQ8_1).block_bytes, sizeof(quant::BlockQ8_1));
  EXPECT_EQ(traits(TensorType::kQ4_K).block_bytes, sizeof(BlockQ4_K));
  EXPECT_EQ(traits(TensorType::kQ5_K).block_bytes, sizeof(BlockQ5_K));
  EXPECT_EQ(traits(TensorType::kQ6_K).block_bytes, sizeof(BlockQ6_K));
  EXPECT_EQ(traits(TensorType::kQ8_K).block_bytes, sizeof(BlockQ8_K));
}

TEST(QuantDequantize, PlainFloatTypes) {
  const float f32[3] = {1.5f, -0.0f, 3e-39f};
  std::vector<float> out(3);
  dequantize_row(TensorType::kF32, f32, out);
  EXPECT_EQ(std::memcmp(out.data(), f32, sizeof(f32)), 0);

  // 1, -2, 65504 (largest half), 2^-24 (smallest subnormal), -0, +inf.
  const uint16_t f16[6] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00};
  out.resize(6);
  dequantize_row(TensorType::kF16, f16, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 65504.0f);
  EXPECT_EQ(out[3], std::ldexp(1.0f, -24));
  EXPECT_TRUE(out[4] == 0.0f && std::signbit(out[4]));
  EXPECT_TRUE(std::isinf(out[5]) && out[5] > 0);

  // bf16 is the top half of an F32: 1, -5, 2^-126 * 1.5, 3.140625.
  const uint16_t bf16[4] = {0x3F80, 0xC0A0, 0x00C0, 0x4049};
  out.resize(4);
  dequantize_row(TensorType::kBF16, bf16, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -5.0f);
  EXPECT_EQ(out[2], std::ldexp(1.5f, -126));
  EXPECT_EQ(out[3], 3.140625f);
}

TEST(QuantDequantize, Q4_0) {
  BlockQ4_0 block{};
  block.d = kHalfHalf;
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto out = dequantize_one(TensorType::kQ4_0, block);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 0.5f * static_cast<float>(j - 8)) << j;       // low nibble j
    EXPECT_EQ(out[j + 16], 0.5f * static_cast<float>(7 - j)) << j;  // high nibble 15 - j
  }
}

TEST(QuantDequantize, Q4_1) {
  BlockQ4_1 block{};
  block.d = kHalfQuarter;
  block.m = kHalfMinusOne;
  for (int j = 0; j < 16; ++j) block.qs[j] = pattern_byte(j);
  const auto out = dequantize_one(TensorType::kQ4_1, block);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 0.25f * static_cast<float>(pattern_byte(j) & 15) - 1.0f);
    EXPECT_EQ(out[j + 16], 0.25f * static_cast<float>(pattern_byte(j) >> 4) - 1.0f);
  }
}

// Element i of a Q5 block: low 4 bits from byte i % 16 (low nibble for i < 16), bit 4
// from bit i of the little-endian 32-bit qh.
int q5_element(const uint8_t* qs, uint32_t qh, int i) {
  const int low = i < 16 ? (qs[i] & 15) : (qs[i - 16] >> 4);
  return low | static_cast<int>(((qh >> i) & 1u) << 4);
}

TEST(QuantDequantize, Q5_0) {
  BlockQ5_0 block{};
  block.d = kHalfTwo;
  const uint32_t qh = 0x80F0000Fu;  // elements 0-3, 16-19 and 31 have bit 4 set
  std::memcpy(block.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) block.qs[j] = pattern_byte(j + 5);
  const auto out = dequantize_one(TensorType::kQ5_0, block);
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(out[i], 2.0f * static_cast<float>(q5_element(block.qs, qh, i) - 16)) << i;
  }
  // Spot checks worked out by hand: element 31 is (qs[15] >> 4) | 16.
  EXPECT_EQ(out[31], 2.0f * static_cast<float>((pattern_byte(20) >> 4) + 16 - 16));
}

TEST(QuantDequantize, Q5_1) {
  BlockQ5_1 block{};
  block.d = kHalfQuarter;
  block.m = kHalfOne;
  const uint32_t qh = 0x12345678u;
  std::memcpy(block.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) block.qs[j] = pattern_byte(3 * j);
  const auto out = dequantize_one(TensorType::kQ5_1, block);
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(out[i], 0.25f * static_cast<float>(q5_element(block.qs, qh, i)) + 1.0f) << i;
  }
}

TEST(QuantDequantize, Q8_0) {
  BlockQ8_0 block{};
  block.d = 0x3000;  // 0.125
  for (int j = 0; j < 32; ++j) block.qs[j] = static_cast<int8_t>(j * 8 - 128);
  const auto out = dequantize_one(TensorType::kQ8_0, block);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.125f * static_cast<float>(j * 8 - 128));
}

// Six-bit scales {1, 2, 3, 4, 17, 33, 50, 63} and mins {5, 6, 7, 8, 20, 40, 0, 63},
// packed by hand: bytes 0-3 hold scales 0-3 and the top 2 bits of scales 4-7, bytes
// 4-7 mins 0-3 and the top 2 bits of mins 4-7, bytes 8-11 the low nibbles of scale
// (low half) and min (high half) 4-7.
constexpr int kScales[8] = {1, 2, 3, 4, 17, 33, 50, 63};
constexpr int kMins[8] = {5, 6, 7, 8, 20, 40, 0, 63};
constexpr uint8_t kPackedScales[12] = {0x41, 0x82, 0xC3, 0xC4, 0x45, 0x86,
                                       0x07, 0xC8, 0x41, 0x81, 0x02, 0xFF};

TEST(QuantDequantize, K4ScaleUnpacking) {
  for (int j = 0; j < 8; ++j) {
    const quant::ScaleMin sm = quant::unpack_k4_scale_min(j, kPackedScales);
    EXPECT_EQ(sm.scale, kScales[j]) << j;
    EXPECT_EQ(sm.min, kMins[j]) << j;
  }
}

// Q4_K / Q5_K quant of element i (sub-block s = i / 32, position l = i % 32): the
// nibble of qs[32 * (s / 2) + l], low for even s.
int k4_low_bits(const uint8_t* qs, int i) {
  const int s = i / 32, l = i % 32;
  const uint8_t byte = qs[32 * (s / 2) + l];
  return s % 2 == 0 ? (byte & 15) : (byte >> 4);
}

TEST(QuantDequantize, Q4_K) {
  BlockQ4_K block{};
  block.d = kHalfHalf;
  block.dmin = kHalfQuarter;
  std::memcpy(block.scales, kPackedScales, 12);
  for (int j = 0; j < 128; ++j) block.qs[j] = pattern_byte(j);
  const auto out = dequantize_one(TensorType::kQ4_K, block);
  for (int i = 0; i < 256; ++i) {
    const int s = i / 32;
    const float expected = 0.5f * static_cast<float>(kScales[s] * k4_low_bits(block.qs, i)) -
                           0.25f * static_cast<float>(kMins[s]);
    EXPECT_EQ(out[i], expected) << i;
  }
  // By hand: element 255 is sub-block 7, byte qs[127] high nibble; qs[127] = pattern_byte(127).
  EXPECT_EQ(out[255], 0.5f * 63.0f * static_cast<float>(pattern_byte(127) >> 4) - 0.25f * 63.0f);
}

TEST(QuantDequantize, Q5_K) {
  BlockQ5_K block{};
  block.d = kHalfQuarter;
  block.dmin = kHalfOne;
  std::memcpy(block.scales, kPackedScales, 12);
  for (int j = 0; j < 128; ++j) block.qs[j] = pattern_byte(j + 1);
  for (int l = 0; l < 32; ++l) block.qh[l] = pattern_byte(200 + l);
  const auto out = dequantize_one(TensorType::kQ5_K, block);
  for (int i = 0; i < 256; ++i) {
    const int s = i / 32, l = i % 32;
    // Bit 4 of element 32 s + l is bit s of qh[l].
    const int q = k4_low_bits(block.qs, i) | (((block.qh[l] >> s) & 1) << 4);
    const float expected =
        0.25f * static_cast<float>(kScales[s] * q) - 1.0f * static_cast<float>(kMins[s]);
    EXPECT_EQ(out[i], expected) << i;
  }
}

TEST(QuantDequantize, Q6_K) {
  BlockQ6_K block{};
  block.d = kHalfQuarter;
  for (int j = 0; j < 128; ++j) block.ql[j] = pattern_byte(j);
  for (int j = 0; j < 64; ++j) block.qh[j] = pattern_byte(300 + 7 * j);
  const int8_t scales[16] = {1, -2, 3, -4, 5, 127, -128, 0, 9, -10, 64, -64, 13, 14, -15, 16};
  std::memcpy(block.scales, scales, 16);
  const auto out = dequantize_one(TensorType::kQ6_K, block);
  for (int i = 0; i < 256; ++i) {
    // Half h, quarter k and lane l of element i; scale i / 16.
    const int h = i / 128, k = (i % 128) / 32, l = i % 32;
    const uint8_t low_byte = block.ql[64 * h + 32 * (k % 2) + l];
    const int low = k < 2 ? (low_byte & 15) : (low_byte >> 4);
    const int high = (block.qh[32 * h + l] >> (2 * k)) & 3;
    const int q = (low | (high << 4)) - 32;
    EXPECT_EQ(out[i], 0.25f * static_cast<float>(scales[i / 16] * q)) << i;
  }
}

TEST(QuantDequantize, Q8_K) {
  BlockQ8_K block{};
  block.d = -0.03125f;
  for (int j = 0; j < 256; ++j) block.qs[j] = static_cast<int8_t>(pattern_byte(j));
  const auto out = dequantize_one(TensorType::kQ8_K, block);
  for (int j = 0; j < 256; ++j) {
    EXPECT_EQ(out[j], -0.03125f * static_cast<float>(static_cast<int8_t>(pattern_byte(j))));
  }
}

TEST(QuantDequantize, UnalignedRowsAndSeveralBlocks) {
  std::vector<uint8_t> bytes(1 + 3 * sizeof(BlockQ8_0));
  for (int b = 0; b < 3; ++b) {
    BlockQ8_0 block{};
    block.d = kHalfOne;
    for (int j = 0; j < 32; ++j) block.qs[j] = static_cast<int8_t>(b * 32 + j - 48);
    std::memcpy(bytes.data() + 1 + b * sizeof(BlockQ8_0), &block, sizeof(block));
  }
  std::vector<float> out(96);
  dequantize_row(TensorType::kQ8_0, bytes.data() + 1, out);
  for (int i = 0; i < 96; ++i) EXPECT_EQ(out[i], static_cast<float>(i - 48));
}

// --- Reference models: every quantized tensor against the F16 copy of the same weights.

// F16 rounding of the original F32 weights moves a value by up to |v| * 2^-11; the
// stored F16 scales are rounded likewise. kRelSlack covers both plus float arithmetic.
constexpr float kRelSlack = 1.0f / 1024;

std::vector<float> dequantize_tensor(const TensorInfo& info) {
  std::vector<float> out(info.element_count());
  dequantize_row(info.type, info.data.data(), out);
  return out;
}

struct BlockCheck {
  size_t checked = 0;
  size_t failed = 0;
  std::string first_failure;
};

// Each element of the dequantized block must be the grid point nearest to the F16 value
// within the representable range [lo, hi] of its sub-block with step `step`:
// |deq - clamp(f, lo, hi)| <= step / 2 (+ slack).
void check_element(BlockCheck& check, const std::string& name, size_t index, float f, float deq,
                   float step, float lo, float hi) {
  const float clamped = std::clamp(f, std::min(lo, hi), std::max(lo, hi));
  const float bound =
      0.5f * std::fabs(step) + kRelSlack * (std::fabs(f) + std::max(std::fabs(lo), std::fabs(hi)));
  ++check.checked;
  if (!(std::fabs(deq - clamped) <= bound)) {
    if (check.failed++ == 0) {
      check.first_failure = name + "[" + std::to_string(index) + "]: f16 " + std::to_string(f) +
                            " dequantized " + std::to_string(deq) + " step " + std::to_string(step);
    }
  }
}

void check_against_f16(const ModelFile& quantized, const ModelFile& f16, BlockCheck& check) {
  for (const TensorInfo& info : quantized.tensors()) {
    if (info.type == TensorType::kF32) continue;
    const TensorInfo& reference = f16.tensor(info.name);
    ASSERT_EQ(reference.type, TensorType::kF16) << info.name;
    ASSERT_EQ(reference.element_count(), info.element_count()) << info.name;
    const std::vector<float> want = dequantize_tensor(reference);
    const std::vector<float> got = dequantize_tensor(info);
    const uint8_t* bytes = info.data.data();
    const size_t blocks = info.element_count() / traits(info.type).block_elements;
    for (size_t b = 0; b < blocks; ++b) {
      switch (info.type) {
        case TensorType::kQ8_0: {
          const auto block = quant::load_block<BlockQ8_0>(bytes, b);
          const float d = f16_to_f32(block.d);
          for (size_t i = 32 * b; i < 32 * b + 32; ++i) {
            check_element(check, info.name, i, want[i], got[i], d, -127 * d, 127 * d);
          }
          break;
        }
        case TensorType::kQ4_K:
        case TensorType::kQ5_K: {
          const bool five = info.type == TensorType::kQ5_K;
          const auto* block_bytes = bytes + b * traits(info.type).block_bytes;
          uint16_t d_bits, dmin_bits;
          std::memcpy(&d_bits, block_bytes, 2);
          std::memcpy(&dmin_bits, block_bytes + 2, 2);
          const float d = f16_to_f32(d_bits), dmin = f16_to_f32(dmin_bits);
          for (int s = 0; s < 8; ++s) {
            const auto sm = quant::unpack_k4_scale_min(s, block_bytes + 4);
            const float step = d * sm.scale, lo = -dmin * sm.min;
            const float hi = lo + step * (five ? 31.0f : 15.0f);
            for (size_t i = 256 * b + 32 * s; i < 256 * b + 32 * s + 32; ++i) {
              check_element(check, info.name, i, want[i], got[i], step, lo, hi);
            }
          }
          break;
        }
        case TensorType::kQ6_K: {
          const auto block = quant::load_block<BlockQ6_K>(bytes, b);
          const float d = f16_to_f32(block.d);
          for (int s = 0; s < 16; ++s) {
            const float step = d * block.scales[s];
            for (size_t i = 256 * b + 16 * s; i < 256 * b + 16 * s + 16; ++i) {
              check_element(check, info.name, i, want[i], got[i], step, -32 * step, 31 * step);
            }
          }
          break;
        }
        default:
          FAIL() << info.name << ": unexpected type " << type_name(info.type);
      }
    }
  }
}

class QuantDequantizeReference : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantDequantizeReference, WithinOneStepOfF16) {
  TANDEM_REQUIRE_SHARED();
  const ModelFile f16(testing::reference_path("qwen3moe-tiny-F16.gguf"));
  const ModelFile quantized(testing::reference_path(GetParam()));
  BlockCheck check;
  check_against_f16(quantized, f16, check);
  EXPECT_GT(check.checked, 1000000u);
  EXPECT_EQ(check.failed, 0u) << check.first_failure;
}

INSTANTIATE_TEST_SUITE_P(Files, QuantDequantizeReference,
                         ::testing::Values("qwen3moe-tiny-Q8_0.gguf", "qwen3moe-tiny-Q4_K_M.gguf",
                                           "qwen3moe-tiny-Q4_K-pure.gguf"),
                         [](const auto& param_info) {
                           std::string name = param_info.param.substr(14);
                           name = name.substr(0, name.find('.'));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace tandem
