#pragma once
// Weight panels: a layout of K-quant and Q8_0 matrices for the products of ops/quant/simd, made
// once when a model is loaded. The 8 rows of a group are stored super-block by
// super-block, each super-block of the 8 rows as one panel block in which word k of
// every row's block lies in 32-bit lane r of a vector (rows 8G .. 8G + 7 take the same
// bytes as before, only reordered):
//
//   Q4_K panel block (1152 bytes = 8 x 144)    Q6_K panel block (1680 bytes = 8 x 210)
//     uint16 d[8], dmin[8]                        uint8  levels[2][8][3][32]
//     uint8  scales[3][32]                        int8   scales[4][32]
//     uint8  qs[4][8][32]                         uint16 d[8]
//
// where [k][4 r + e] is byte 4 k + e of row r's field, and [g][i][4 r + e] byte
// 32 g + 4 i + e of it. Q6_K's levels are recoded: of the four elements 128 h + 32 k + l
// (k = 0..3, l = 4 i + e) of row r, [h][i][c][4 r + e] holds level k = c in bits 0-5 and
// bits 2c, 2c + 1 of level 3 in bits 6-7. A kernel then reads one stream per 8 rows, and
// one 32-byte load gives 4 consecutive elements of each of the 8 rows with no transposing
// (and for Q6_K no assembly of low and high bits but for one level in four) at run time.
// Q8_0's panel block is one 32-element block of the 8 rows (272 bytes = 8 x 34): uint16
// d[8], then int8 qs[8][32], [i][4 r + e] holding byte 4 i + e of row r's qs.
// Group G's panel blocks are at bytes [G * blocks * B, (G + 1) * blocks * B) for
// blocks = cols / 256 super-blocks (cols / 32 blocks for Q8_0) of B bytes.

#include <cstddef>
#include <cstdint>
#include <span>

#include "ops/tensor_type.h"

namespace tandem {

inline constexpr size_t kPanelRows = 8;

// Byte offsets of the fields in a panel block (the layouts above), for the kernels.
namespace q4_k_panel {
inline constexpr size_t kD = 0;
inline constexpr size_t kDmin = 16;
inline constexpr size_t kScales = 32;   // scales[3][32]
inline constexpr size_t kLevels = 128;  // qs[4][8][32]
}  // namespace q4_k_panel
namespace q6_k_panel {
inline constexpr size_t kLevels = 0;     // levels[2][8][3][32]
inline constexpr size_t kScales = 1536;  // scales[4][32]
inline constexpr size_t kD = 1664;
}  // namespace q6_k_panel
namespace q8_0_panel {
inline constexpr size_t kD = 0;
inline constexpr size_t kLevels = 16;  // qs[8][32]
}  // namespace q8_0_panel

// True for the types with a panel layout: Q4_K, Q6_K, Q8_0.
bool has_panel_layout(TensorType type);
// True when a rows x cols matrix of `type` can be stored as panels: the type has a
// layout, rows are whole groups of 8 and cols whole blocks of the type.
bool fits_panel_layout(TensorType type, size_t rows, size_t cols);

// Reorders a rows x cols matrix of row-major blocks (src) into panels (dst, the same
// size; the two must not overlap). Requires fits_panel_layout.
void pack_panels(TensorType type, size_t rows, size_t cols, std::span<const uint8_t> src,
                 std::span<uint8_t> dst);
// Row `row` of a panel matrix (panels: whole groups, as pack_panels wrote them) back in
// the row layout: row_bytes(type, cols) bytes into out.
void unpack_panel_row(TensorType type, size_t cols, std::span<const uint8_t> panels, size_t row,
                      std::span<uint8_t> out);

}  // namespace tandem
