#pragma once
// The message of the tandem::Error a body throws, or "" when it throws none: for tests
// that check what a refusal says.

#include <functional>
#include <string>

#include "platform/error.h"

namespace tandem::testing {

inline std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace tandem::testing
