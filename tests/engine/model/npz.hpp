// Reads float64/float32 arrays from NumPy .npz files (zip archives of .npy files, stored or
// deflated) for comparing against reference logits. Test-only; throws std::runtime_error.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace llmux::test {

struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<double> data;  // row-major
  std::int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  std::int64_t cols() const { return shape.size() < 2 ? 1 : shape[1]; }
  const double* row(std::int64_t r) const { return data.data() + r * cols(); }
};

namespace npz_detail {

inline std::uint32_t u32(const std::string& b, std::size_t at) {
  if (at + 4 > b.size()) throw std::runtime_error("npz: truncated");
  std::uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
inline std::uint16_t u16(const std::string& b, std::size_t at) {
  if (at + 2 > b.size()) throw std::runtime_error("npz: truncated");
  std::uint16_t v;
  std::memcpy(&v, b.data() + at, 2);
  return v;
}

inline std::string inflate_raw(const char* src, std::size_t n, std::size_t out_size) {
  std::string out(out_size, '\0');
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) throw std::runtime_error("npz: inflateInit2");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(src));
  z.avail_in = static_cast<uInt>(n);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out_size);
  const int rc = inflate(&z, Z_FINISH);
  inflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("npz: inflate failed");
  return out;
}

inline NpyArray parse_npy(const std::string& b) {
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) throw std::runtime_error("npy: magic");
  const int major = static_cast<unsigned char>(b[6]);
  const std::size_t hlen = major == 1 ? u16(b, 8) : u32(b, 8);
  const std::size_t hstart = major == 1 ? 10 : 12;
  const std::string header = b.substr(hstart, hlen);
  const auto descr_at = header.find("'descr': '");
  if (descr_at == std::string::npos) throw std::runtime_error("npy: no descr");
  const std::string descr = header.substr(descr_at + 10, 3);
  if (header.find("'fortran_order': False") == std::string::npos) {
    throw std::runtime_error("npy: fortran order");
  }
  NpyArray a;
  const auto sp = header.find("'shape': (");
  std::size_t i = sp + 10;
  while (i < header.size() && header[i] != ')') {
    if (std::isdigit(static_cast<unsigned char>(header[i]))) {
      std::size_t used = 0;
      a.shape.push_back(std::stoll(header.substr(i), &used));
      i += used;
    } else {
      ++i;
    }
  }
  std::int64_t n = 1;
  for (auto d : a.shape) n *= d;
  const std::size_t data_at = hstart + hlen;
  a.data.resize(static_cast<std::size_t>(n));
  if (descr == "<f8") {
    if (data_at + 8 * a.data.size() > b.size()) throw std::runtime_error("npy: short data");
    std::memcpy(a.data.data(), b.data() + data_at, 8 * a.data.size());
  } else if (descr == "<f4") {
    if (data_at + 4 * a.data.size() > b.size()) throw std::runtime_error("npy: short data");
    for (std::size_t k = 0; k < a.data.size(); ++k) {
      float f;
      std::memcpy(&f, b.data() + data_at + 4 * k, 4);
      a.data[k] = f;
    }
  } else {
    throw std::runtime_error("npy: unsupported dtype " + descr);
  }
  return a;
}

}  // namespace npz_detail

// Every array of the archive, by name without the ".npy" suffix.
inline std::map<std::string, NpyArray> read_npz(const std::string& path) {
  using namespace npz_detail;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("npz: cannot open " + path);
  const std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // End of central directory: the last "PK\5\6".
  const auto eocd = b.rfind(std::string("PK\x05\x06", 4));
  if (eocd == std::string::npos) throw std::runtime_error("npz: no central directory");
  const std::size_t n_entries = u16(b, eocd + 10);
  std::size_t at = u32(b, eocd + 16);
  std::map<std::string, NpyArray> out;
  for (std::size_t e = 0; e < n_entries; ++e) {
    if (u32(b, at) != 0x02014b50) throw std::runtime_error("npz: bad central entry");
    const int method = u16(b, at + 10);
    const std::size_t csize = u32(b, at + 20), usize = u32(b, at + 24);
    const std::size_t nlen = u16(b, at + 28), xlen = u16(b, at + 30), clen = u16(b, at + 32);
    const std::size_t local = u32(b, at + 42);
    std::string name = b.substr(at + 46, nlen);
    at += 46 + nlen + xlen + clen;
    const std::size_t data = local + 30 + u16(b, local + 26) + u16(b, local + 28);
    if (data + csize > b.size()) throw std::runtime_error("npz: entry past the end");
    std::string bytes = method == 0 ? b.substr(data, csize)
                      : method == 8 ? inflate_raw(b.data() + data, csize, usize)
                                    : throw std::runtime_error("npz: unsupported compression");
    if (name.size() > 4 && name.ends_with(".npy")) name.resize(name.size() - 4);
    out.emplace(name, parse_npy(bytes));
  }
  return out;
}

}  // namespace llmux::test
