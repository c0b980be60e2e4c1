#include "gguf/gguf_value.h"

#include <utility>

#include "platform/error.h"

namespace tandem {

std::string_view value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
      return "u8";
    case GgufValueType::kInt8:
      return "i8";
    case GgufValueType::kUint16:
      return "u16";
    case GgufValueType::kInt16:
      return "i16";
    case GgufValueType::kUint32:
      return "u32";
    case GgufValueType::kInt32:
      return "i32";
    case GgufValueType::kFloat32:
      return "f32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "str";
    case GgufValueType::kArray:
      return "arr";
    case GgufValueType::kUint64:
      return "u64";
    case GgufValueType::kInt64:
      return "i64";
    case GgufValueType::kFloat64:
      return "f64";
  }
  return "?";
}

bool is_valid_value_type(uint32_t id) {
  return id <= static_cast<uint32_t>(GgufValueType::kFloat64);
}

GgufValue GgufValue::of_uint(GgufValueType type, uint64_t value) {
  GgufValue out;
  out.type = type;
  out.data = value;
  return out;
}
GgufValue GgufValue::of_int(GgufValueType type, int64_t value) {
  GgufValue out;
  out.type = type;
  out.data = value;
  return out;
}
GgufValue GgufValue::of_float(GgufValueType type, double value) {
  GgufValue out;
  out.type = type;
  out.data = value;
  return out;
}
GgufValue GgufValue::of_bool(bool value) {
  GgufValue out;
  out.type = GgufValueType::kBool;
  out.data = value;
  return out;
}
GgufValue GgufValue::of_string(std::string value) {
  GgufValue out;
  out.type = GgufValueType::kString;
  out.data = std::move(value);
  return out;
}
GgufValue GgufValue::of_array(GgufValueType element_type, Array items) {
  GgufValue out;
  out.type = GgufValueType::kArray;
  out.element_type = element_type;
  out.data = std::move(items);
  return out;
}

bool GgufValue::is_integer() const {
  return std::holds_alternative<uint64_t>(data) || std::holds_alternative<int64_t>(data);
}
bool GgufValue::is_float() const { return std::holds_alternative<double>(data); }

int64_t GgufValue::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<int64_t>(*u);
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  if (const auto* b = std::get_if<bool>(&data)) return *b ? 1 : 0;
  TANDEM_CHECK(false, "as_int on a non-integer value");
}

double GgufValue::as_double() const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  return static_cast<double>(as_int());
}

}  // namespace tandem
