#pragma once
// Synthetic prompts for load tests: deterministic English-like text of about N tokens.
// Each seed gives a different text from its first word on, so a server's prefix cache
// cannot reuse one request's prompt for the next.

#include <cstdint>
#include <string>

namespace tandem::bench {

// About `approx_tokens` tokens: words from a list of common English words, each one
// token (with its leading space) in the usual BPE vocabularies, with a period every
// few words. The same seed always gives the same text.
std::string synthetic_prompt(int approx_tokens, uint64_t seed);

}  // namespace tandem::bench
