#include "ops/quant/panels.h"

#include <array>
#include <cstring>

#include "ops/quant/blocks.h"
#include "platform/error.h"

namespace tandem {
namespace {

constexpr size_t kBlockElements = quant::kSuperBlock;

// One field of a row's block as it moves into a panel block: `units` pieces of `size`
// bytes from `source` on, piece u of row r going to target + u * piece_step + r * size.
struct FieldMove {
  size_t source;
  size_t target;
  size_t size;
  size_t units;
  size_t piece_step;
};

// The moves of one format and its block size. For the words of a field laid out as
// [k][4 r + e] (a vector per word k): piece_step 32, size 4.
struct PanelFormat {
  size_t block_elements = kBlockElements;
  size_t block_bytes = 0;
  std::array<FieldMove, 5> moves{};
  size_t move_count = 0;
  bool six_bit_levels = false;  // Q6_K: levels recoded as q6_k_levels_to_panel says
};

// Q6_K's 6-bit levels of one row (lane r of the panel block). Element 128 h + 32 k + l
// (quarter k, l = 4 i + e) has low bits from ql and high bits from qh as the format
// defines; in the panel, the four quarters' levels q0..q3 at the same (h, l) take three
// bytes at [h][i][c][4 r + e] (c = 0, 1, 2; 32 bytes each), byte c holding q_c in bits 0-5
// and bits 2c, 2c + 1 of q3 in bits 6-7, so three levels are one AND away and the fourth
// is gathered from the spare bits.
size_t six_bit_offset(size_t h, size_t l, size_t c, size_t lane) {
  return q6_k_panel::kLevels + ((h * 8 + l / 4) * 3 + c) * 32 + 4 * lane + l % 4;
}

void q6_k_levels_to_panel(const uint8_t* block, size_t lane, uint8_t* panel) {
  const uint8_t* ql = block + offsetof(quant::BlockQ6_K, ql);
  const uint8_t* qh = block + offsetof(quant::BlockQ6_K, qh);
  for (size_t h = 0; h < 2; ++h) {
    for (size_t l = 0; l < 32; ++l) {
      const unsigned high = qh[32 * h + l];
      const unsigned low0 = ql[64 * h + l], low1 = ql[64 * h + 32 + l];
      const unsigned q[4] = {(low0 & 0xF) | (high & 3) << 4, (low1 & 0xF) | (high >> 2 & 3) << 4,
                             (low0 >> 4) | (high >> 4 & 3) << 4,
                             (low1 >> 4) | (high >> 6 & 3) << 4};
      for (size_t c = 0; c < 3; ++c) {
        panel[six_bit_offset(h, l, c, lane)] =
            static_cast<uint8_t>(q[c] | (q[3] >> (2 * c) & 3) << 6);
      }
    }
  }
}

void q6_k_levels_from_panel(const uint8_t* panel, size_t lane, uint8_t* block) {
  uint8_t* ql = block + offsetof(quant::BlockQ6_K, ql);
  uint8_t* qh = block + offsetof(quant::BlockQ6_K, qh);
  for (size_t h = 0; h < 2; ++h) {
    for (size_t l = 0; l < 32; ++l) {
      unsigned q[4] = {};
      for (size_t c = 0; c < 3; ++c) {
        const unsigned byte = panel[six_bit_offset(h, l, c, lane)];
        q[c] = byte & 0x3F;
        q[3] |= (byte >> 6) << (2 * c);
      }
      ql[64 * h + l] = static_cast<uint8_t>((q[0] & 0xF) | (q[2] & 0xF) << 4);
      ql[64 * h + 32 + l] = static_cast<uint8_t>((q[1] & 0xF) | (q[3] & 0xF) << 4);
      qh[32 * h + l] =
          static_cast<uint8_t>(q[0] >> 4 | (q[1] >> 4) << 2 | (q[2] >> 4) << 4 | (q[3] >> 4) << 6);
    }
  }
}

PanelFormat panel_format(TensorType type) {
  using quant::BlockQ4_K;
  using quant::BlockQ6_K;
  using quant::BlockQ8_0;
  PanelFormat f;
  if (type == TensorType::kQ4_K) {
    f.block_bytes = sizeof(BlockQ4_K);
    f.moves = {{{offsetof(BlockQ4_K, d), q4_k_panel::kD, 2, 1, 0},
                {offsetof(BlockQ4_K, dmin), q4_k_panel::kDmin, 2, 1, 0},
                {offsetof(BlockQ4_K, scales), q4_k_panel::kScales, 4,
                 size_t{quant::kK4ScaleBytes} / 4, 32},
                {offsetof(BlockQ4_K, qs), q4_k_panel::kLevels, 4, kBlockElements / 8, 32}}};
    f.move_count = 4;
  } else if (type == TensorType::kQ6_K) {
    f.block_bytes = sizeof(BlockQ6_K);
    // The levels are not moved but recoded (q6_k_levels_to_panel).
    f.moves = {{{offsetof(BlockQ6_K, scales), q6_k_panel::kScales, 4, kBlockElements / 64, 32},
                {offsetof(BlockQ6_K, d), q6_k_panel::kD, 2, 1, 0}}};
    f.move_count = 2;
    f.six_bit_levels = true;
  } else if (type == TensorType::kQ8_0) {
    f.block_elements = quant::kLegacyBlock;
    f.block_bytes = sizeof(BlockQ8_0);
    f.moves = {
        {{offsetof(BlockQ8_0, d), q8_0_panel::kD, 2, 1, 0},
         {offsetof(BlockQ8_0, qs), q8_0_panel::kLevels, 4, size_t{quant::kLegacyBlock} / 4, 32}}};
    f.move_count = 2;
  }
  return f;
}

// Byte offset of super-block `block` of row `row` within a panel matrix of `blocks`
// super-blocks per row: the start of its panel block.
size_t panel_block_offset(const PanelFormat& f, size_t blocks, size_t row, size_t block) {
  return ((row / kPanelRows) * blocks + block) * kPanelRows * f.block_bytes;
}

}  // namespace

bool has_panel_layout(TensorType type) {
  return type == TensorType::kQ4_K || type == TensorType::kQ6_K || type == TensorType::kQ8_0;
}

bool fits_panel_layout(TensorType type, size_t rows, size_t cols) {
  return has_panel_layout(type) && rows > 0 && rows % kPanelRows == 0 && cols > 0 &&
         cols % panel_format(type).block_elements == 0;
}

void pack_panels(TensorType type, size_t rows, size_t cols, std::span<const uint8_t> src,
                 std::span<uint8_t> dst) {
  TANDEM_CHECK(fits_panel_layout(type, rows, cols), "no panel layout for ", rows, "x", cols, " ",
               type_name(type));
  const PanelFormat f = panel_format(type);
  const size_t blocks = cols / f.block_elements;
  const size_t bytes = rows * blocks * f.block_bytes;
  TANDEM_CHECK(src.size() == bytes && dst.size() == bytes, "panels of ", bytes, " bytes from ",
               src.size(), " into ", dst.size());
  TANDEM_CHECK(src.data() + bytes <= dst.data() || dst.data() + bytes <= src.data(),
               "panels packed in place");
  for (size_t r = 0; r < rows; ++r) {
    const size_t lane = r % kPanelRows;
    for (size_t b = 0; b < blocks; ++b) {
      const uint8_t* block = src.data() + (r * blocks + b) * f.block_bytes;
      uint8_t* panel = dst.data() + panel_block_offset(f, blocks, r, b);
      for (size_t m = 0; m < f.move_count; ++m) {
        const FieldMove& move = f.moves[m];
        for (size_t u = 0; u < move.units; ++u) {
          std::memcpy(panel + move.target + u * move.piece_step + lane * move.size,
                      block + move.source + u * move.size, move.size);
        }
      }
      if (f.six_bit_levels) q6_k_levels_to_panel(block, lane, panel);
    }
  }
}

void unpack_panel_row(TensorType type, size_t cols, std::span<const uint8_t> panels, size_t row,
                      std::span<uint8_t> out) {
  TANDEM_CHECK(has_panel_layout(type) && cols % panel_format(type).block_elements == 0,
               "no panel layout for rows of ", cols, " ", type_name(type));
  const PanelFormat f = panel_format(type);
  const size_t blocks = cols / f.block_elements;
  TANDEM_CHECK(out.size() == blocks * f.block_bytes, "row of ", blocks * f.block_bytes,
               " bytes into ", out.size());
  const size_t group_end = (row / kPanelRows + 1) * kPanelRows * blocks * f.block_bytes;
  TANDEM_CHECK(group_end <= panels.size(), "row ", row, " beyond panels of ", panels.size(),
               " bytes");
  const size_t lane = row % kPanelRows;
  for (size_t b = 0; b < blocks; ++b) {
    const uint8_t* panel = panels.data() + panel_block_offset(f, blocks, row, b);
    uint8_t* block = out.data() + b * f.block_bytes;
    for (size_t m = 0; m < f.move_count; ++m) {
      const FieldMove& move = f.moves[m];
      for (size_t u = 0; u < move.units; ++u) {
        std::memcpy(block + move.source + u * move.size,
                    panel + move.target + u * move.piece_step + lane * move.size, move.size);
      }
    }
    if (f.six_bit_levels) q6_k_levels_from_panel(panel, lane, block);
  }
}

}  // namespace tandem
