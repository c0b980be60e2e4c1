#pragma once
// Memory use of this process, from /proc/self/status (Linux).

#include <cstdint>

namespace tandem {

// Peak resident set size in bytes (VmHWM; getrusage's ru_maxrss where /proc is absent).
uint64_t peak_resident_bytes();

}  // namespace tandem
