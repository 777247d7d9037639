// GGUF writer for tests and tools: builds a complete GGUF file (v2 or v3) in memory.
//
// Values are written exactly as given (type tags included), so tests can build both valid files
// and, through `raw_*` hooks, files a reader must reject. Tensor data is padded to the
// alignment, as llama.cpp's writer does. Not thread-safe; one writer per file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "engine/gguf/gguf.hpp"

namespace llmux::engine::gguf {

// An owned metadata value for writing.
struct OwnedValue {
  ValueType type = ValueType::u8;
  ValueType element_type = ValueType::u8;  // arrays only
  std::variant<std::uint64_t, std::int64_t, double, bool, std::string, std::vector<OwnedValue>>
      value;

  static OwnedValue u8(std::uint8_t v) { return {ValueType::u8, {}, std::uint64_t{v}}; }
  static OwnedValue i8(std::int8_t v) { return {ValueType::i8, {}, std::int64_t{v}}; }
  static OwnedValue u16(std::uint16_t v) { return {ValueType::u16, {}, std::uint64_t{v}}; }
  static OwnedValue i16(std::int16_t v) { return {ValueType::i16, {}, std::int64_t{v}}; }
  static OwnedValue u32(std::uint32_t v) { return {ValueType::u32, {}, std::uint64_t{v}}; }
  static OwnedValue i32(std::int32_t v) { return {ValueType::i32, {}, std::int64_t{v}}; }
  static OwnedValue u64(std::uint64_t v) { return {ValueType::u64, {}, v}; }
  static OwnedValue i64(std::int64_t v) { return {ValueType::i64, {}, v}; }
  static OwnedValue f32(float v) { return {ValueType::f32, {}, double{v}}; }
  static OwnedValue f64(double v) { return {ValueType::f64, {}, v}; }
  static OwnedValue boolean(bool v) { return {ValueType::boolean, {}, v}; }
  static OwnedValue string(std::string v) { return {ValueType::string, {}, std::move(v)}; }
  static OwnedValue array(ValueType element_type, std::vector<OwnedValue> items) {
    return {ValueType::array, element_type, std::move(items)};
  }
  static OwnedValue string_array(const std::vector<std::string>& items);
  static OwnedValue f32_array(const std::vector<float>& items);
  static OwnedValue i32_array(const std::vector<std::int32_t>& items);
  // A copy of a value read from a file (to rewrite a file with changes).
  static OwnedValue copy_of(const Value& value);
};

class GgufWriter {
 public:
  explicit GgufWriter(std::uint32_t version = 3) : version_(version) {}

  // Adds a key (in order). Setting "general.alignment" (u32) changes the data alignment.
  void add(std::string key, OwnedValue value);
  // Adds a tensor; `data` must hold exactly the tensor's byte size.
  void add_tensor(std::string name, TensorType type, std::vector<std::uint64_t> shape,
                  std::span<const std::byte> data);

  std::vector<std::byte> bytes() const;
  void write(const std::filesystem::path& path) const;

 private:
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<std::uint64_t> shape;
    std::vector<std::byte> data;
  };
  std::uint32_t version_;
  std::uint32_t alignment_ = GgufFile::kDefaultAlignment;
  std::vector<std::pair<std::string, OwnedValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace llmux::engine::gguf
