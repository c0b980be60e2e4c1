#pragma once
// A read-only memory mapping of a whole file. Owns the mapping; move-only.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace tandem {

class MappedFile {
 public:
  // Maps `path` read-only. Throws tandem::Error naming the file when it cannot.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

  // Hints the kernel that the range will be read soon (MADV_WILLNEED).
  void prefetch(size_t offset, size_t length) const;
  // Drops the process's pages of a range (MADV_DONTNEED): they leave its resident set
  // and are read again from the page cache or the file if touched later.
  void release_pages(size_t offset, size_t length) const;
  // Whether `p` points into the mapping.
  bool contains(const uint8_t* p) const { return p >= data_ && p < data_ + size_; }

 private:
  void release();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tandem
