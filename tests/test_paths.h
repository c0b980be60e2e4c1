#pragma once
// Where tests find ../shared/reference and the tandem binary. Tests that need the
// reference data call TANDEM_REQUIRE_SHARED() and are skipped with a message without it.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace tandem::testing {

inline std::string shared_dir() {
  if (const char* env = std::getenv("TANDEM_SHARED_DIR")) return env;
  return TANDEM_SHARED_DIR;
}
inline std::string reference_path(const std::string& name) {
  return shared_dir() + "/reference/" + name;
}
inline bool have_reference() { return std::filesystem::exists(reference_path("README.md")); }
inline std::string tandem_binary() { return TANDEM_BINARY; }
inline std::string delay_proxy_binary() { return TANDEM_DELAY_PROXY; }

}  // namespace tandem::testing

#define TANDEM_REQUIRE_SHARED()                                                 \
  do {                                                                          \
    if (!::tandem::testing::have_reference()) {                                 \
      GTEST_SKIP() << "../shared/reference is absent; reference tests skipped"; \
    }                                                                           \
  } while (false)
