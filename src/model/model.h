#pragma once
// Model: the forward pass of one architecture, in stages so that a node of a pipeline
// can run only a range of layers:
//
//   hidden = embed(batch)                                  [tokens][hidden]
//   run_layers(first, last, batch, hidden, cache)          layers [first, last)
//   logits = output(batch, hidden)                         [rows wanting logits][vocab]
//
// Weights are views into the ModelFile's mapping, which must outlive the model.
// Model::load picks the architecture from general.architecture.

#include <cstddef>
#include <memory>

#include "model/batch.h"
#include "model/blocks.h"
#include "model/kv_cache.h"
#include "model/model_config.h"
#include "ops/float_matrix.h"
#include "ops/matmul.h"
#include "platform/thread_pool.h"

namespace tandem {

class ModelFile;

struct ModelOptions {
  ComputeMode mode = ComputeMode::kFast;
  // Which weights are looked up: a pipeline stage's file holds only its own tensors.
  // Layers [first_layer, end_layer) (end_layer 0: every layer), the token embedding
  // (embed) and the output head (output, which also takes token_embd when tied).
  size_t first_layer = 0;
  size_t end_layer = 0;
  bool input = true;
  bool output = true;
  bool loads_layer(size_t layer) const {
    return layer >= first_layer && (end_layer == 0 || layer < end_layer);
  }
};

class Model {
 public:
  // Throws Error for an unsupported architecture or missing / malformed tensors.
  static std::unique_ptr<Model> load(const ModelFile& file, const ModelOptions& options,
                                     ThreadPool& pool);

  virtual ~Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  ComputeMode mode() const { return context_.mode; }

  // A cache sized for this model, holding up to max_positions positions per sequence
  // (0: the model's context length), keys and values stored as `type`.
  KvCache make_cache(size_t max_positions = 0, KvType type = KvType::kF32) const;

  // Token embeddings of the batch: [batch.size()][hidden]. Throws Error for an id
  // outside the vocabulary.
  virtual FloatMatrix embed(const Batch& batch) const = 0;
  // Runs layers [first_layer, last_layer) over hidden in place, reading and extending
  // the cache of each token's sequence.
  virtual void run_layers(size_t first_layer, size_t last_layer, const Batch& batch,
                          FloatMatrix& hidden, KvCache& cache) const = 0;
  // Final norm and output projection of the rows with wants_logits set, in batch order:
  // [batch.logit_count()][vocab].
  virtual FloatMatrix output(const Batch& batch, const FloatMatrix& hidden) const = 0;

  // embed, all layers, output.
  FloatMatrix forward(const Batch& batch, KvCache& cache) const;

 protected:
  Model(ModelConfig config, const ModelOptions& options, ThreadPool& pool)
      : config_(std::move(config)), context_{pool, options.mode} {}

  // Checks the batch against the config (ids, positions, sizes); throws Error.
  void validate(const Batch& batch) const;

  ModelConfig config_;
  ComputeContext context_;
};

}  // namespace tandem
