#pragma once
// Zeroed private memory from the kernel (an anonymous mapping), asked to be backed by
// transparent huge pages where the kernel offers them. Model weights copied here are
// streamed by the CPU through 2 MiB pages instead of 4 KiB file pages: a TLB entry covers
// 512 times as much, and the hardware prefetchers, which stop at page boundaries, run on.
// Owns the mapping; move-only.

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem {

class AnonymousMemory {
 public:
  AnonymousMemory() = default;
  // Throws tandem::Error when the kernel refuses `bytes`.
  explicit AnonymousMemory(size_t bytes);
  ~AnonymousMemory();
  AnonymousMemory(AnonymousMemory&& other) noexcept;
  AnonymousMemory& operator=(AnonymousMemory&& other) noexcept;
  AnonymousMemory(const AnonymousMemory&) = delete;
  AnonymousMemory& operator=(const AnonymousMemory&) = delete;

  std::span<uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tandem
