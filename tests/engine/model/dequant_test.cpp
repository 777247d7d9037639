// Dequantization of every supported weight type against blocks packed by hand in the test
// (the packing here is written from the format description, independently of the unpacking).
// Q4_0, Q5_0, Q8_0, Q4_K and Q6_K are also covered end to end by the llama.cpp-quantized
// fixtures in reference_logits_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "engine/kernels/dequant.hpp"
#include "engine/kernels/half.hpp"

namespace llmux::test {
namespace {

using engine::kernels::dequantize_row;
using engine::kernels::float_to_half;
using engine::kernels::half_to_float;
using engine::kernels::WeightType;

struct Bytes {
  std::vector<std::byte> b;
  void u8(std::uint8_t v) { b.push_back(static_cast<std::byte>(v)); }
  void half(float v) {
    const std::uint16_t h = float_to_half(v);
    u8(static_cast<std::uint8_t>(h & 0xFF));
    u8(static_cast<std::uint8_t>(h >> 8));
  }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
};

std::vector<float> run(WeightType type, const Bytes& bytes, std::int64_t n) {
  std::vector<float> out(static_cast<std::size_t>(n));
  dequantize_row(type, bytes.b.data(), out.data(), n);
  return out;
}

TEST(Half, KnownValuesAndExactRoundTripOfAllHalves) {
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0xC000), -2.0f);
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(half_to_float(0x7C00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7E00)));
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half(f), h) << std::hex << h;
  }
  // Round to nearest even between 1 and 1 + 2^-10.
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(float_to_half(1e6f), 0x7C00);
  EXPECT_EQ(engine::kernels::bf16_to_float(0x3F80), 1.0f);
}

TEST(Dequant, F16AndBf16) {
  Bytes b;
  b.half(0.5f);
  b.half(-3.25f);
  EXPECT_EQ(run(WeightType::f16, b, 2), (std::vector<float>{0.5f, -3.25f}));
  Bytes c;
  c.u8(0x80); c.u8(0x3F);  // 1.0
  c.u8(0x40); c.u8(0xC0);  // -3.0
  EXPECT_EQ(run(WeightType::bf16, c, 2), (std::vector<float>{1.0f, -3.0f}));
}

TEST(Dequant, Q4_0AndQ4_1) {
  Bytes b0, b1;
  b0.half(0.5f);
  b1.half(0.5f);
  b1.half(-1.0f);
  for (int j = 0; j < 16; ++j) {
    const auto q = static_cast<std::uint8_t>(j | ((15 - j) << 4));
    b0.u8(q);
    b1.u8(q);
  }
  const auto y0 = run(WeightType::q4_0, b0, 32);
  const auto y1 = run(WeightType::q4_1, b1, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y0[j], 0.5f * static_cast<float>(j - 8));
    EXPECT_EQ(y0[j + 16], 0.5f * static_cast<float>(15 - j - 8));
    EXPECT_EQ(y1[j], 0.5f * static_cast<float>(j) - 1.0f);
    EXPECT_EQ(y1[j + 16], 0.5f * static_cast<float>(15 - j) - 1.0f);
  }
}

TEST(Dequant, Q5_0AndQ5_1) {
  const std::uint32_t qh = 0xA5C3961Fu;
  Bytes b0, b1;
  b0.half(0.25f);
  b0.u32(qh);
  b1.half(0.25f);
  b1.half(2.0f);
  b1.u32(qh);
  for (int j = 0; j < 16; ++j) {
    const auto q = static_cast<std::uint8_t>(((3 * j) & 15) | (((j + 5) & 15) << 4));
    b0.u8(q);
    b1.u8(q);
  }
  const auto y0 = run(WeightType::q5_0, b0, 32);
  const auto y1 = run(WeightType::q5_1, b1, 32);
  for (int j = 0; j < 32; ++j) {
    const int low = j < 16 ? (3 * j) & 15 : ((j - 16) + 5) & 15;
    const int v = low | static_cast<int>((qh >> j) & 1u) << 4;
    EXPECT_EQ(y0[j], 0.25f * static_cast<float>(v - 16)) << j;
    EXPECT_EQ(y1[j], 0.25f * static_cast<float>(v) + 2.0f) << j;
  }
}

TEST(Dequant, Q8_0) {
  Bytes b;
  b.half(0.125f);
  for (int j = 0; j < 32; ++j) b.u8(static_cast<std::uint8_t>(static_cast<std::int8_t>(j * 7 - 100)));
  const auto y = run(WeightType::q8_0, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.125f * static_cast<float>(j * 7 - 100));
}

// Packs 8 sub-block scales and minimums (6 bits each) the way Q4_K and Q5_K store them.
void pack_k_scales(Bytes& b, const int* sc, const int* m) {
  std::uint8_t s[12];
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<std::uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<std::uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
  for (auto v : s) b.u8(v);
}

class KQuant : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(7);
    for (int s = 0; s < 8; ++s) {
      sc[s] = static_cast<int>(rng() % 64);
      mn[s] = static_cast<int>(rng() % 64);
    }
    for (auto& v : q) v = static_cast<int>(rng() % 32);
  }
  int sc[8], mn[8], q[256];
  const float d = 0.03125f, dmin = 0.0078125f;
};

TEST_F(KQuant, Q4_K) {
  Bytes b;
  b.half(d);
  b.half(dmin);
  pack_k_scales(b, sc, mn);
  for (int i = 0; i < 4; ++i) {
    for (int l = 0; l < 32; ++l) {
      b.u8(static_cast<std::uint8_t>((q[64 * i + l] & 15) | ((q[64 * i + 32 + l] & 15) << 4)));
    }
  }
  const auto y = run(WeightType::q4_k, b, 256);
  for (int w = 0; w < 256; ++w) {
    const int s = w / 32;
    EXPECT_EQ(y[w], d * static_cast<float>(sc[s]) * static_cast<float>(q[w] & 15) -
                        dmin * static_cast<float>(mn[s])) << w;
  }
}

TEST_F(KQuant, Q5_K) {
  Bytes b;
  b.half(d);
  b.half(dmin);
  pack_k_scales(b, sc, mn);
  for (int l = 0; l < 32; ++l) {  // bit s of qh[l]: the fifth bit of weight l of sub-block s
    int h = 0;
    for (int s = 0; s < 8; ++s) h |= ((q[32 * s + l] >> 4) & 1) << s;
    b.u8(static_cast<std::uint8_t>(h));
  }
  for (int i = 0; i < 4; ++i) {
    for (int l = 0; l < 32; ++l) {
      b.u8(static_cast<std::uint8_t>((q[64 * i + l] & 15) | ((q[64 * i + 32 + l] & 15) << 4)));
    }
  }
  ASSERT_EQ(b.b.size(), 176u);
  const auto y = run(WeightType::q5_k, b, 256);
  for (int w = 0; w < 256; ++w) {
    const int s = w / 32;
    EXPECT_EQ(y[w], d * static_cast<float>(sc[s]) * static_cast<float>(q[w]) -
                        dmin * static_cast<float>(mn[s])) << w;
  }
}

TEST(Dequant, Q6_K) {
  std::mt19937 rng(11);
  int u[256];  // stored values 0..63 (weight + 32)
  std::int8_t scales[16];
  for (auto& v : u) v = static_cast<int>(rng() % 64);
  for (auto& s : scales) s = static_cast<std::int8_t>(static_cast<int>(rng() % 256) - 128);
  Bytes b;
  std::uint8_t ql[128], qh[64];
  for (int h = 0; h < 2; ++h) {
    const int* x = u + 128 * h;
    for (int l = 0; l < 32; ++l) {
      ql[64 * h + l] = static_cast<std::uint8_t>((x[l] & 15) | ((x[64 + l] & 15) << 4));
      ql[64 * h + 32 + l] = static_cast<std::uint8_t>((x[32 + l] & 15) | ((x[96 + l] & 15) << 4));
      qh[32 * h + l] = static_cast<std::uint8_t>((x[l] >> 4) | ((x[32 + l] >> 4) << 2) |
                                                 ((x[64 + l] >> 4) << 4) | ((x[96 + l] >> 4) << 6));
    }
  }
  for (auto v : ql) b.u8(v);
  for (auto v : qh) b.u8(v);
  for (auto v : scales) b.u8(static_cast<std::uint8_t>(v));
  b.half(0.5f);
  ASSERT_EQ(b.b.size(), 210u);
  const auto y = run(WeightType::q6_k, b, 256);
  for (int w = 0; w < 256; ++w) {
    EXPECT_EQ(y[w], 0.5f * static_cast<float>(scales[w / 16]) * static_cast<float>(u[w] - 32)) << w;
  }
}

TEST(Dequant, LayoutsMatchGgml) {
  const std::pair<std::uint32_t, std::uint32_t> sizes[] = {
      {2, 18}, {3, 20}, {6, 22}, {7, 24}, {8, 34}, {12, 144}, {13, 176}, {14, 210}};
  for (auto [type, bytes] : sizes) {
    ASSERT_TRUE(engine::kernels::weight_layout(type)) << type;
    EXPECT_EQ(engine::kernels::weight_layout(type)->block_bytes, bytes) << type;
  }
  EXPECT_FALSE(engine::kernels::weight_layout(10));  // q2_K: not supported
  EXPECT_FALSE(engine::kernels::weight_layout(99));
}

}  // namespace
}  // namespace llmux::test
