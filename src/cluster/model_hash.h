#pragma once
// SHA-256 of a model file, remembered in a small sidecar file so that a multi-gigabyte
// model is hashed once, not on every `tandem doctor` or node query. The sidecar is keyed
// by the file's absolute path, size and modification time: any change recomputes it.
// Sidecars live in a cache directory (model directories are often read-only or shared),
// named "<file name>.<first 16 hex digits of SHA-256(absolute path)>.sha256".
//
// Sidecar text (one field per line):
//   tandem-sha256 1
//   <absolute path>
//   <size in bytes> <mtime in ns since the epoch>
//   <64 lower-case hex digits>

#include <cstdint>
#include <optional>
#include <string>

namespace tandem::cluster {

struct FileHash {
  std::string sha256;  // 64 lower-case hex digits
  uint64_t size_bytes = 0;
  double seconds = 0;   // time spent hashing now; 0 when the sidecar was used
  bool cached = false;  // read from the sidecar
  std::string sidecar;  // where the hash is remembered; empty when no place was writable
};

struct FileStamp {
  std::string path;  // absolute
  uint64_t size_bytes = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// Throws Error when `path` is missing or not a regular file.
FileStamp stamp_file(const std::string& path);
// Hashes the whole file in 4 MiB reads. Throws Error on a read failure.
std::string sha256_file(const std::string& path);

std::string format_sidecar(const FileStamp& stamp, const std::string& sha256);
// The hash recorded in `text` when it is a well-formed sidecar for exactly `stamp`.
std::optional<std::string> parse_sidecar(const std::string& text, const FileStamp& stamp);

// Where the sidecar of `stamp` lives in `cache_dir` ("<path>.sha256" when it is empty).
std::string sidecar_path(const FileStamp& stamp, const std::string& cache_dir);

// The hash of `path`, from its sidecar when that matches; else computed and written there
// (creating `cache_dir`; a sidecar that cannot be written is skipped, not an error).
// Throws Error when `path` is missing or unreadable.
FileHash hash_model_file(const std::string& path, const std::string& cache_dir);

}  // namespace tandem::cluster
