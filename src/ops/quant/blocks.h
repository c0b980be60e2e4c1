#pragma once
// Block layouts of the quantized tensor types, byte for byte as ggml stores them in
// GGUF files (little-endian; "half" fields are IEEE F16 bit patterns). Each block
// covers kBlockElements consecutive elements of a row.
//
// Rows in files are not guaranteed to be aligned for these structs, so code copies a
// block out with std::memcpy (load_block) instead of casting the row pointer.

#include <cstdint>
#include <cstring>

namespace tandem::quant {

inline constexpr int kLegacyBlock = 32;   // elements per Q4_0 .. Q8_1 block
inline constexpr int kSuperBlock = 256;   // elements per K-quant super-block
inline constexpr int kK4ScaleBytes = 12;  // 8 six-bit scales + 8 six-bit mins

// value = d * (q - 8), q in 0..15. qs[j] holds element j (low nibble) and j + 16 (high).
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kLegacyBlock / 2];
};
// value = d * q + m, q in 0..15; nibble order as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kLegacyBlock / 2];
};
// value = d * (q - 16), q in 0..31: low 4 bits as Q4_0, bit 4 of element j is bit j of
// the little-endian uint32 qh.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kLegacyBlock / 2];
};
// value = d * q + m, q in 0..31; bits as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kLegacyBlock / 2];
};
// value = d * q.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kLegacyBlock];
};
// value = d * q; s = d * sum(q), used by the dot products with Q4_1 / Q5_1.
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kLegacyBlock];
};

// 8 sub-blocks of 32: value = d * scale[j] * q - dmin * min[j], q in 0..15, with the
// 6-bit scale/min pairs packed into `scales` (see unpack_k4_scale_min). qs holds 4
// groups of 64 elements: byte l of group g has element 64g + l (low nibble) and
// 64g + 32 + l (high nibble).
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kK4ScaleBytes];
  uint8_t qs[kSuperBlock / 2];
};
// As Q4_K with q in 0..31: bit 4 of element 64g + l is bit 2g of qh[l], of element
// 64g + 32 + l bit 2g + 1 of qh[l] (l < 32).
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kK4ScaleBytes];
  uint8_t qh[kSuperBlock / 8];
  uint8_t qs[kSuperBlock / 2];
};
// 16 sub-blocks of 16: value = d * scales[j] * (q - 32), q in 0..63. Two halves of 128;
// in half h, element 128h + 32k + l (k < 4, l < 32) has its low 4 bits in
// ql[64h + l + 32 * (k & 1)] (low nibble for k < 2, high for k >= 2) and its top 2 bits
// at bit 2k of qh[32h + l].
struct BlockQ6_K {
  uint8_t ql[kSuperBlock / 2];
  uint8_t qh[kSuperBlock / 4];
  int8_t scales[kSuperBlock / 16];
  uint16_t d;
};
// Activations for K-quant dot products: value = d * q, d an F32; bsums[j] is the sum
// of q over elements 16j .. 16j + 15.
struct BlockQ8_K {
  float d;
  int8_t qs[kSuperBlock];
  int16_t bsums[kSuperBlock / 16];
};

// Sizes as in ops/tensor_type.cpp (and ggml); files depend on them.
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// Copies block `index` of a row that starts at `row` (any alignment).
template <typename Block>
inline Block load_block(const void* row, size_t index) {
  Block block;
  std::memcpy(&block, static_cast<const uint8_t*>(row) + index * sizeof(Block), sizeof(Block));
  return block;
}

template <typename Block>
inline void store_block(void* row, size_t index, const Block& block) {
  std::memcpy(static_cast<uint8_t*>(row) + index * sizeof(Block), &block, sizeof(Block));
}

struct ScaleMin {
  uint8_t scale;
  uint8_t min;
};

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block: for j < 4 the
// low 6 bits of bytes j and j + 4; for j >= 4 the nibbles of byte j + 4 give the low 4
// bits and the top 2 bits of bytes j - 4 (scale) and j (min) give the high 2 bits.
inline ScaleMin unpack_k4_scale_min(int j, const uint8_t* scales) {
  if (j < 4) {
    return {static_cast<uint8_t>(scales[j] & 63), static_cast<uint8_t>(scales[j + 4] & 63)};
  }
  return {static_cast<uint8_t>((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4)),
          static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4))};
}

}  // namespace tandem::quant
