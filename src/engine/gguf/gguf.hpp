// GGUF reader: a memory-mapped, strictly validated view of a GGUF file (versions 2 and 3).
//
// Files are untrusted. `GgufFile::open` / `GgufFile::from_bytes` validate the whole header up
// front — magic, version, counts against the bytes actually present, every metadata value
// (nested arrays included, depth-limited), tensor infos (known ggml type, 1..4 dimensions, row
// size divisible by the block size, no overflow, aligned offset, data inside the file, no
// overlap, no duplicate names) — and throw `llmux::Error` (errc::invalid_argument) with a
// message naming the file, the byte offset and what is wrong. Nothing is read past the end of
// the buffer, and no allocation is larger than a constant times the file size.
//
// After construction a GgufFile is immutable and safe to share between threads. Every
// string_view and span it hands out points into the mapping and lives as long as the GgufFile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace llmux::engine::gguf {

// Metadata value types, numbered as in the GGUF specification.
enum class ValueType : std::uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
std::string_view to_string(ValueType t) noexcept;

class Value;

// A metadata array: the element type and the elements (for arrays of arrays, each element is
// itself a Value holding an array).
struct Array {
  ValueType element_type = ValueType::u8;
  std::vector<Value> items;
};

// One metadata value. Integer accessors convert between integer types only when the value fits
// (an i32 of -1 has no as_uint); floats are not integers and integers are not floats.
class Value {
 public:
  using Storage = std::variant<std::uint64_t, std::int64_t, double, bool, std::string_view,
                               std::shared_ptr<const Array>>;

  Value(ValueType type, Storage storage) : type_(type), storage_(std::move(storage)) {}

  ValueType type() const noexcept { return type_; }
  bool is_integer() const noexcept;
  std::optional<std::uint64_t> as_uint() const noexcept;
  std::optional<std::int64_t> as_int() const noexcept;
  std::optional<double> as_float() const noexcept;  // f32 or f64 only
  std::optional<bool> as_bool() const noexcept;
  std::optional<std::string_view> as_string() const noexcept;
  const Array* as_array() const noexcept;

 private:
  ValueType type_;
  Storage storage_;
};

// ggml tensor types known to this reader (numbering from ggml; holes are removed types).
enum class TensorType : std::uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9,
  q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15,
  iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22,
  iq4_xs = 23, i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30,
  tq1_0 = 34, tq2_0 = 35, mxfp4 = 39,
};

struct TensorTypeTraits {
  std::string_view name;   // "q4_K" style, as ggml names it
  std::uint32_t block_size;  // elements per block
  std::uint32_t type_size;   // bytes per block
};
// Traits of a raw type number, or nullopt for numbers this reader does not know.
std::optional<TensorTypeTraits> tensor_type_traits(std::uint32_t type) noexcept;
std::string_view to_string(TensorType t) noexcept;

struct TensorInfo {
  std::string_view name;
  TensorType type = TensorType::f32;
  std::vector<std::uint64_t> shape;  // ggml order: shape[0] is the contiguous dimension
  std::uint64_t offset = 0;          // relative to the start of the data section
  std::uint64_t n_elements = 0;
  std::uint64_t n_bytes = 0;
  std::span<const std::byte> data;   // the tensor's bytes inside the mapping
};

struct KeyValue {
  std::string_view key;
  Value value;
};

class GgufFile {
 public:
  static constexpr std::uint32_t kDefaultAlignment = 32;
  static constexpr int kMaxArrayDepth = 8;

  // Maps and validates `path`. Throws llmux::Error(invalid_argument) on any problem.
  static GgufFile open(const std::filesystem::path& path);
  // Validates an in-memory copy (tests, fuzzing, generated files). `name` appears in errors.
  static GgufFile from_bytes(std::vector<std::byte> bytes, std::string name = "<memory>");

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  const std::string& name() const noexcept { return name_; }
  std::uint32_t version() const noexcept { return version_; }
  std::uint32_t alignment() const noexcept { return alignment_; }
  std::uint64_t data_offset() const noexcept { return data_offset_; }
  std::uint64_t file_size() const noexcept { return bytes_.size(); }

  // Metadata in file order.
  const std::vector<KeyValue>& metadata() const noexcept { return metadata_; }
  const Value* find(std::string_view key) const noexcept;

  // Typed getters: nullopt/nullptr when the key is absent; llmux::Error(invalid_argument)
  // naming the key when it is present with an incompatible type or out of range.
  std::optional<std::string_view> get_string(std::string_view key) const;
  std::optional<std::uint64_t> get_uint(std::string_view key) const;
  std::optional<std::int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;  // accepts integers too
  std::optional<bool> get_bool(std::string_view key) const;
  const Array* get_array(std::string_view key) const;

  // Required variants: throw when absent too.
  std::string_view require_string(std::string_view key) const;
  std::uint64_t require_uint(std::string_view key) const;
  double require_float(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const noexcept;

 private:
  GgufFile() = default;
  struct Mapping;
  void parse();
  void place_tensors(std::uint64_t header_end);  // data offset, bounds, overlap

  std::string name_;
  std::unique_ptr<Mapping> mapping_;  // owns the bytes (mmap or heap)
  std::span<const std::byte> bytes_;
  std::uint32_t version_ = 0;
  std::uint32_t alignment_ = kDefaultAlignment;
  std::uint64_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string_view, std::size_t> key_index_;
  std::unordered_map<std::string_view, std::size_t> tensor_index_;
};

}  // namespace llmux::engine::gguf
