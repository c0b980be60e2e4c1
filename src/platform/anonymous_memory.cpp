#include "platform/anonymous_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "platform/error.h"

namespace tandem {

AnonymousMemory::AnonymousMemory(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  void* mapping =
      ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) {
    size_ = 0;
    throw Error(str_cat("cannot allocate ", bytes, " bytes of memory: ", std::strerror(errno)));
  }
#ifdef MADV_HUGEPAGE
  // Advice only: without transparent huge pages the memory works the same.
  ::madvise(mapping, bytes, MADV_HUGEPAGE);
#endif
  data_ = static_cast<uint8_t*>(mapping);
}

AnonymousMemory::~AnonymousMemory() { release(); }

AnonymousMemory::AnonymousMemory(AnonymousMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

AnonymousMemory& AnonymousMemory::operator=(AnonymousMemory&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void AnonymousMemory::release() {
  if (data_ != nullptr) {
    ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
  }
}

}  // namespace tandem
