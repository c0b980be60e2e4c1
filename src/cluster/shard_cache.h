#pragma once
// The node side of shard loading: which file a stage loads its tensors from.
//
//  (a) the node's own copy of the model: "<models_dir>/<file name>" when the node has a
//      models directory, else the coordinator's path; used when it holds the stage's
//      tensors with their SHA-256 (stage_mismatch), else reported and passed over;
//  (b) a verified shard in "<cache_dir>/shards/" named by the stage and its hash; a
//      shard that fails verification is reported, removed and fetched again;
//  (c) else the shard is streamed from the coordinator (ShardRequest, ShardChunks)
//      into "<name>.part", verified, and renamed into the cache, so a partial or
//      damaged download is never taken for a shard.

#include <functional>
#include <string>

#include "cluster/stage_wire.h"
#include "cluster/transport.h"

namespace tandem::cluster {

struct ShardPlaces {
  std::string models_dir;  // empty: the coordinator's path
  std::string cache_dir;   // shards live in <cache_dir>/shards
};

// Where the cached shard of `load` lives.
std::string shard_cache_path(const LoadStage& load, const std::string& cache_dir);

// The file to load the stage from, after (a), (b) or (c) above. `log` receives one line
// per decision. Throws Error when the shard cannot be fetched or does not verify.
std::string resolve_stage_file(const LoadStage& load, const ShardPlaces& places,
                               Connection& coordinator, Milliseconds chunk_timeout,
                               const std::function<void(const std::string&)>& log);

}  // namespace tandem::cluster
