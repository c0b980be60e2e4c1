// `tandem inspect FILE [--json]`: what a GGUF file holds.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "gguf/model_file.h"
#include "platform/error.h"

namespace tandem::cli {
namespace {

nlohmann::json to_json(const GgufValue& value) {
  switch (value.type) {
    case GgufValueType::kString:
      return value.as_string();
    case GgufValueType::kBool:
      return value.as_bool();
    case GgufValueType::kFloat32:
    case GgufValueType::kFloat64:
      return value.as_double();
    case GgufValueType::kArray: {
      nlohmann::json items = nlohmann::json::array();
      for (const auto& item : value.as_array()) items.push_back(to_json(item));
      return items;
    }
    default:
      if (const auto* u = std::get_if<uint64_t>(&value.data)) return *u;
      return value.as_int();
  }
}

std::string shape_text(const TensorInfo& tensor) {
  std::string out;
  for (size_t i = 0; i < tensor.shape.size(); ++i) {
    if (i) out += " x ";
    out += std::to_string(tensor.shape[i]);
  }
  return out;
}

std::string summarize(const GgufValue& value) {
  if (value.type == GgufValueType::kArray) {
    return str_cat("[", value.as_array().size(), " x ", value_type_name(value.element_type), "]");
  }
  if (value.type == GgufValueType::kString) {
    std::string text = value.as_string();
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    for (char& c : text) {
      if (c == '\n') c = ' ';
    }
    return text;
  }
  return to_json(value).dump();
}

std::string human_bytes(uint64_t bytes) {
  char out[32];
  if (bytes >= (1ull << 30)) {
    std::snprintf(out, sizeof(out), "%.2f GiB", bytes / double(1ull << 30));
  } else if (bytes >= (1ull << 20)) {
    std::snprintf(out, sizeof(out), "%.2f MiB", bytes / double(1ull << 20));
  } else {
    std::snprintf(out, sizeof(out), "%.1f KiB", bytes / 1024.0);
  }
  return out;
}

// Parameters and bytes per layer ("blk.N."), and of the tensors outside the layers.
struct LayerSize {
  std::string name;  // "blk.N" or "other"
  uint64_t parameters = 0;
  uint64_t bytes = 0;
};

std::vector<LayerSize> layer_sizes(const ModelFile& model) {
  std::map<int64_t, LayerSize> layers;  // -1: not in a layer
  for (const TensorInfo& t : model.tensors()) {
    int64_t index = -1;
    if (t.name.rfind("blk.", 0) == 0) {
      const size_t dot = t.name.find('.', 4);
      try {
        index = std::stoll(t.name.substr(4, dot - 4));
      } catch (const std::exception&) {
        index = -1;
      }
    }
    LayerSize& size = layers[index];
    size.name = index < 0 ? "other" : "blk." + std::to_string(index);
    size.parameters += t.element_count();
    size.bytes += t.bytes;
  }
  std::vector<LayerSize> out;
  for (auto& [index, size] : layers) out.push_back(size);
  return out;
}

uint64_t parameter_count(const ModelFile& model) {
  uint64_t elements = 0;
  for (const TensorInfo& t : model.tensors()) elements += t.element_count();
  return elements;
}

void print_json(const ModelFile& model) {
  nlohmann::ordered_json out;
  out["file"] = model.path();
  out["architecture"] = model.architecture();
  out["version"] = model.primary().version();
  out["split_count"] = model.files().size();
  nlohmann::ordered_json metadata = nlohmann::ordered_json::object();
  for (const auto& [key, value] : model.metadata()) metadata[key] = to_json(value);
  out["metadata"] = std::move(metadata);
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  for (const TensorInfo& t : model.tensors()) {
    tensors.push_back({{"name", t.name},
                       {"type", std::string(type_name(t.type))},
                       {"shape", t.shape},
                       {"offset", t.offset},
                       {"bytes", t.bytes},
                       {"file", t.file_index}});
  }
  out["tensor_count"] = model.tensors().size();
  out["tensors"] = std::move(tensors);
  out["total_tensor_bytes"] = model.total_tensor_bytes();
  out["parameter_count"] = parameter_count(model);
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const LayerSize& l : layer_sizes(model)) {
    layers.push_back({{"name", l.name}, {"parameters", l.parameters}, {"bytes", l.bytes}});
  }
  out["layers"] = std::move(layers);
  std::puts(out.dump(1).c_str());
}

void print_text(const ModelFile& model) {
  std::printf("file:          %s (%zu file%s, GGUF v%u)\n", model.path().c_str(),
              model.files().size(), model.files().size() == 1 ? "" : "s",
              model.primary().version());
  std::printf("architecture:  %s\n", model.architecture().c_str());
  if (auto name = model.get_string_opt("general.name"))
    std::printf("name:          %s\n", name->c_str());
  std::printf("\nhyperparameters:\n");
  const std::string prefix = model.architecture() + ".";
  for (const auto& [key, value] : model.metadata()) {
    if (key.rfind(prefix, 0) == 0)
      std::printf("  %-44s %s\n", key.c_str(), summarize(value).c_str());
  }
  std::printf("\ntokenizer:\n");
  for (const auto& [key, value] : model.metadata()) {
    if (key.rfind("tokenizer.", 0) == 0)
      std::printf("  %-44s %s\n", key.c_str(), summarize(value).c_str());
  }
  std::printf("\n%-40s %-6s %-26s %12s\n", "tensor", "type", "shape", "bytes");
  for (const TensorInfo& t : model.tensors()) {
    std::printf("%-40s %-6s %-26s %12llu\n", t.name.c_str(), std::string(type_name(t.type)).c_str(),
                shape_text(t).c_str(), static_cast<unsigned long long>(t.bytes));
  }
  const uint64_t elements = parameter_count(model);
  std::printf("\n%-10s %16s %12s\n", "layer", "parameters", "size");
  for (const LayerSize& l : layer_sizes(model)) {
    std::printf("%-10s %16llu %12s\n", l.name.c_str(),
                static_cast<unsigned long long>(l.parameters), human_bytes(l.bytes).c_str());
  }
  std::printf("\n%zu tensors, %llu parameters, %s of tensor data\n", model.tensors().size(),
              static_cast<unsigned long long>(elements),
              human_bytes(model.total_tensor_bytes()).c_str());
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto* command = app.add_subcommand("inspect", "Print what a GGUF file holds");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  command->add_option("file", *path, "GGUF file (the first of a split set)")->required();
  command->add_flag("--json", *json, "Print one JSON object");
  command->callback([path, json] {
    const ModelFile model(*path);
    if (*json) {
      print_json(model);
    } else {
      print_text(model);
    }
  });
}

}  // namespace tandem::cli
