#include "model/synth/synth_writer.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "model/synth/weight_rng.h"
#include "ops/quant/quantize.h"
#include "platform/error.h"
#include "platform/thread_pool.h"

namespace tandem::synth {
namespace {

constexpr size_t kChunkElements = size_t{1} << 20;  // floats generated per step (4 MiB)
constexpr int32_t kUserDefinedToken = 4;            // llama.cpp's LLAMA_TOKEN_TYPE_USER_DEFINED

// Streams tensors into one file or a split set.
class Sink {
 public:
  Sink(GgufWriter& whole, const std::string& out_path, int splits) : whole_(whole) {
    if (splits > 1) {
      std::string prefix = out_path;
      if (prefix.size() > 5 && prefix.compare(prefix.size() - 5, 5, ".gguf") == 0) {
        prefix.resize(prefix.size() - 5);
      }
      split_ = std::make_unique<GgufSplitWriter>(whole, prefix, splits);
      split_->open();
      paths_ = split_->paths();
    } else {
      whole.open(out_path);
      paths_ = {out_path};
    }
  }
  void write(std::span<const uint8_t> bytes) {
    if (split_) {
      split_->write(bytes);
    } else {
      whole_.write(bytes);
    }
  }
  void close(bool as_hole) {
    if (split_) {
      as_hole ? split_->close_as_hole() : split_->close();
    } else {
      as_hole ? whole_.close_as_hole() : whole_.close();
    }
  }
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  GgufWriter& whole_;
  std::unique_ptr<GgufSplitWriter> split_;
  std::vector<std::string> paths_;
};

// Generates one tensor chunk by chunk: values come from the tensor's own stream in row
// order, so they do not depend on the chunk size or the thread count.
void stream_tensor(const SynthTensor& tensor, TensorType type, uint64_t seed, ThreadPool& pool,
                   Sink& sink) {
  const size_t row = static_cast<size_t>(tensor.shape[0]);
  const size_t rows = static_cast<size_t>(tensor.element_count() / row);
  const size_t row_size = row_bytes(type, row);
  const size_t rows_per_chunk = std::max<size_t>(1, kChunkElements / row);
  std::vector<float> values(std::min(rows, rows_per_chunk) * row);  // (chunk rows, row)
  std::vector<uint8_t> bytes(std::min(rows, rows_per_chunk) * row_size);
  WeightRng rng(tensor_seed(seed, tensor.name));
  for (size_t first = 0; first < rows; first += rows_per_chunk) {
    const size_t count = std::min(rows_per_chunk, rows - first);
    fill_weights(tensor.init, rng, std::span<float>(values).first(count * row));
    pool.parallel_for(count, [&](size_t begin, size_t end, size_t) {
      for (size_t r = begin; r < end; ++r) {
        quantize_row(type, std::span<const float>(values).subspan(r * row, row),
                     bytes.data() + r * row_size);
      }
    });
    sink.write(std::span<const uint8_t>(bytes).first(count * row_size));
  }
}

}  // namespace

uint64_t copy_tokenizer(const GgufFile& vocab, uint64_t vocab_size, GgufWriter& writer) {
  const GgufValue* tokens = vocab.find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->type != GgufValueType::kArray) {
    throw Error(str_cat(vocab.name(), ": no tokenizer.ggml.tokens array"));
  }
  const uint64_t count = tokens->as_array().size();
  if (vocab_size != 0 && vocab_size < count) {
    throw Error(str_cat("synth: --vocab-size ", vocab_size, " is below the ", count, " tokens of ",
                        vocab.name()));
  }
  const uint64_t total = std::max(count, vocab_size);
  for (const auto& [key, value] : vocab.metadata()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    if (total == count || (key != "tokenizer.ggml.tokens" && key != "tokenizer.ggml.token_type")) {
      writer.add(key, value);
      continue;
    }
    // Padding as the converter pads a vocabulary that is smaller than the embedding.
    GgufValue padded = value;
    auto& items = std::get<GgufValue::Array>(padded.data);
    for (uint64_t id = count; id < total; ++id) {
      if (key == "tokenizer.ggml.tokens") {
        items.push_back(GgufValue::of_string(str_cat("[PAD", id, "]")));
      } else {
        items.push_back(GgufValue::of_int(GgufValueType::kInt32, kUserDefinedToken));
      }
    }
    writer.add(key, std::move(padded));
  }
  return total;
}

GgufWriter build_synth_header(SynthOptions options, const GgufFile& vocab, SynthPlan& plan) {
  GgufWriter writer;
  writer.add_string("general.architecture", options.config.architecture);
  writer.add_string("general.name", options.config.name);
  GgufWriter tokenizer;
  options.config.vocab = copy_tokenizer(vocab, options.vocab_size, tokenizer);
  for (auto& [key, value] : synth_hparams(options.config)) writer.add(key, value);
  for (const auto& [key, value] : tokenizer.metadata()) writer.add(key, value);
  writer.add_uint32("general.quantization_version", 2);
  writer.add_uint32("general.file_type", llama_file_type(options.file_type));

  plan.config = options.config;
  plan.tensors = synth_tensors(options.config);
  plan.types = choose_tensor_types(options.file_type, plan.tensors, options.config.layers,
                                   options.config.is_moe() ? options.config.experts : 0);
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    if (!options.no_weights && !can_quantize(plan.types[i])) {
      throw Error(str_cat("synth: tensor ", plan.tensors[i].name, " needs type ",
                          type_name(plan.types[i]), ", which tandem cannot write"));
    }
    writer.add_tensor({plan.tensors[i].name, plan.types[i], plan.tensors[i].shape});
  }
  return writer;
}

std::vector<std::string> write_synth_model(const SynthOptions& options, const GgufFile& vocab,
                                           const std::string& out_path) {
  SynthPlan plan;
  GgufWriter writer = build_synth_header(options, vocab, plan);
  Sink sink(writer, out_path, options.splits);
  if (!options.no_weights) {
    ThreadPool pool(std::max<size_t>(1, options.threads));
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      stream_tensor(plan.tensors[i], plan.types[i], options.seed, pool, sink);
    }
  }
  sink.close(options.no_weights);
  return sink.paths();
}

}  // namespace tandem::synth
