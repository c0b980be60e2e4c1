#include "cluster/shard_cache.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "cluster/shard.h"
#include "gguf/model_file.h"
#include "platform/error.h"

namespace tandem::cluster {
namespace {

namespace fs = std::filesystem;

// "" when `path` is a readable model holding the stage's tensors; else why not.
std::string check_file(const std::string& path, const LoadStage& load) {
  try {
    const ModelFile file(path);
    return stage_mismatch(file, load);
  } catch (const Error& e) {
    return e.what();
  }
}

std::string local_copy_path(const LoadStage& load, const ShardPlaces& places) {
  if (places.models_dir.empty()) return load.model_path;
  return (fs::path(places.models_dir) / fs::path(load.model_path).filename()).string();
}

// Streams the shard into `part`; throws Error on a gap, an overrun or a lost link.
void download(const LoadStage& load, Connection& coordinator, Milliseconds chunk_timeout,
              const std::string& part) {
  std::ofstream out(part, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(str_cat("cannot write ", part));
  coordinator.send_message(ShardRequest{load.stage_index, 0});
  uint64_t written = 0;
  while (written < load.shard_bytes) {
    const Frame frame = coordinator.receive(chunk_timeout);
    if (frame.type == MessageType::kError) {
      throw Error(str_cat("the coordinator could not send the shard: ",
                          from_frame<ErrorMessage>(frame).message));
    }
    const auto chunk = from_frame<ShardChunk>(frame);
    if (chunk.total != load.shard_bytes || chunk.offset != written || chunk.data.empty() ||
        chunk.data.size() > load.shard_bytes - written) {
      throw Error(str_cat("shard chunk of ", chunk.data.size(), " bytes at ", chunk.offset, " of ",
                          chunk.total, " after ", written, " of ", load.shard_bytes, " bytes"));
    }
    out.write(reinterpret_cast<const char*>(chunk.data.data()),
              static_cast<std::streamsize>(chunk.data.size()));
    if (!out) throw Error(str_cat("cannot write ", part, " (disk full?)"));
    written += chunk.data.size();
  }
  out.close();
  if (!out) throw Error(str_cat("cannot write ", part));
}

}  // namespace

std::string shard_cache_path(const LoadStage& load, const std::string& cache_dir) {
  const std::string stem = fs::path(load.model_path).stem().string();
  const std::string name = str_cat(stem, ".layers-", load.first_layer, "-", load.end_layer,
                                   load.has_embedding ? ".in" : "", load.has_output ? ".out" : "",
                                   ".", load.tensors_sha256.substr(0, 16), ".gguf");
  return (fs::path(cache_dir) / "shards" / name).string();
}

std::string resolve_stage_file(const LoadStage& load, const ShardPlaces& places,
                               Connection& coordinator, Milliseconds chunk_timeout,
                               const std::function<void(const std::string&)>& log) {
  if (load.tensors.empty() || load.tensors_sha256.size() != 64) {
    throw Error("the coordinator sent no identity for the stage's tensors");
  }
  std::error_code error;
  const std::string local = local_copy_path(load, places);
  if (fs::exists(local, error)) {
    const std::string why = check_file(local, load);
    if (why.empty()) {
      log(str_cat("shard: using the local model file ", local));
      return local;
    }
    log(str_cat("shard: the local file ", local, " differs from the coordinator's model (", why,
                "); not used"));
  }

  const std::string cached = shard_cache_path(load, places.cache_dir);
  if (fs::exists(cached, error)) {
    const std::string why = check_file(cached, load);
    if (why.empty()) {
      log(str_cat("shard: using the cached shard ", cached));
      return cached;
    }
    log(str_cat("shard: the cached shard ", cached, " is damaged (", why, "); fetching it again"));
    fs::remove(cached, error);
  }

  fs::create_directories(fs::path(cached).parent_path(), error);
  if (error)
    throw Error(str_cat("cannot create the shard cache ", places.cache_dir, ": ", error.message()));
  const std::string part = str_cat(cached, ".part.", ::getpid());
  log(str_cat("shard: streaming ", load.shard_bytes, " bytes (", load.tensors.size(),
              " tensors) from the coordinator into ", cached));
  try {
    download(load, coordinator, chunk_timeout, part);
    const std::string why = check_file(part, load);
    if (!why.empty()) throw Error(str_cat("the streamed shard does not verify: ", why));
    fs::rename(part, cached, error);
    if (error) throw Error(str_cat("cannot move the shard into ", cached, ": ", error.message()));
  } catch (...) {
    fs::remove(part, error);
    throw;
  }
  log(str_cat("shard: fetched and verified ", cached));
  return cached;
}

}  // namespace tandem::cluster
