#pragma once
// Streaming GGUF v3 writer. Metadata and tensor declarations (name, type, shape) are
// collected first; open() writes the whole header, then the tensors' bytes are streamed
// in declaration order, in pieces of any size, so a model never has to sit in memory.
// Each tensor's data starts at a multiple of the alignment (general.alignment, default 32)
// and is followed by zero padding up to the next multiple.
//
// A split model (NAME-00001-of-0000N.gguf) is written with GgufSplitWriter, which lays
// the files out as llama.cpp's gguf-split does: all metadata in the first file, and in
// every file split.no (u16), split.count (u16) and split.tensors.count (i32).

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_value.h"
#include "ops/tensor_type.h"

namespace tandem {

struct GgufTensorDecl {
  std::string name;
  TensorType type = TensorType::kF32;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the row length
  uint64_t bytes() const;
};

class GgufWriter {
 public:
  GgufWriter() = default;
  GgufWriter(GgufWriter&&) noexcept = default;
  GgufWriter& operator=(GgufWriter&&) noexcept = default;
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata, written in the order added. A duplicate key throws Error. Setting
  // general.alignment (u32, a power of two) changes the alignment of the data section.
  void add(std::string key, GgufValue value);
  void add_uint32(std::string key, uint32_t value);
  void add_int32(std::string key, int32_t value);
  void add_float32(std::string key, float value);
  void add_bool(std::string key, bool value);
  void add_string(std::string key, std::string value);
  void add_int32_array(std::string key, const std::vector<int32_t>& values);
  void add_string_array(std::string key, const std::vector<std::string>& values);
  // Replaces the value of an existing key or adds it at the end.
  void set(std::string key, GgufValue value);

  // Declares the next tensor. Throws Error for a duplicate name, a bad shape or a row
  // length that is not a multiple of the type's block size.
  void add_tensor(GgufTensorDecl tensor);

  const GgufMetadata& metadata() const { return metadata_; }
  const std::vector<GgufTensorDecl>& tensors() const { return tensors_; }
  uint64_t alignment() const;
  // Offsets of each tensor from the start of the data section.
  std::vector<uint64_t> tensor_offsets() const;
  // The serialized header, padded to the alignment: the data section starts after it.
  std::vector<uint8_t> header() const;
  // Header plus the padded data section.
  uint64_t file_size() const;

  // Creates `path` and writes the header. Throws Error when the file cannot be written.
  void open(const std::string& path);
  // Appends bytes to the current tensor (the first not yet complete). A piece may not run
  // past the end of the current tensor; pieces of the next tensor follow in a new call.
  void write(std::span<const uint8_t> bytes);
  // Index of the tensor the next write() goes to (== tensors().size() when all are done).
  size_t current_tensor() const { return current_; }
  // Checks that every tensor was written and closes the file.
  void close();
  // Closes a file whose data section was never written: the file is extended to its
  // full size without writing, so the data region is a hole (sparse on most file systems)
  // and the header can be read while the weights take no disk space.
  void close_as_hole();

 private:
  void write_raw(const void* data, size_t size);
  void finish_tensor_if_complete();

  GgufMetadata metadata_;
  std::vector<GgufTensorDecl> tensors_;
  std::string path_;
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::unique_ptr<std::FILE, FileCloser> file_;
  size_t current_ = 0;
  uint64_t written_in_current_ = 0;
  uint64_t data_written_ = 0;  // bytes of the data section so far, padding included
};

// Writes a model as `count` split files prefix-0000i-of-0000N.gguf. The tensors are cut
// into `count` contiguous groups of roughly equal size; write() streams across them.
class GgufSplitWriter {
 public:
  // `whole` holds the metadata and tensor declarations of the full model.
  GgufSplitWriter(const GgufWriter& whole, std::string prefix, int count);

  const std::vector<std::string>& paths() const { return paths_; }
  const std::vector<GgufWriter>& parts() const { return parts_; }

  void open();  // creates every file and writes its header
  void write(std::span<const uint8_t> bytes);
  void close();
  void close_as_hole();

 private:
  std::vector<GgufWriter> parts_;
  std::vector<std::string> paths_;
  size_t current_part_ = 0;
};

}  // namespace tandem
