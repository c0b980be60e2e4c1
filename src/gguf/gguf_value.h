#pragma once
// A GGUF metadata value: a scalar, a string, or an array of values (arrays may nest).

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tandem {

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

std::string_view value_type_name(GgufValueType type);
bool is_valid_value_type(uint32_t id);

struct GgufValue {
  using Array = std::vector<GgufValue>;

  GgufValueType type = GgufValueType::kUint32;
  GgufValueType element_type = GgufValueType::kUint8;  // arrays only
  // Unsigned integers live in uint64_t, signed in int64_t, floats in double.
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;

  static GgufValue of_uint(GgufValueType type, uint64_t value);
  static GgufValue of_int(GgufValueType type, int64_t value);
  static GgufValue of_float(GgufValueType type, double value);
  static GgufValue of_bool(bool value);
  static GgufValue of_string(std::string value);
  static GgufValue of_array(GgufValueType element_type, Array items);

  bool is_integer() const;
  bool is_float() const;
  // Any integer type as int64 / any number as double. The caller checks the kind first.
  int64_t as_int() const;
  double as_double() const;
  const std::string& as_string() const { return std::get<std::string>(data); }
  const Array& as_array() const { return std::get<Array>(data); }
  bool as_bool() const { return std::get<bool>(data); }
};

}  // namespace tandem
