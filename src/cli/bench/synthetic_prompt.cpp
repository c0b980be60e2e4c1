#include "cli/bench/synthetic_prompt.h"

#include <array>
#include <string_view>

#include "model/sampler.h"

namespace tandem::bench {
namespace {

constexpr std::array<std::string_view, 96> kWords = {
    "the",      "time",    "people",   "year",   "way",    "day",     "man",     "thing",
    "woman",    "life",    "child",    "world",  "school", "state",   "family",  "group",
    "country",  "problem", "hand",     "part",   "place",  "case",    "week",    "company",
    "system",   "program", "question", "work",   "number", "night",   "point",   "home",
    "water",    "room",    "mother",   "area",   "money",  "story",   "fact",    "month",
    "lot",      "right",   "study",    "book",   "eye",    "job",     "word",    "business",
    "issue",    "side",    "kind",     "head",   "house",  "service", "friend",  "father",
    "power",    "hour",    "game",     "line",   "end",    "member",  "law",     "car",
    "city",     "name",    "team",     "minute", "idea",   "kid",     "body",    "back",
    "parent",   "face",    "others",   "level",  "office", "door",    "health",  "person",
    "art",      "war",     "history",  "party",  "result", "change",  "morning", "reason",
    "research", "girl",    "guy",      "moment", "air",    "teacher", "force",   "education"};

}  // namespace

std::string synthetic_prompt(int approx_tokens, uint64_t seed) {
  Random random(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B9E01Dull);
  // The leading number makes every prompt differ from its first token; it and the
  // closing instruction count for about eight tokens of the budget.
  std::string text = "Text " + std::to_string(seed) + ":";
  // Words and periods each count as one token.
  const int budget = approx_tokens > 9 ? approx_tokens - 8 : 1;
  int used = 0;
  int since_period = 0;
  while (used < budget) {
    text += ' ';
    text += kWords[random.next() % kWords.size()];
    ++used;
    if (++since_period >= 6 + static_cast<int>(random.next() % 8) && used < budget) {
      text += '.';
      ++used;
      since_period = 0;
    }
  }
  text += ". Continue the text.";
  return text;
}

}  // namespace tandem::bench
