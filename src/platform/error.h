#pragma once
// Errors and checks.
//
// Recoverable failures (bad files, bad requests, network trouble) throw tandem::Error,
// which front ends turn into an exit code or an HTTP status. Broken invariants are
// programming errors: TANDEM_CHECK aborts in every build, TANDEM_DCHECK only in debug.

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace tandem {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Concatenates its arguments with operator<< into a string.
template <typename... Parts>
std::string str_cat(const Parts&... parts);

[[noreturn]] inline void check_failed(const char* condition, const char* file, int line,
                                      const std::string& message) {
  std::fprintf(stderr, "%s:%d: check failed: %s %s\n", file, line, condition, message.c_str());
  std::abort();
}

}  // namespace tandem

#include <sstream>

template <typename... Parts>
std::string tandem::str_cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

#define TANDEM_CHECK(condition, ...)                                            \
  do {                                                                          \
    if (!(condition)) {                                                         \
      ::tandem::check_failed(#condition, __FILE__, __LINE__,                    \
                             ::tandem::str_cat("" __VA_OPT__(, ) __VA_ARGS__)); \
    }                                                                           \
  } while (false)

#ifdef NDEBUG
#define TANDEM_DCHECK(condition, ...) \
  do {                                \
  } while (false)
#else
#define TANDEM_DCHECK(condition, ...) TANDEM_CHECK(condition __VA_OPT__(, ) __VA_ARGS__)
#endif
