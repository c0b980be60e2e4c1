#include "cluster/shard.h"

#include <openssl/evp.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "cluster/model_hash.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

std::string to_hex(const unsigned char* bytes, size_t count) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
      throw Error("cannot start SHA-256");
    }
  }
  void update(const void* data, size_t size) {
    if (EVP_DigestUpdate(context_.get(), data, size) != 1) throw Error("SHA-256 update failed");
  }
  template <typename T>
  void scalar(T value) {  // little-endian hosts only (x86-64, ARM64)
    update(&value, sizeof(value));
  }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context_.get(), digest, &length) != 1) throw Error("SHA-256 failed");
    return to_hex(digest, length);
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> context_;
};

void hash_tensor(Sha256& sha, const StageTensor& t, std::span<const uint8_t> data) {
  sha.update(t.name.data(), t.name.size());
  sha.scalar<uint8_t>(0);
  sha.scalar<uint32_t>(t.type);
  sha.scalar<uint32_t>(static_cast<uint32_t>(t.shape.size()));
  for (int64_t d : t.shape) sha.scalar<int64_t>(d);
  sha.scalar<uint64_t>(t.bytes);
  sha.update(data.data(), data.size());
}

StageTensor describe_tensor(const TensorInfo& info) {
  return {info.name, static_cast<uint32_t>(info.type), info.shape, info.bytes};
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += str_cat(i ? ", " : "", shape[i]);
  return out + "]";
}

std::span<const uint8_t> tensor_data(const TensorInfo& info) {
  if (info.panels) {
    throw Error(str_cat("tensor ", info.name, " is held as panels, not as the file's bytes"));
  }
  if (info.data.size() < info.bytes) {
    throw Error(str_cat("tensor ", info.name, " has ", info.data.size(), " of its ", info.bytes,
                        " bytes in the file"));
  }
  return info.data.first(info.bytes);
}

}  // namespace

bool stage_reads_tensor(const std::string& name, const LoadStage& load, bool tied_output) {
  if (name.rfind("blk.", 0) == 0) {
    const size_t dot = name.find('.', 4);
    size_t layer = 0;
    try {
      layer = std::stoul(name.substr(4, dot - 4));
    } catch (const std::exception&) {
      return true;  // not a layer tensor after all: every stage takes it
    }
    return layer >= load.first_layer && layer < load.end_layer;
  }
  if (name == "token_embd.weight") return load.has_embedding || (load.has_output && tied_output);
  if (name.rfind("output", 0) == 0) return load.has_output;
  return true;
}

std::vector<const TensorInfo*> stage_tensor_infos(const ModelFile& file, const LoadStage& load) {
  const bool tied = file.find_tensor("output.weight") == nullptr;
  std::vector<const TensorInfo*> out;
  for (const TensorInfo& info : file.tensors()) {
    if (stage_reads_tensor(info.name, load, tied)) out.push_back(&info);
  }
  return out;
}

std::string default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/tandem";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.cache/tandem";
  }
  return ".";
}

void describe_stage(const ModelFile& file, LoadStage& load, const std::string& memo_dir) {
  load.tensors.clear();
  const std::vector<const TensorInfo*> infos = stage_tensor_infos(file, load);
  for (const TensorInfo* info : infos) load.tensors.push_back(describe_tensor(*info));
  load.shard_bytes = shard_layout(file, load).file_size();

  std::string key = "tandem-stage-sha256 1\n";
  std::string memo;
  if (!memo_dir.empty()) {
    for (const auto& part : file.files()) {
      const FileStamp stamp = stamp_file(part->name());
      key += str_cat(stamp.path, " ", stamp.size_bytes, " ", stamp.mtime_ns, "\n");
    }
    key += str_cat("layers ", load.first_layer, " ", load.end_layer, " in ", load.has_embedding,
                   " out ", load.has_output, "\n");
    Sha256 name;
    name.update(key.data(), key.size());
    memo = (std::filesystem::path(memo_dir) / "stages" / (name.hex().substr(0, 32) + ".sha256"))
               .string();
    std::ifstream in(memo);
    std::stringstream text;
    text << in.rdbuf();
    const std::string content = text.str();
    if (content.size() == key.size() + 65 && content.compare(0, key.size(), key) == 0 &&
        content.back() == '\n') {
      load.tensors_sha256 = content.substr(key.size(), 64);
      return;
    }
  }
  Sha256 sha;
  for (size_t i = 0; i < infos.size(); ++i)
    hash_tensor(sha, load.tensors[i], tensor_data(*infos[i]));
  load.tensors_sha256 = sha.hex();
  if (memo.empty()) return;
  // Through a temporary file and a rename; a memo that cannot be written is skipped.
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(memo).parent_path(), error);
  const std::string temporary = str_cat(memo, ".", ::getpid(), ".tmp");
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << key << load.tensors_sha256 << "\n";
    if (!out.flush()) return;
  }
  std::filesystem::rename(temporary, memo, error);
  if (error) std::filesystem::remove(temporary, error);
}

std::string stage_mismatch(const ModelFile& file, const LoadStage& load) {
  Sha256 sha;
  for (const StageTensor& wanted : load.tensors) {
    const TensorInfo* info = file.find_tensor(wanted.name);
    if (info == nullptr) return str_cat("it has no tensor ", wanted.name);
    const StageTensor have = describe_tensor(*info);
    if (have != wanted) {
      return str_cat("its tensor ", wanted.name, " is ", type_name(info->type), " ",
                     shape_text(have.shape), " of ", have.bytes, " bytes, the coordinator's is ",
                     type_name(static_cast<TensorType>(wanted.type)), " ", shape_text(wanted.shape),
                     " of ", wanted.bytes, " bytes");
    }
    if (info->data.size() < info->bytes) return str_cat("its tensor ", wanted.name, " is cut off");
    hash_tensor(sha, have, tensor_data(*info));
  }
  const std::string hash = sha.hex();
  if (hash != load.tensors_sha256) {
    return str_cat("the SHA-256 of the stage's tensors is ", hash.substr(0, 16),
                   "..., the coordinator's ", load.tensors_sha256.substr(0, 16), "...");
  }
  return "";
}

GgufWriter shard_layout(const ModelFile& file, const LoadStage& load) {
  GgufWriter writer;
  for (const auto& [key, value] : file.metadata()) {
    if (key.rfind("split.", 0) == 0) continue;  // one file, whatever the source was
    writer.add(key, value);
  }
  const std::string vocab_key = file.arch_key("vocab_size");
  if (!file.has(vocab_key)) {
    const TensorInfo& embedding = file.tensor("token_embd.weight");
    writer.add_uint32(vocab_key, static_cast<uint32_t>(embedding.row_count()));
  }
  for (const StageTensor& t : load.tensors) {
    writer.add_tensor({t.name, static_cast<TensorType>(t.type), t.shape});
  }
  return writer;
}

ShardStream::ShardStream(const ModelFile& file, const LoadStage& load) {
  const GgufWriter layout = shard_layout(file, load);
  header_ = layout.header();
  size_ = layout.file_size();
  pieces_.push_back({0, header_});
  const std::vector<uint64_t> offsets = layout.tensor_offsets();
  for (size_t i = 0; i < load.tensors.size(); ++i) {
    const StageTensor& t = load.tensors[i];
    const TensorInfo& info = file.tensor(t.name);
    if (describe_tensor(info) != t) throw Error(str_cat("tensor ", t.name, " changed"));
    pieces_.push_back({header_.size() + offsets[i], tensor_data(info)});
  }
}

void ShardStream::read(uint64_t offset, std::span<uint8_t> out) const {
  if (offset > size_ || out.size() > size_ - offset) {
    throw Error(str_cat("bytes ", offset, "..", offset + out.size(), " of a shard of ", size_));
  }
  std::fill(out.begin(), out.end(), uint8_t{0});  // padding between pieces
  const uint64_t end = offset + out.size();
  for (const Piece& piece : pieces_) {
    const uint64_t piece_end = piece.offset + piece.bytes.size();
    if (piece_end <= offset || piece.offset >= end) continue;
    const uint64_t from = std::max(offset, piece.offset);
    const uint64_t to = std::min(end, piece_end);
    std::memcpy(out.data() + (from - offset), piece.bytes.data() + (from - piece.offset),
                to - from);
  }
}

}  // namespace tandem::cluster
