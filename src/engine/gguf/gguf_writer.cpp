#include "engine/gguf/gguf_writer.hpp"

#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::engine::gguf {

OwnedValue OwnedValue::string_array(const std::vector<std::string>& items) {
  std::vector<OwnedValue> v;
  v.reserve(items.size());
  for (const auto& s : items) v.push_back(string(s));
  return array(ValueType::string, std::move(v));
}

OwnedValue OwnedValue::f32_array(const std::vector<float>& items) {
  std::vector<OwnedValue> v;
  v.reserve(items.size());
  for (float f : items) v.push_back(f32(f));
  return array(ValueType::f32, std::move(v));
}

OwnedValue OwnedValue::i32_array(const std::vector<std::int32_t>& items) {
  std::vector<OwnedValue> v;
  v.reserve(items.size());
  for (auto i : items) v.push_back(i32(i));
  return array(ValueType::i32, std::move(v));
}

namespace {

class Out {
 public:
  template <typename T>
  void put(T v) {
    std::byte b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    buf.insert(buf.end(), b, b + sizeof(T));
  }
  void put_string(std::string_view s) {
    put<std::uint64_t>(s.size());
    auto p = reinterpret_cast<const std::byte*>(s.data());
    buf.insert(buf.end(), p, p + s.size());
  }
  void pad_to(std::uint64_t alignment) {
    while (buf.size() % alignment != 0) buf.push_back(std::byte{0});
  }
  std::vector<std::byte> buf;
};

void put_value(Out& o, const OwnedValue& v) {
  switch (v.type) {
    case ValueType::u8: o.put<std::uint8_t>(std::get<std::uint64_t>(v.value)); break;
    case ValueType::i8: o.put<std::int8_t>(std::get<std::int64_t>(v.value)); break;
    case ValueType::u16: o.put<std::uint16_t>(std::get<std::uint64_t>(v.value)); break;
    case ValueType::i16: o.put<std::int16_t>(std::get<std::int64_t>(v.value)); break;
    case ValueType::u32: o.put<std::uint32_t>(std::get<std::uint64_t>(v.value)); break;
    case ValueType::i32: o.put<std::int32_t>(std::get<std::int64_t>(v.value)); break;
    case ValueType::u64: o.put<std::uint64_t>(std::get<std::uint64_t>(v.value)); break;
    case ValueType::i64: o.put<std::int64_t>(std::get<std::int64_t>(v.value)); break;
    case ValueType::f32: o.put<float>(static_cast<float>(std::get<double>(v.value))); break;
    case ValueType::f64: o.put<double>(std::get<double>(v.value)); break;
    case ValueType::boolean: o.put<std::uint8_t>(std::get<bool>(v.value) ? 1 : 0); break;
    case ValueType::string: o.put_string(std::get<std::string>(v.value)); break;
    case ValueType::array: {
      const auto& items = std::get<std::vector<OwnedValue>>(v.value);
      o.put<std::uint32_t>(static_cast<std::uint32_t>(v.element_type));
      o.put<std::uint64_t>(items.size());
      for (const auto& item : items) {
        if (item.type != v.element_type) {
          throw_error(errc::invalid_argument, "gguf writer: array element of the wrong type");
        }
        put_value(o, item);
      }
      break;
    }
  }
}

}  // namespace

void GgufWriter::add(std::string key, OwnedValue value) {
  if (key == "general.alignment" && value.type == ValueType::u32) {
    alignment_ = static_cast<std::uint32_t>(std::get<std::uint64_t>(value.value));
    if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
      throw_error(errc::invalid_argument, "gguf writer: alignment must be a power of two");
    }
  }
  kv_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, TensorType type, std::vector<std::uint64_t> shape,
                            std::span<const std::byte> data) {
  auto traits = tensor_type_traits(static_cast<std::uint32_t>(type));
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  if (!traits || shape.empty() || n % traits->block_size != 0 ||
      n / traits->block_size * traits->type_size != data.size()) {
    throw_error(errc::invalid_argument,
                fmt::format("gguf writer: tensor '{}' data size does not match its shape", name));
  }
  tensors_.push_back(Tensor{std::move(name), type, std::move(shape),
                            std::vector<std::byte>(data.begin(), data.end())});
}

std::vector<std::byte> GgufWriter::bytes() const {
  Out o;
  o.put<std::uint32_t>(0x46554747);
  o.put<std::uint32_t>(version_);
  o.put<std::uint64_t>(tensors_.size());
  o.put<std::uint64_t>(kv_.size());
  for (const auto& [key, value] : kv_) {
    o.put_string(key);
    o.put<std::uint32_t>(static_cast<std::uint32_t>(value.type));
    put_value(o, value);
  }
  std::uint64_t offset = 0;
  for (const auto& t : tensors_) {
    o.put_string(t.name);
    o.put<std::uint32_t>(static_cast<std::uint32_t>(t.shape.size()));
    for (auto d : t.shape) o.put<std::uint64_t>(d);
    o.put<std::uint32_t>(static_cast<std::uint32_t>(t.type));
    o.put<std::uint64_t>(offset);
    offset += (t.data.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  o.pad_to(alignment_);
  for (const auto& t : tensors_) {
    o.buf.insert(o.buf.end(), t.data.begin(), t.data.end());
    o.pad_to(alignment_);
  }
  return std::move(o.buf);
}

void GgufWriter::write(const std::filesystem::path& path) const {
  auto b = bytes();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) {
    throw_error(errc::invalid_argument, fmt::format("gguf writer: cannot write {}", path.string()));
  }
}

OwnedValue OwnedValue::copy_of(const Value& v) {
  switch (v.type()) {
    case ValueType::string: return string(std::string(*v.as_string()));
    case ValueType::f32:
    case ValueType::f64: return {v.type(), {}, *v.as_float()};
    case ValueType::boolean: return boolean(*v.as_bool());
    case ValueType::array: {
      std::vector<OwnedValue> items;
      items.reserve(v.as_array()->items.size());
      for (const auto& item : v.as_array()->items) items.push_back(copy_of(item));
      return array(v.as_array()->element_type, std::move(items));
    }
    case ValueType::i8:
    case ValueType::i16:
    case ValueType::i32:
    case ValueType::i64: return {v.type(), {}, *v.as_int()};
    default: return {v.type(), {}, *v.as_uint()};
  }
}

}  // namespace llmux::engine::gguf
