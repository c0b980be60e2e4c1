// libFuzzer target: the GGUF parser must refuse any input with tandem::Error, never crash.

#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/gguf_file.h"
#include "platform/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    tandem::GgufFile file =
        tandem::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
    // Touch every view so an out-of-range span would be caught by ASan.
    uint8_t sum = 0;
    for (const auto& tensor : file.tensors()) {
      if (!tensor.data.empty()) sum ^= tensor.data.front() ^ tensor.data.back();
    }
    (void)sum;
  } catch (const tandem::Error&) {
  }
  return 0;
}
