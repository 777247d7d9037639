// Untrusted GGUF files: every malformed, truncated or hostile input gives llmux::Error
// (invalid_argument) with a message saying what is wrong — never a crash, abort, hang, huge
// allocation or out-of-bounds read (the suite also runs under ASan/UBSan).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include <llmux/error.hpp>

#include "engine/gguf/gguf.hpp"
#include "engine/gguf/gguf_writer.hpp"

namespace llmux::engine::gguf {
namespace {

// Hand-assembled GGUF bytes, for layouts the writer refuses to produce.
class Raw {
 public:
  template <typename T>
  Raw& put(T v) {
    std::byte b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    bytes.insert(bytes.end(), b, b + sizeof(T));
    return *this;
  }
  Raw& str(std::string_view s) {
    put<std::uint64_t>(s.size());
    for (char c : s) bytes.push_back(static_cast<std::byte>(c));
    return *this;
  }
  Raw& header(std::uint64_t n_tensors, std::uint64_t n_kv, std::uint32_t version = 3) {
    return put<std::uint32_t>(0x46554747).put(version).put(n_tensors).put(n_kv);
  }
  Raw& tensor(std::string_view name, std::vector<std::uint64_t> dims, std::uint32_t type,
              std::uint64_t offset) {
    str(name).put<std::uint32_t>(static_cast<std::uint32_t>(dims.size()));
    for (auto d : dims) put(d);
    return put(type).put(offset);
  }
  Raw& pad(std::size_t alignment = 32) {
    while (bytes.size() % alignment) bytes.push_back(std::byte{0});
    return *this;
  }
  Raw& zeros(std::size_t n) {
    bytes.insert(bytes.end(), n, std::byte{0});
    return *this;
  }
  std::vector<std::byte> bytes;
};

// Expects an llmux::Error whose message contains `needle`.
void expect_rejected(std::vector<std::byte> bytes, std::string_view needle) {
  try {
    (void)GgufFile::from_bytes(std::move(bytes), "hostile.gguf");
    ADD_FAILURE() << "accepted a file that should be rejected (" << needle << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hostile.gguf"), std::string::npos) << e.what();
  }
}

std::vector<std::byte> valid_file() {
  GgufWriter w;
  w.add("general.architecture", OwnedValue::string("llama"));
  w.add("a.nested", OwnedValue::array(ValueType::array, {OwnedValue::string_array({"x", "y"})}));
  w.add("a.f", OwnedValue::f32_array({1, 2, 3}));
  std::vector<std::byte> t(4 * 8, std::byte{1});
  w.add_tensor("t0", TensorType::f32, {8}, t);
  w.add_tensor("t1", TensorType::f32, {4, 2}, t);
  return w.bytes();
}

TEST(GgufHostile, HeaderProblems) {
  expect_rejected({}, "truncated");
  expect_rejected(Raw().put<std::uint32_t>(0x46554746).put(3u).zeros(16).bytes, "bad magic");
  expect_rejected(Raw().header(0, 0, 1).bytes, "unsupported GGUF version 1");
  expect_rejected(Raw().header(0, 0, 4).bytes, "unsupported GGUF version 4");
  expect_rejected(Raw().header(0, ~0ull).bytes, "metadata count");
  expect_rejected(Raw().header(~0ull >> 1, 0).bytes, "tensor count");
  EXPECT_NO_THROW(GgufFile::from_bytes(Raw().header(0, 0, 2).bytes));
}

TEST(GgufHostile, MetadataProblems) {
  expect_rejected(Raw().header(0, 1).str("k").put<std::uint32_t>(13).zeros(8).bytes,
                  "unknown value type 13");
  expect_rejected(Raw().header(0, 1).put<std::uint64_t>(1ull << 62).zeros(8).bytes,
                  "string length");
  expect_rejected(Raw().header(0, 1).str("").put<std::uint32_t>(4).put(1u).bytes,
                  "invalid length 0");
  expect_rejected(Raw().header(0, 1).str("k").put<std::uint32_t>(8).put<std::uint64_t>(99).bytes,
                  "string length 99");
  expect_rejected(Raw().header(0, 1).str("k").put<std::uint32_t>(9).put<std::uint32_t>(4)
                      .put<std::uint64_t>(1ull << 60).zeros(16).bytes,
                  "cannot fit");
  expect_rejected(Raw().header(0, 1).str("k").put<std::uint32_t>(9).put<std::uint32_t>(77)
                      .put<std::uint64_t>(1).zeros(8).bytes,
                  "unknown array element type 77");
  expect_rejected(Raw().header(0, 1).str("k").put<std::uint32_t>(7).put<std::uint8_t>(2).bytes,
                  "bool value 2");
  expect_rejected(Raw().header(0, 2).str("k").put<std::uint32_t>(4).put(1u)
                      .str("k").put<std::uint32_t>(4).put(2u).bytes,
                  "duplicate metadata key 'k'");
  Raw deep;
  deep.header(0, 1).str("k").put<std::uint32_t>(9);
  for (int i = 0; i < 20; ++i) deep.put<std::uint32_t>(9).put<std::uint64_t>(1);
  deep.put<std::uint32_t>(4).put<std::uint64_t>(0);
  expect_rejected(deep.bytes, "nested deeper");
  expect_rejected(Raw().header(0, 1).str("general.alignment").put<std::uint32_t>(4).put(24u).bytes,
                  "power of two");
  expect_rejected(Raw().header(0, 1).str("general.alignment").put<std::uint32_t>(4).put(0u).bytes,
                  "power of two");
}

TEST(GgufHostile, TensorProblems) {
  auto one = [](std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset,
                std::size_t data) {
    return Raw().header(1, 0).tensor("w", dims, type, offset).pad().zeros(data).bytes;
  };
  EXPECT_NO_THROW(GgufFile::from_bytes(one({8}, 0, 0, 32)));
  expect_rejected(one({}, 0, 0, 32), "0 dimensions");
  expect_rejected(one({1, 1, 1, 1, 1}, 0, 0, 32), "5 dimensions");
  expect_rejected(one({8, 0}, 0, 0, 32), "zero dimension");
  expect_rejected(one({1ull << 40, 1ull << 40}, 0, 0, 32), "too many elements");
  expect_rejected(one({1ull << 62}, 0, 0, 32), "too large");
  expect_rejected(one({8}, 5, 0, 32), "unknown type 5");
  expect_rejected(one({8}, 12345, 0, 32), "unknown type 12345");
  expect_rejected(one({48}, 8, 0, 64), "not a multiple of the q8_0 block size 32");
  expect_rejected(one({8}, 0, 4, 64), "not a multiple of the alignment");
  expect_rejected(one({8}, 0, 32, 32), "extends past the end");
  expect_rejected(one({8}, 0, ~0ull & ~31ull, 32), "extends past the end");
  expect_rejected(one({9}, 0, 0, 32), "extends past the end");
  expect_rejected(Raw().header(1, 0).tensor(std::string(65, 'n'), {8}, 0, 0).pad().zeros(32).bytes,
                  "invalid length 65");
  expect_rejected(Raw().header(1, 0).tensor("w", {8}, 0, 0).bytes,
                  "truncated before the tensor data");
  expect_rejected(Raw().header(2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad()
                      .zeros(64).bytes,
                  "duplicate tensor name 'w'");
  expect_rejected(Raw().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad()
                      .zeros(96).bytes,
                  "overlap");
}

TEST(GgufHostile, EveryTruncationIsRejected) {
  const auto full = valid_file();
  ASSERT_NO_THROW(GgufFile::from_bytes(full));
  for (std::size_t n = 0; n < full.size(); ++n) {
    std::vector<std::byte> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(GgufFile::from_bytes(std::move(cut)), Error) << "prefix of " << n << " bytes";
  }
}

TEST(GgufHostile, RandomCorruptionNeverCrashes) {
  const auto full = valid_file();
  std::mt19937 rng(7);
  int rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    auto bytes = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      bytes[rng() % bytes.size()] = static_cast<std::byte>(rng() & 0xFF);
    }
    try {
      auto g = GgufFile::from_bytes(std::move(bytes));
      for (const auto& t : g.tensors()) {  // whatever was accepted is in bounds
        ASSERT_LE(g.data_offset() + t.offset + t.n_bytes, g.file_size());
      }
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::invalid_argument);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace llmux::engine::gguf
