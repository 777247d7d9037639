#include "engine/kernels/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/kernels/half.hpp"

namespace llmux::engine::kernels {
namespace {

void put_half(std::byte* p, float v) noexcept {
  const std::uint16_t h = float_to_half(v);
  std::memcpy(p, &h, 2);
}

int nearest(float v) noexcept { return static_cast<int>(std::lround(v)); }

// The value of largest magnitude, with its sign.
float signed_max(const float* x, int n) noexcept {
  float m = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > std::fabs(m)) m = x[i];
  }
  return m;
}

void q8_0(const float* x, std::byte* b) noexcept {
  float amax = 0;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = d ? 1.0f / d : 0.0f;
  put_half(b, d);
  for (int i = 0; i < 32; ++i) {
    b[2 + i] = static_cast<std::byte>(static_cast<std::int8_t>(std::clamp(nearest(x[i] * id), -127, 127)));
  }
}

// A 32-value block's stored integers q (0..15 or 0..31) at `at`: for 5 bits their fifth bits
// (bit i for value i), then 16 bytes of nibbles, value j low and value j + 16 high.
void put_q_n(const std::uint8_t (&q)[32], std::byte* at, int bits) noexcept {
  if (bits == 5) {
    std::uint32_t qh = 0;
    for (int i = 0; i < 32; ++i) qh |= static_cast<std::uint32_t>((q[i] >> 4) & 1) << i;
    std::memcpy(at, &qh, 4);
    at += 4;
  }
  for (int j = 0; j < 16; ++j) {
    at[j] = static_cast<std::byte>((q[j] & 15) | ((q[j + 16] & 15) << 4));
  }
}

// Q4_0 / Q5_0: d = max / -half_levels, q = x/d + offset.
void q_n_0(const float* x, std::byte* b, int bits) noexcept {
  const int offset = 1 << (bits - 1);
  const int top = (1 << bits) - 1;
  const float d = signed_max(x, 32) / static_cast<float>(-offset);
  const float id = d ? 1.0f / d : 0.0f;
  put_half(b, d);
  std::uint8_t q[32];
  for (int i = 0; i < 32; ++i) q[i] = static_cast<std::uint8_t>(std::clamp(nearest(x[i] * id) + offset, 0, top));
  put_q_n(q, b + 2, bits);
}

// Q4_1 / Q5_1: an affine map per block, value = d * q + m with m the block's minimum and
// d = (max - min) / top, q = (x - m) / d rounded to 0..top.
void q_n_1(const float* x, std::byte* b, int bits) noexcept {
  const int top = (1 << bits) - 1;
  float lo = x[0], hi = x[0];
  for (int i = 1; i < 32; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const float d = (hi - lo) / static_cast<float>(top);
  const float id = d ? 1.0f / d : 0.0f;
  put_half(b, d);
  put_half(b + 2, lo);
  std::uint8_t q[32];
  for (int i = 0; i < 32; ++i) q[i] = static_cast<std::uint8_t>(std::clamp(nearest((x[i] - lo) * id), 0, top));
  put_q_n(q, b + 4, bits);
}

// Q4_K / Q5_K: per 32-weight sub-block an affine map (scale, min) quantized to 6 bits against
// the super-block's d and dmin.
void q_k_affine(const float* x, std::byte* b, int bits) noexcept {
  const int top = (1 << bits) - 1;
  float scales[8], mins[8];
  for (int s = 0; s < 8; ++s) {
    float lo = *std::min_element(x + 32 * s, x + 32 * s + 32);
    const float hi = *std::max_element(x + 32 * s, x + 32 * s + 32);
    lo = std::min(lo, 0.0f);
    scales[s] = (hi - lo) / static_cast<float>(top);
    mins[s] = -lo;
  }
  const float max_scale = *std::max_element(scales, scales + 8);
  const float max_min = *std::max_element(mins, mins + 8);
  const float d = max_scale / 63.0f, dmin = max_min / 63.0f;
  int sc[8], mn[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = d ? std::clamp(nearest(scales[s] / d), 0, 63) : 0;
    mn[s] = dmin ? std::clamp(nearest(mins[s] / dmin), 0, 63) : 0;
  }
  put_half(b, d);
  put_half(b + 2, dmin);
  auto* packed = reinterpret_cast<std::uint8_t*>(b + 4);
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<std::uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<std::uint8_t>((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  // Use the 6-bit values actually stored (as the dequantizer will).
  const float dh = half_to_float(float_to_half(d)), mh = half_to_float(float_to_half(dmin));
  std::uint8_t q[256];
  for (int w = 0; w < 256; ++w) {
    const int s = w / 32;
    const float step = dh * static_cast<float>(sc[s]);
    const float v = step ? (x[w] + mh * static_cast<float>(mn[s])) / step : 0.0f;
    q[w] = static_cast<std::uint8_t>(std::clamp(nearest(v), 0, top));
  }
  auto* out = reinterpret_cast<std::uint8_t*>(b + 16);
  if (bits == 5) {
    for (int l = 0; l < 32; ++l) {
      int h = 0;
      for (int s = 0; s < 8; ++s) h |= ((q[32 * s + l] >> 4) & 1) << s;
      out[l] = static_cast<std::uint8_t>(h);
    }
    out += 32;
  }
  for (int i = 0; i < 4; ++i) {
    for (int l = 0; l < 32; ++l) {
      out[32 * i + l] = static_cast<std::uint8_t>((q[64 * i + l] & 15) | ((q[64 * i + 32 + l] & 15) << 4));
    }
  }
}

// Q6_K: 16 sub-blocks of 16 weights, signed 8-bit scales against d, 6-bit values offset by 32.
void q6_k(const float* x, std::byte* b) noexcept {
  float scales[16];
  for (int s = 0; s < 16; ++s) scales[s] = signed_max(x + 16 * s, 16) / -32.0f;
  const float max_abs = std::fabs(signed_max(scales, 16));
  const float d = max_abs / 127.0f;
  std::int8_t sc[16];
  for (int s = 0; s < 16; ++s) sc[s] = static_cast<std::int8_t>(d ? std::clamp(nearest(scales[s] / d), -127, 127) : 0);
  const float dh = half_to_float(float_to_half(d));
  int u[256];
  for (int w = 0; w < 256; ++w) {
    const float step = dh * static_cast<float>(sc[w / 16]);
    u[w] = std::clamp((step ? nearest(x[w] / step) : 0) + 32, 0, 63);
  }
  auto* ql = reinterpret_cast<std::uint8_t*>(b);
  auto* qh = ql + 128;
  for (int h = 0; h < 2; ++h) {
    const int* v = u + 128 * h;
    for (int l = 0; l < 32; ++l) {
      ql[64 * h + l] = static_cast<std::uint8_t>((v[l] & 15) | ((v[64 + l] & 15) << 4));
      ql[64 * h + 32 + l] = static_cast<std::uint8_t>((v[32 + l] & 15) | ((v[96 + l] & 15) << 4));
      qh[32 * h + l] = static_cast<std::uint8_t>((v[l] >> 4) | ((v[32 + l] >> 4) << 2) |
                                                 ((v[64 + l] >> 4) << 4) | ((v[96 + l] >> 4) << 6));
    }
  }
  std::memcpy(b + 192, sc, 16);
  put_half(b + 208, d);
}

// Writes n / values blocks: block i from src + values * i into dst + bytes * i. Returns true.
template <class Block>
bool each_block(const float* src, std::byte* dst, std::int64_t n, std::int64_t values, std::int64_t bytes,
                Block block) noexcept {
  for (std::int64_t i = 0; i < n / values; ++i) block(src + values * i, dst + bytes * i);
  return true;
}

}  // namespace

bool quantize_row(WeightType type, const float* src, std::byte* dst, std::int64_t n) noexcept {
  switch (type) {
    case WeightType::f32:
      std::memcpy(dst, src, static_cast<std::size_t>(n) * 4);
      return true;
    case WeightType::f16:
      for (std::int64_t i = 0; i < n; ++i) put_half(dst + 2 * i, src[i]);
      return true;
    case WeightType::bf16:
      for (std::int64_t i = 0; i < n; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, &src[i], 4);
        bits += 0x7FFFu + ((bits >> 16) & 1u);  // round to nearest even
        const auto h = static_cast<std::uint16_t>(bits >> 16);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return true;
    case WeightType::q8_0: return each_block(src, dst, n, 32, 34, [](const float* x, std::byte* b) { q8_0(x, b); });
    case WeightType::q4_0: return each_block(src, dst, n, 32, 18, [](const float* x, std::byte* b) { q_n_0(x, b, 4); });
    case WeightType::q5_0: return each_block(src, dst, n, 32, 22, [](const float* x, std::byte* b) { q_n_0(x, b, 5); });
    case WeightType::q4_1: return each_block(src, dst, n, 32, 20, [](const float* x, std::byte* b) { q_n_1(x, b, 4); });
    case WeightType::q5_1: return each_block(src, dst, n, 32, 24, [](const float* x, std::byte* b) { q_n_1(x, b, 5); });
    case WeightType::q4_k: return each_block(src, dst, n, 256, 144, [](const float* x, std::byte* b) { q_k_affine(x, b, 4); });
    case WeightType::q5_k: return each_block(src, dst, n, 256, 176, [](const float* x, std::byte* b) { q_k_affine(x, b, 5); });
    case WeightType::q6_k: return each_block(src, dst, n, 256, 210, [](const float* x, std::byte* b) { q6_k(x, b); });
    default:
      return false;
  }
}

}  // namespace llmux::engine::kernels
