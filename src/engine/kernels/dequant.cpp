#include "engine/kernels/dequant.hpp"

#include <cstring>

#include "engine/kernels/half.hpp"
#include "engine/kernels/kquant_scales.hpp"

namespace llmux::engine::kernels {
namespace {

constexpr int kQK = 32;    // weights per block of the 32-element formats
constexpr int kQKK = 256;  // weights per K-quant super-block

std::uint16_t load_u16(const std::byte* p) noexcept {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
float load_half(const std::byte* p) noexcept { return half_to_float(load_u16(p)); }
const std::uint8_t* bytes(const std::byte* p) noexcept {
  return reinterpret_cast<const std::uint8_t*>(p);
}

// Q4_0: d (f16), 16 bytes of nibbles; low nibbles are weights 0..15, high nibbles 16..31.
void q4_0(const std::byte* b, float* y) noexcept {
  const float d = load_half(b);
  const std::uint8_t* qs = bytes(b + 2);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    y[j + kQK / 2] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

// Q4_1: d, m (f16), nibbles as Q4_0 without the offset; w = d*q + m.
void q4_1(const std::byte* b, float* y) noexcept {
  const float d = load_half(b);
  const float m = load_half(b + 2);
  const std::uint8_t* qs = bytes(b + 4);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + kQK / 2] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

// Q5_0: d (f16), 32 high bits (bit j is weight j's fifth bit), nibbles as Q4_0; offset 16.
void q5_0(const std::byte* b, float* y) noexcept {
  const float d = load_half(b);
  std::uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const std::uint8_t* qs = bytes(b + 6);
  for (int j = 0; j < kQK / 2; ++j) {
    const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
    y[j] = d * static_cast<float>(((qs[j] & 0x0F) | h0) - 16);
    y[j + kQK / 2] = d * static_cast<float>(((qs[j] >> 4) | h1) - 16);
  }
}

// Q5_1: d, m (f16), high bits, nibbles; w = d*q + m.
void q5_1(const std::byte* b, float* y) noexcept {
  const float d = load_half(b);
  const float m = load_half(b + 2);
  std::uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const std::uint8_t* qs = bytes(b + 8);
  for (int j = 0; j < kQK / 2; ++j) {
    const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
    y[j] = d * static_cast<float>((qs[j] & 0x0F) | h0) + m;
    y[j + kQK / 2] = d * static_cast<float>((qs[j] >> 4) | h1) + m;
  }
}

// Q8_0: d (f16), 32 signed bytes.
void q8_0(const std::byte* b, float* y) noexcept {
  const float d = load_half(b);
  const auto* qs = reinterpret_cast<const std::int8_t*>(b + 2);
  for (int j = 0; j < kQK; ++j) y[j] = d * static_cast<float>(qs[j]);
}

// Q4_K: d, dmin (f16), 12 scale bytes, 128 nibble bytes. Each 64 weights use 32 bytes: low
// nibbles for the first 32 (sub-block 2i), high nibbles for the next 32 (sub-block 2i+1).
void q4_k(const std::byte* b, float* y) noexcept {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const std::uint8_t* scales = bytes(b + 4);
  const std::uint8_t* q = bytes(b + 16);
  for (int i = 0; i < 4; ++i) {
    int sc0, m0, sc1, m1;
    scale_min_k4(2 * i, scales, sc0, m0);
    scale_min_k4(2 * i + 1, scales, sc1, m1);
    const float d0 = d * static_cast<float>(sc0), mm0 = dmin * static_cast<float>(m0);
    const float d1 = d * static_cast<float>(sc1), mm1 = dmin * static_cast<float>(m1);
    for (int l = 0; l < 32; ++l) {
      y[l] = d0 * static_cast<float>(q[l] & 0x0F) - mm0;
      y[l + 32] = d1 * static_cast<float>(q[l] >> 4) - mm1;
    }
    y += 64;
    q += 32;
  }
}

// Q5_K: as Q4_K plus 32 bytes of fifth bits: bit 2i of qh[l] belongs to weight l of sub-block
// 2i, bit 2i+1 to weight l of sub-block 2i+1.
void q5_k(const std::byte* b, float* y) noexcept {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const std::uint8_t* scales = bytes(b + 4);
  const std::uint8_t* qh = bytes(b + 16);
  const std::uint8_t* ql = bytes(b + 48);
  for (int i = 0; i < 4; ++i) {
    int sc0, m0, sc1, m1;
    scale_min_k4(2 * i, scales, sc0, m0);
    scale_min_k4(2 * i + 1, scales, sc1, m1);
    const float d0 = d * static_cast<float>(sc0), mm0 = dmin * static_cast<float>(m0);
    const float d1 = d * static_cast<float>(sc1), mm1 = dmin * static_cast<float>(m1);
    const std::uint8_t u0 = static_cast<std::uint8_t>(1u << (2 * i));
    const std::uint8_t u1 = static_cast<std::uint8_t>(2u << (2 * i));
    for (int l = 0; l < 32; ++l) {
      y[l] = d0 * static_cast<float>((ql[l] & 0x0F) + ((qh[l] & u0) ? 16 : 0)) - mm0;
      y[l + 32] = d1 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u1) ? 16 : 0)) - mm1;
    }
    y += 64;
    ql += 32;
  }
}

// Q6_K: 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 signed 8-bit scales, d (f16).
// Each half of 128 weights uses 64 low bytes, 32 high bytes and 8 scales.
void q6_k(const std::byte* b, float* y) noexcept {
  const std::uint8_t* ql = bytes(b);
  const std::uint8_t* qh = bytes(b + 128);
  const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192);
  const float d = load_half(b + 208);
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int v1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int v2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int v3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int v4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(v1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(v2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(v3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(v4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

template <void (*Block)(const std::byte*, float*) noexcept>
void blocks(const std::byte* src, float* dst, std::int64_t n, int block_size, int block_bytes) {
  for (std::int64_t i = 0; i < n / block_size; ++i) {
    Block(src + i * block_bytes, dst + i * block_size);
  }
}

}  // namespace

std::optional<WeightLayout> weight_layout(std::uint32_t ggml_type) noexcept {
  switch (static_cast<WeightType>(ggml_type)) {
    case WeightType::f32: return WeightLayout{"f32", 1, 4};
    case WeightType::f16: return WeightLayout{"f16", 1, 2};
    case WeightType::bf16: return WeightLayout{"bf16", 1, 2};
    case WeightType::q4_0: return WeightLayout{"q4_0", kQK, 2 + 16};
    case WeightType::q4_1: return WeightLayout{"q4_1", kQK, 4 + 16};
    case WeightType::q5_0: return WeightLayout{"q5_0", kQK, 2 + 4 + 16};
    case WeightType::q5_1: return WeightLayout{"q5_1", kQK, 4 + 4 + 16};
    case WeightType::q8_0: return WeightLayout{"q8_0", kQK, 2 + 32};
    case WeightType::q4_k: return WeightLayout{"q4_K", kQKK, 4 + 12 + 128};
    case WeightType::q5_k: return WeightLayout{"q5_K", kQKK, 4 + 12 + 32 + 128};
    case WeightType::q6_k: return WeightLayout{"q6_K", kQKK, 128 + 64 + 16 + 2};
  }
  return std::nullopt;
}

std::size_t row_bytes(WeightType type, std::int64_t n) noexcept {
  const auto layout = weight_layout(static_cast<std::uint32_t>(type));
  if (!layout) return 0;
  return static_cast<std::size_t>(n / layout->block_size) * layout->block_bytes;
}

void dequantize_row(WeightType type, const std::byte* src, float* dst, std::int64_t n) noexcept {
  switch (type) {
    case WeightType::f32:
      std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
      return;
    case WeightType::f16:
      for (std::int64_t i = 0; i < n; ++i) dst[i] = load_half(src + 2 * i);
      return;
    case WeightType::bf16:
      for (std::int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(load_u16(src + 2 * i));
      return;
    case WeightType::q4_0: return blocks<q4_0>(src, dst, n, kQK, 18);
    case WeightType::q4_1: return blocks<q4_1>(src, dst, n, kQK, 20);
    case WeightType::q5_0: return blocks<q5_0>(src, dst, n, kQK, 22);
    case WeightType::q5_1: return blocks<q5_1>(src, dst, n, kQK, 24);
    case WeightType::q8_0: return blocks<q8_0>(src, dst, n, kQK, 34);
    case WeightType::q4_k: return blocks<q4_k>(src, dst, n, kQKK, 144);
    case WeightType::q5_k: return blocks<q5_k>(src, dst, n, kQKK, 176);
    case WeightType::q6_k: return blocks<q6_k>(src, dst, n, kQKK, 210);
  }
}

}  // namespace llmux::engine::kernels
