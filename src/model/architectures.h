#pragma once
// Constructors of the architecture implementations, one per file, for Model::load.

#include <memory>

#include "model/model.h"

namespace tandem {

// qwen3 (dense FFN) and qwen3moe (routed experts): model/qwen3.cpp.
std::unique_ptr<Model> make_qwen3_model(const ModelFile& file, ModelConfig config,
                                        const ModelOptions& options, ThreadPool& pool);

// qwen35moe (Gated DeltaNet + gated attention + experts with a shared expert):
// model/qwen35moe.cpp.
std::unique_ptr<Model> make_qwen35moe_model(const ModelFile& file, ModelConfig config,
                                            const ModelOptions& options, ThreadPool& pool);

}  // namespace tandem
