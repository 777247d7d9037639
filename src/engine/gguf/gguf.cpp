#include "engine/gguf/gguf.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::engine::gguf {

// ---------------------------------------------------------------------------------------------
// Value

bool Value::is_integer() const noexcept {
  return std::holds_alternative<std::uint64_t>(storage_) ||
         std::holds_alternative<std::int64_t>(storage_);
}

std::optional<std::uint64_t> Value::as_uint() const noexcept {
  if (const auto* u = std::get_if<std::uint64_t>(&storage_)) return *u;
  if (const auto* i = std::get_if<std::int64_t>(&storage_)) {
    if (*i >= 0) return static_cast<std::uint64_t>(*i);
  }
  return std::nullopt;
}

std::optional<std::int64_t> Value::as_int() const noexcept {
  if (const auto* i = std::get_if<std::int64_t>(&storage_)) return *i;
  if (const auto* u = std::get_if<std::uint64_t>(&storage_)) {
    if (*u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(*u);
    }
  }
  return std::nullopt;
}

std::optional<double> Value::as_float() const noexcept {
  if (const auto* d = std::get_if<double>(&storage_)) return *d;
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const noexcept {
  if (const auto* b = std::get_if<bool>(&storage_)) return *b;
  return std::nullopt;
}

std::optional<std::string_view> Value::as_string() const noexcept {
  if (const auto* s = std::get_if<std::string_view>(&storage_)) return *s;
  return std::nullopt;
}

const Array* Value::as_array() const noexcept {
  if (const auto* a = std::get_if<std::shared_ptr<const Array>>(&storage_)) return a->get();
  return nullptr;
}

std::string_view to_string(ValueType t) noexcept {
  switch (t) {
    case ValueType::u8: return "u8";
    case ValueType::i8: return "i8";
    case ValueType::u16: return "u16";
    case ValueType::i16: return "i16";
    case ValueType::u32: return "u32";
    case ValueType::i32: return "i32";
    case ValueType::f32: return "f32";
    case ValueType::boolean: return "bool";
    case ValueType::string: return "string";
    case ValueType::array: return "array";
    case ValueType::u64: return "u64";
    case ValueType::i64: return "i64";
    case ValueType::f64: return "f64";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Tensor types

namespace {

struct TypeRow {
  std::uint32_t id;
  TensorTypeTraits traits;
};

constexpr std::array kTensorTypes{
    TypeRow{0, {"f32", 1, 4}},        TypeRow{1, {"f16", 1, 2}},
    TypeRow{2, {"q4_0", 32, 18}},     TypeRow{3, {"q4_1", 32, 20}},
    TypeRow{6, {"q5_0", 32, 22}},     TypeRow{7, {"q5_1", 32, 24}},
    TypeRow{8, {"q8_0", 32, 34}},     TypeRow{9, {"q8_1", 32, 36}},
    TypeRow{10, {"q2_K", 256, 84}},   TypeRow{11, {"q3_K", 256, 110}},
    TypeRow{12, {"q4_K", 256, 144}},  TypeRow{13, {"q5_K", 256, 176}},
    TypeRow{14, {"q6_K", 256, 210}},  TypeRow{15, {"q8_K", 256, 292}},
    TypeRow{16, {"iq2_xxs", 256, 66}}, TypeRow{17, {"iq2_xs", 256, 74}},
    TypeRow{18, {"iq3_xxs", 256, 98}}, TypeRow{19, {"iq1_s", 256, 50}},
    TypeRow{20, {"iq4_nl", 32, 18}},  TypeRow{21, {"iq3_s", 256, 110}},
    TypeRow{22, {"iq2_s", 256, 82}},  TypeRow{23, {"iq4_xs", 256, 136}},
    TypeRow{24, {"i8", 1, 1}},        TypeRow{25, {"i16", 1, 2}},
    TypeRow{26, {"i32", 1, 4}},       TypeRow{27, {"i64", 1, 8}},
    TypeRow{28, {"f64", 1, 8}},       TypeRow{29, {"iq1_m", 256, 56}},
    TypeRow{30, {"bf16", 1, 2}},      TypeRow{34, {"tq1_0", 256, 54}},
    TypeRow{35, {"tq2_0", 256, 66}},  TypeRow{39, {"mxfp4", 32, 17}},
};

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(std::uint32_t type) noexcept {
  for (const auto& row : kTensorTypes) {
    if (row.id == type) return row.traits;
  }
  return std::nullopt;
}

std::string_view to_string(TensorType t) noexcept {
  auto traits = tensor_type_traits(static_cast<std::uint32_t>(t));
  return traits ? traits->name : std::string_view("unknown");
}

// ---------------------------------------------------------------------------------------------
// Mapping

struct GgufFile::Mapping {
  void* addr = nullptr;
  std::size_t length = 0;
  std::vector<std::byte> heap;

  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (addr != nullptr) ::munmap(addr, length);
  }
};

namespace {

[[noreturn]] void fail(const std::string& file, std::uint64_t offset, std::string_view what) {
  throw_error(errc::invalid_argument,
              fmt::format("gguf: {}: at byte {}: {}", file, offset, what));
}

// Bounds-checked little-endian reader over the file's bytes.
class Cursor {
 public:
  Cursor(std::span<const std::byte> bytes, const std::string& file) : b_(bytes), file_(file) {}

  std::uint64_t pos() const noexcept { return pos_; }
  std::uint64_t remaining() const noexcept { return b_.size() - pos_; }
  [[noreturn]] void fail_here(std::string_view what) const { fail(file_, pos_, what); }
  [[noreturn]] void fail_at(std::uint64_t at, std::string_view what) const {
    fail(file_, at, what);
  }

  template <typename T>
  T read(std::string_view what) {
    if (remaining() < sizeof(T)) {
      fail_here(fmt::format("file truncated while reading {} ({} bytes needed, {} left)", what,
                            sizeof(T), remaining()));
    }
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string_view read_string(std::string_view what) {
    const std::uint64_t at = pos_;
    auto n = read<std::uint64_t>(what);
    if (n > remaining()) {
      fail(file_, at,
           fmt::format("{}: string length {} exceeds the {} bytes left in the file", what, n,
                       remaining()));
    }
    std::string_view s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const std::byte> b_;
  const std::string& file_;
  std::uint64_t pos_ = 0;
};

// Smallest encoded size of one element of type t (used to bound counts before allocating).
std::uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::u8: case ValueType::i8: case ValueType::boolean: return 1;
    case ValueType::u16: case ValueType::i16: return 2;
    case ValueType::u32: case ValueType::i32: case ValueType::f32: return 4;
    case ValueType::u64: case ValueType::i64: case ValueType::f64: return 8;
    case ValueType::string: return 8;
    case ValueType::array: return 12;
  }
  return 1;
}

bool known_value_type(std::uint32_t t) { return t <= 12; }

Value read_value(Cursor& c, ValueType type, int depth);

Value read_array(Cursor& c, int depth) {
  if (depth >= GgufFile::kMaxArrayDepth) {
    c.fail_here(fmt::format("arrays nested deeper than {} levels", GgufFile::kMaxArrayDepth));
  }
  const std::uint64_t at = c.pos();
  auto raw_type = c.read<std::uint32_t>("array element type");
  if (!known_value_type(raw_type)) {
    c.fail_here(fmt::format("unknown array element type {}", raw_type));
  }
  auto elem = static_cast<ValueType>(raw_type);
  auto count = c.read<std::uint64_t>("array length");
  if (count > c.remaining() / min_encoded_size(elem)) {
    c.fail_at(at, fmt::format("array of {} {} values cannot fit in the {} bytes left", count,
                              to_string(elem), c.remaining()));
  }
  auto arr = std::make_shared<Array>();
  arr->element_type = elem;
  arr->items.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) arr->items.push_back(read_value(c, elem, depth + 1));
  return Value(ValueType::array, std::shared_ptr<const Array>(std::move(arr)));
}

Value read_value(Cursor& c, ValueType type, int depth) {
  switch (type) {
    case ValueType::u8: return Value(type, std::uint64_t{c.read<std::uint8_t>("u8")});
    case ValueType::i8: return Value(type, std::int64_t{c.read<std::int8_t>("i8")});
    case ValueType::u16: return Value(type, std::uint64_t{c.read<std::uint16_t>("u16")});
    case ValueType::i16: return Value(type, std::int64_t{c.read<std::int16_t>("i16")});
    case ValueType::u32: return Value(type, std::uint64_t{c.read<std::uint32_t>("u32")});
    case ValueType::i32: return Value(type, std::int64_t{c.read<std::int32_t>("i32")});
    case ValueType::u64: return Value(type, c.read<std::uint64_t>("u64"));
    case ValueType::i64: return Value(type, c.read<std::int64_t>("i64"));
    case ValueType::f32: return Value(type, double{c.read<float>("f32")});
    case ValueType::f64: return Value(type, c.read<double>("f64"));
    case ValueType::boolean: {
      auto b = c.read<std::uint8_t>("bool");
      if (b > 1) c.fail_here(fmt::format("bool value {} is neither 0 nor 1", b));
      return Value(type, b == 1);
    }
    case ValueType::string: return Value(type, c.read_string("string value"));
    case ValueType::array: return read_array(c, depth);
  }
  c.fail_here("unknown value type");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// GgufFile

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile f;
  f.name_ = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw_error(errc::invalid_argument,
                fmt::format("gguf: cannot open {}: {}", f.name_, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw_error(errc::invalid_argument, fmt::format("gguf: {} is not a regular file", f.name_));
  }
  f.mapping_ = std::make_unique<Mapping>();
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size > 0) {
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw_error(errc::invalid_argument,
                  fmt::format("gguf: cannot map {}: {}", f.name_, std::strerror(err)));
    }
    f.mapping_->addr = addr;
    f.mapping_->length = size;
    f.bytes_ = std::span(static_cast<const std::byte*>(addr), size);
  }
  ::close(fd);
  f.parse();
  return f;
}

GgufFile GgufFile::from_bytes(std::vector<std::byte> bytes, std::string name) {
  GgufFile f;
  f.name_ = std::move(name);
  f.mapping_ = std::make_unique<Mapping>();
  f.mapping_->heap = std::move(bytes);
  f.bytes_ = std::span<const std::byte>(f.mapping_->heap);
  f.parse();
  return f;
}

namespace {

constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr std::size_t kMaxTensorDims = 4;
constexpr std::size_t kMaxTensorName = 64;
constexpr std::size_t kMaxKeyLength = 65535;

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

TensorInfo read_tensor_info(Cursor& c, std::uint64_t i, std::uint32_t alignment) {
  const std::uint64_t at = c.pos();
  TensorInfo t;
  t.name = c.read_string("tensor name");
  if (t.name.empty() || t.name.size() > kMaxTensorName) {
    c.fail_at(at, fmt::format("tensor {} has a name of invalid length {}", i, t.name.size()));
  }
  auto n_dims = c.read<std::uint32_t>("tensor dimension count");
  if (n_dims == 0 || n_dims > kMaxTensorDims) {
    c.fail_at(at, fmt::format("tensor '{}' has {} dimensions (1 to 4 allowed)", t.name, n_dims));
  }
  t.shape.resize(n_dims);
  for (auto& d : t.shape) d = c.read<std::uint64_t>("tensor dimension");
  auto raw_type = c.read<std::uint32_t>("tensor type");
  auto traits = tensor_type_traits(raw_type);
  if (!traits) c.fail_at(at, fmt::format("tensor '{}' has unknown type {}", t.name, raw_type));
  t.type = static_cast<TensorType>(raw_type);
  t.offset = c.read<std::uint64_t>("tensor offset");

  std::uint64_t n = 1;
  for (auto d : t.shape) {
    if (d == 0) c.fail_at(at, fmt::format("tensor '{}' has a zero dimension", t.name));
    if (mul_overflows(n, d, &n) || n > static_cast<std::uint64_t>(INT64_MAX)) {
      c.fail_at(at, fmt::format("tensor '{}' has too many elements", t.name));
    }
  }
  if (t.shape[0] % traits->block_size != 0) {
    c.fail_at(at, fmt::format("tensor '{}': row of {} elements is not a multiple of the {} "
                              "block size {}", t.name, t.shape[0], traits->name,
                              traits->block_size));
  }
  t.n_elements = n;
  if (mul_overflows(n / traits->block_size, traits->type_size, &t.n_bytes)) {
    c.fail_at(at, fmt::format("tensor '{}' is too large", t.name));
  }
  if (t.offset % alignment != 0) {
    c.fail_at(at, fmt::format("tensor '{}' offset {} is not a multiple of the alignment {}",
                              t.name, t.offset, alignment));
  }
  return t;
}

}  // namespace

void GgufFile::parse() {
  Cursor c(bytes_, name_);
  auto magic = c.read<std::uint32_t>("magic");
  if (magic != kMagic) c.fail_at(0, "not a GGUF file (bad magic)");
  version_ = c.read<std::uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    c.fail_at(4, fmt::format("unsupported GGUF version {} (2 and 3 are supported)", version_));
  }
  const auto n_tensors = c.read<std::uint64_t>("tensor count");
  const auto n_kv = c.read<std::uint64_t>("metadata count");
  // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at
  // least 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.remaining() / 13) {
    c.fail_at(16, fmt::format("metadata count {} cannot fit in a {}-byte file", n_kv,
                              bytes_.size()));
  }
  if (n_tensors > c.remaining() / 32) {
    c.fail_at(8, fmt::format("tensor count {} cannot fit in a {}-byte file", n_tensors,
                             bytes_.size()));
  }

  metadata_.reserve(n_kv);
  for (std::uint64_t i = 0; i < n_kv; ++i) {
    const std::uint64_t at = c.pos();
    auto key = c.read_string("metadata key");
    if (key.empty() || key.size() > kMaxKeyLength) {
      c.fail_at(at, fmt::format("metadata key {} has invalid length {}", i, key.size()));
    }
    auto raw_type = c.read<std::uint32_t>("metadata value type");
    if (!known_value_type(raw_type)) {
      c.fail_at(at, fmt::format("metadata key '{}' has unknown value type {}", key, raw_type));
    }
    Value v = read_value(c, static_cast<ValueType>(raw_type), 0);
    if (!key_index_.emplace(key, metadata_.size()).second) {
      c.fail_at(at, fmt::format("duplicate metadata key '{}'", key));
    }
    metadata_.push_back(KeyValue{key, std::move(v)});
  }

  if (const Value* a = find("general.alignment")) {
    auto v = a->as_uint();
    if (!v || *v == 0 || (*v & (*v - 1)) != 0 || *v > (1u << 30)) {
      c.fail_at(0, "general.alignment must be a power of two between 1 and 2^30");
    }
    alignment_ = static_cast<std::uint32_t>(*v);
  }

  tensors_.reserve(n_tensors);
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    const std::uint64_t at = c.pos();
    TensorInfo t = read_tensor_info(c, i, alignment_);
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) {
      c.fail_at(at, fmt::format("duplicate tensor name '{}'", t.name));
    }
    tensors_.push_back(std::move(t));
  }

  place_tensors(c.pos());
}

void GgufFile::place_tensors(std::uint64_t header_end) {
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  if (tensors_.empty()) return;
  if (data_offset_ > bytes_.size()) {
    fail(name_, header_end, "file truncated before the tensor data section");
  }
  const std::uint64_t data_size = bytes_.size() - data_offset_;
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      fail(name_, header_end, fmt::format("tensor '{}' data [{}, +{}) extends past the end of the "
                                        "file ({} data bytes)", t.name, t.offset, t.n_bytes,
                                        data_size));
    }
    t.data = bytes_.subspan(data_offset_ + t.offset, t.n_bytes);
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* prev = by_offset[i - 1];
    if (prev->offset + prev->n_bytes > by_offset[i]->offset) {
      fail(name_, header_end, fmt::format("tensors '{}' and '{}' overlap", prev->name,
                                        by_offset[i]->name));
    }
  }
}

const Value* GgufFile::find(std::string_view key) const noexcept {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const noexcept {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

[[noreturn]] void bad_type(const std::string& file, std::string_view key, const Value& v,
                           std::string_view wanted) {
  throw_error(errc::invalid_argument,
              fmt::format("gguf: {}: metadata '{}' is {} where {} was expected", file, key,
                          to_string(v.type()), wanted));
}

}  // namespace

std::optional<std::string_view> GgufFile::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto s = v->as_string()) return s;
  bad_type(name_, key, *v, "a string");
}

std::optional<std::uint64_t> GgufFile::get_uint(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto u = v->as_uint()) return u;
  bad_type(name_, key, *v, "a non-negative integer");
}

std::optional<std::int64_t> GgufFile::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto i = v->as_int()) return i;
  bad_type(name_, key, *v, "an integer");
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto d = v->as_float()) return d;
  if (auto i = v->as_int()) return static_cast<double>(*i);
  if (auto u = v->as_uint()) return static_cast<double>(*u);
  bad_type(name_, key, *v, "a number");
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto b = v->as_bool()) return b;
  bad_type(name_, key, *v, "a bool");
}

const Array* GgufFile::get_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return nullptr;
  if (const Array* a = v->as_array()) return a;
  bad_type(name_, key, *v, "an array");
}

namespace {
[[noreturn]] void missing(const std::string& file, std::string_view key) {
  throw_error(errc::invalid_argument,
              fmt::format("gguf: {}: required metadata '{}' is missing", file, key));
}
}  // namespace

std::string_view GgufFile::require_string(std::string_view key) const {
  if (auto s = get_string(key)) return *s;
  missing(name_, key);
}

std::uint64_t GgufFile::require_uint(std::string_view key) const {
  if (auto u = get_uint(key)) return *u;
  missing(name_, key);
}

double GgufFile::require_float(std::string_view key) const {
  if (auto d = get_float(key)) return *d;
  missing(name_, key);
}

}  // namespace llmux::engine::gguf
