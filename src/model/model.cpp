#include "model/model.h"

#include "gguf/model_file.h"
#include "model/architectures.h"
#include "model/qwen35moe_config.h"
#include "platform/error.h"

namespace tandem {

std::unique_ptr<Model> Model::load(const ModelFile& file, const ModelOptions& options,
                                   ThreadPool& pool) {
  ModelConfig config = ModelConfig::from_model(file);
  switch (config.arch) {
    case Architecture::kQwen3:
    case Architecture::kQwen3Moe:
      return make_qwen3_model(file, std::move(config), options, pool);
    case Architecture::kQwen35Moe:
      return make_qwen35moe_model(file, std::move(config), options, pool);
  }
  throw Error(str_cat(file.path(), ": architecture ", architecture_name(config.arch),
                      " has no forward pass yet"));
}

KvCache Model::make_cache(size_t max_positions, KvType type) const {
  return KvCache(config_.layer_count, config_.kv_width(),
                 max_positions ? max_positions : config_.context_length,
                 recurrent_state_floats(config_), type);
}

void Model::validate(const Batch& batch) const {
  const size_t n = batch.size();
  if (batch.positions.size() != n || batch.sequence_ids.size() != n ||
      batch.wants_logits.size() != n) {
    throw Error(str_cat("batch of ", n, " tokens has ", batch.positions.size(), " positions, ",
                        batch.sequence_ids.size(), " sequence ids and ", batch.wants_logits.size(),
                        " logit flags"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (batch.tokens[i] < 0 || static_cast<size_t>(batch.tokens[i]) >= config_.vocab_size) {
      throw Error(str_cat("token id ", batch.tokens[i], " at batch row ", i,
                          " is outside the vocabulary of ", config_.vocab_size));
    }
    if (batch.positions[i] < 0) {
      throw Error(str_cat("negative position ", batch.positions[i], " at batch row ", i));
    }
  }
}

FloatMatrix Model::forward(const Batch& batch, KvCache& cache) const {
  FloatMatrix hidden = embed(batch);
  run_layers(0, config_.layer_count, batch, hidden, cache);
  return output(batch, hidden);
}

}  // namespace tandem
