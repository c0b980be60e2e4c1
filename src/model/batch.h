#pragma once
// Batch: the tokens of one forward step, plain data. Tokens of several sequences may be
// mixed in one step (prefill of one request beside decode steps of others): each row
// has its token id, its position in its sequence, the sequence id, and whether its
// logits are wanted. Within a sequence, rows appear in increasing position order.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tandem {

struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  std::vector<int32_t> sequence_ids;
  std::vector<uint8_t> wants_logits;  // 1: output() returns a row for this token

  size_t size() const { return tokens.size(); }
  void add(int32_t token, int32_t position, int32_t sequence_id, bool logits) {
    tokens.push_back(token);
    positions.push_back(position);
    sequence_ids.push_back(sequence_id);
    wants_logits.push_back(logits ? 1 : 0);
  }
  size_t logit_count() const {
    size_t count = 0;
    for (uint8_t wanted : wants_logits) count += wanted;
    return count;
  }

  // `tokens` of sequence `sequence_id` at positions first_position, first_position + 1, ...;
  // logits for every row when all_logits, else for the last one only.
  static Batch sequence(std::span<const int32_t> tokens, int32_t first_position,
                        int32_t sequence_id, bool all_logits) {
    Batch batch;
    for (size_t i = 0; i < tokens.size(); ++i) {
      batch.add(tokens[i], first_position + static_cast<int32_t>(i), sequence_id,
                all_logits || i + 1 == tokens.size());
    }
    return batch;
  }
};

}  // namespace tandem
