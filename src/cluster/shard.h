#pragma once
// Stage shards: the tensors one pipeline stage reads, their identity, and the GGUF file
// that holds only them.
//
// Identity: the stage's tensors in the coordinator's file order (name, type, shape,
// bytes) and one SHA-256 over them,
//   for each tensor: name, 0, type u32, dims u32, dims x i64, bytes u64, data bytes
// (little-endian), so any file holding the same tensors with the same bytes, whole
// model or shard, hashes the same, and a different quantization or edit does not.
//
// Shard file: GGUF v3 with the model's metadata (minus split.*, plus <arch>.vocab_size
// when absent, since a middle stage has no token_embd to count the vocabulary from)
// and only the stage's tensors, laid out by GgufWriter. The coordinator produces its
// bytes on the fly (ShardStream); a node writes them to its cache and verifies them.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cluster/stage_wire.h"
#include "gguf/gguf_writer.h"
#include "gguf/model_file.h"

namespace tandem::cluster {

// Does the stage of layers [first, end) (plus embedding / output) read tensor `name`?
// Tensors outside blk.* other than token_embd / output_norm / output go to every stage.
bool stage_reads_tensor(const std::string& name, const LoadStage& load, bool tied_output);

// The tensors of `file` the stage reads, in file order.
std::vector<const TensorInfo*> stage_tensor_infos(const ModelFile& file, const LoadStage& load);

// Sets load.tensors, load.tensors_sha256 and load.shard_bytes from `file`. The layer
// range and ends must be set. The hash reads the stage's tensor bytes once; with a
// `memo_dir` it is remembered in <memo_dir>/stages/, keyed by the path, size and
// modification time of every file of the model and the stage's selection, so a large
// model is not read again at every start (a changed file is hashed again).
void describe_stage(const ModelFile& file, LoadStage& load, const std::string& memo_dir = "");

// $XDG_CACHE_HOME/tandem, else $HOME/.cache/tandem, else ".".
std::string default_cache_dir();

// "" when `file` holds every tensor of load.tensors with the same type, shape and size,
// and their SHA-256 is load.tensors_sha256; else what differs. Reads those tensors.
std::string stage_mismatch(const ModelFile& file, const LoadStage& load);

// The shard file's layout: metadata and tensor declarations, nothing written yet.
GgufWriter shard_layout(const ModelFile& file, const LoadStage& load);

// The bytes of a stage's shard file, produced from the model's mapping on demand.
class ShardStream {
 public:
  ShardStream(const ModelFile& file, const LoadStage& load);
  uint64_t size() const { return size_; }
  // Bytes [offset, offset + out.size()) of the shard file; throws past its end.
  void read(uint64_t offset, std::span<uint8_t> out) const;

 private:
  struct Piece {
    uint64_t offset = 0;  // in the shard file
    std::span<const uint8_t> bytes;
  };
  std::vector<uint8_t> header_;
  std::vector<Piece> pieces_;  // header, then each tensor's data; gaps are zero padding
  uint64_t size_ = 0;
};

}  // namespace tandem::cluster
