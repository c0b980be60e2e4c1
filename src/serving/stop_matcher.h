#pragma once
// Stop strings over streamed text: releases text as soon as it cannot be part of a
// stop string, and cuts the output where a stop string begins.

#include <string>
#include <string_view>
#include <vector>

namespace tandem {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Result {
    std::string text;      // safe to send now
    bool stopped = false;  // a stop string was found; generation must end
  };
  Result feed(std::string_view text);
  // End of generation: what was held back.
  std::string finish();

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace tandem
