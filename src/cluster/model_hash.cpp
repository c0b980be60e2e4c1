#include "cluster/model_hash.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "platform/error.h"

namespace tandem::cluster {
namespace {

constexpr const char* kSidecarHeader = "tandem-sha256 1";
constexpr size_t kReadBytes = 4u << 20;

std::string to_hex(const unsigned char* bytes, size_t count) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(count * 2);
  for (size_t i = 0; i < count; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

bool is_hex_digest(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Writes through a temporary file and a rename, so a reader never sees half a sidecar.
bool write_text(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary, std::ios::trunc);
    if (!file) return false;
    file << text;
    if (!file.flush()) return false;
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) std::filesystem::remove(temporary, error);
  return !error;
}

struct DigestDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

}  // namespace

FileStamp stamp_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw Error(str_cat(path, ": not found"));
  if (!S_ISREG(info.st_mode)) throw Error(str_cat(path, ": not a regular file"));
  FileStamp stamp;
  stamp.path = std::filesystem::absolute(path).lexically_normal().string();
  stamp.size_bytes = static_cast<uint64_t>(info.st_size);
  stamp.mtime_ns = static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
  return stamp;
}

std::string sha256_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(str_cat(path, ": cannot open for hashing"));
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> context(EVP_MD_CTX_new());
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    throw Error("cannot start a SHA-256 digest");
  }
  std::vector<char> buffer(kReadBytes);
  while (file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = static_cast<size_t>(file.gcount());
    if (got > 0 && EVP_DigestUpdate(context.get(), buffer.data(), got) != 1) {
      throw Error("SHA-256 digest update failed");
    }
  }
  if (file.bad()) throw Error(str_cat(path, ": read failed while hashing"));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1) throw Error("SHA-256 final failed");
  return to_hex(digest, length);
}

std::string format_sidecar(const FileStamp& stamp, const std::string& sha256) {
  return str_cat(kSidecarHeader, "\n", stamp.path, "\n", stamp.size_bytes, " ", stamp.mtime_ns,
                 "\n", sha256, "\n");
}

std::optional<std::string> parse_sidecar(const std::string& text, const FileStamp& stamp) {
  std::istringstream in(text);
  std::string header, path, digest;
  uint64_t size = 0;
  int64_t mtime = 0;
  if (!std::getline(in, header) || header != kSidecarHeader) return std::nullopt;
  if (!std::getline(in, path) || path != stamp.path) return std::nullopt;
  if (!(in >> size >> mtime >> digest)) return std::nullopt;
  if (size != stamp.size_bytes || mtime != stamp.mtime_ns || !is_hex_digest(digest)) {
    return std::nullopt;
  }
  return digest;
}

std::string sidecar_path(const FileStamp& stamp, const std::string& cache_dir) {
  if (cache_dir.empty()) return stamp.path + ".sha256";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(stamp.path.data(), stamp.path.size(), digest, &length, EVP_sha256(), nullptr) !=
      1) {
    throw Error("SHA-256 of a path failed");
  }
  const std::string name = std::filesystem::path(stamp.path).filename().string();
  return (std::filesystem::path(cache_dir) / (name + "." + to_hex(digest, 8) + ".sha256")).string();
}

FileHash hash_model_file(const std::string& path, const std::string& cache_dir) {
  const FileStamp stamp = stamp_file(path);
  const std::string sidecar = sidecar_path(stamp, cache_dir);
  FileHash out;
  out.size_bytes = stamp.size_bytes;
  if (const auto text = read_text(sidecar)) {
    if (auto digest = parse_sidecar(*text, stamp)) {
      out.sha256 = *digest;
      out.cached = true;
      out.sidecar = sidecar;
      return out;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  out.sha256 = sha256_file(path);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The file may have changed while it was read: remember the hash only if it did not.
  if (stamp_file(path) != stamp) return out;
  std::error_code ignored;
  if (!cache_dir.empty()) std::filesystem::create_directories(cache_dir, ignored);
  if (write_text(sidecar, format_sidecar(stamp, out.sha256))) out.sidecar = sidecar;
  return out;
}

}  // namespace tandem::cluster
