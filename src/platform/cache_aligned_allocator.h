#pragma once
// CacheAlignedAllocator: a std::allocator whose blocks start on a 64-byte cache line, for
// buffers that several threads write in parts (a part that starts on a line boundary
// shares no line with its neighbour's part). Elements a container adds without a value
// (vector::resize) are default-initialized, as `new T` does: left unset for arithmetic
// types, so a buffer about to be overwritten is not first filled with zeros.

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace tandem {

inline constexpr size_t kCacheLine = 64;

template <class T>
struct CacheAlignedAllocator {
  using value_type = T;

  CacheAlignedAllocator() = default;
  template <class U>
  explicit CacheAlignedAllocator(const CacheAlignedAllocator<U>& /*other*/) {}

  T* allocate(size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kCacheLine}));
  }
  void deallocate(T* p, size_t /*n*/) { ::operator delete (p, std::align_val_t{kCacheLine}); }

  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <class U>
  bool operator==(const CacheAlignedAllocator<U>& /*other*/) const {
    return true;
  }
};

}  // namespace tandem
