#pragma once
// Writes a random-weight GGUF model: the architecture's metadata, the tokenizer copied from
// a vocabulary GGUF, and every tensor generated, quantized and streamed one chunk of rows
// at a time (a few MiB in memory whatever the model size).

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/synth/quant_mix.h"
#include "model/synth/synth_spec.h"

namespace tandem::synth {

struct SynthOptions {
  SynthConfig config;  // config.vocab is filled from the vocabulary
  FileType file_type = FileType::kF32;
  uint64_t seed = 1;
  uint64_t vocab_size = 0;  // pad the vocabulary with [PADn] tokens up to this; 0: as is
  bool no_weights = false;  // header only; the data region is left as a hole
  int splits = 1;           // > 1: NAME-0000i-of-0000N.gguf
  size_t threads = 1;       // quantization threads
};

// The tensors of a model with their chosen types, in file order.
struct SynthPlan {
  SynthConfig config;
  std::vector<SynthTensor> tensors;
  std::vector<TensorType> types;
};

// Copies the tokenizer.* keys of `vocab`, padding tokens / token_type to `vocab_size`.
// Returns the token count. Throws Error when the file has no tokenizer.
uint64_t copy_tokenizer(const GgufFile& vocab, uint64_t vocab_size, GgufWriter& writer);

// Metadata and tensor declarations of the model; `plan` receives the tensor list.
GgufWriter build_synth_header(SynthOptions options, const GgufFile& vocab, SynthPlan& plan);

// Writes the model to `out_path` (with splits > 1, `out_path` minus ".gguf" is the prefix
// of the split names). Returns the paths written.
std::vector<std::string> write_synth_model(const SynthOptions& options, const GgufFile& vocab,
                                           const std::string& out_path);

}  // namespace tandem::synth
