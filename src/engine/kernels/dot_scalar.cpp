// Scalar reference dot products (see dot.hpp).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/kernels/dot.hpp"
#include "engine/kernels/half.hpp"
#include "engine/kernels/kquant_scales.hpp"
#include "engine/kernels/ops.hpp"

namespace llmux::engine::kernels {
namespace {

float h(const std::byte* p) noexcept {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return half_to_float(v);
}
const std::uint8_t* u8(const std::byte* p) noexcept {
  return reinterpret_cast<const std::uint8_t*>(p);
}

float dot_f32(const std::byte* w, const void* x, std::int64_t n) noexcept {
  return dot(reinterpret_cast<const float*>(w), static_cast<const float*>(x), n);
}

template <WeightType T>
float dot_float_via_dequant(const std::byte* w, const void* x, std::int64_t n) noexcept {
  // 16-bit float weights: convert in chunks, then the float dot (same order as dot()).
  float acc = 0;
  float buf[256];
  const auto* xf = static_cast<const float*>(x);
  for (std::int64_t i = 0; i < n; i += 256) {
    const std::int64_t m = std::min<std::int64_t>(256, n - i);
    dequantize_row(T, w + 2 * i, buf, m);
    acc += dot(buf, xf + i, m);
  }
  return acc;
}

float dot_q8_0(const std::byte* w, const void* act, std::int64_t n) noexcept {
  const auto* a = static_cast<const ActQ8*>(act);
  float acc = 0;
  for (std::int64_t b = 0; b < n / 32; ++b, w += 34) {
    const auto* q = reinterpret_cast<const std::int8_t*>(w + 2);
    int s = 0;
    for (int j = 0; j < 32; ++j) s += q[j] * a[b].q[j];
    acc += h(w) * a[b].d * static_cast<float>(s);
  }
  return acc;
}

// Q4_0, Q4_1, Q5_0, Q5_1: unpack the block's 32 integers, then as Q8_0.
template <int Bits, bool Min>
float dot_q_n(const std::byte* w, const void* act, std::int64_t n) noexcept {
  const auto* a = static_cast<const ActQ8*>(act);
  constexpr int kBytes = 2 + (Min ? 2 : 0) + (Bits == 5 ? 4 : 0) + 16;
  constexpr int kOffset = Min ? 0 : (1 << (Bits - 1));
  float acc = 0;
  for (std::int64_t b = 0; b < n / 32; ++b, w += kBytes) {
    std::uint32_t qh = 0;
    if constexpr (Bits == 5) std::memcpy(&qh, w + (Min ? 4 : 2), 4);
    const std::uint8_t* qs = u8(w + kBytes - 16);
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      int lo = qs[j] & 15, hi = qs[j] >> 4;
      if constexpr (Bits == 5) {
        lo |= static_cast<int>((qh >> j) & 1u) << 4;
        hi |= static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      }
      s += (lo - kOffset) * a[b].q[j] + (hi - kOffset) * a[b].q[j + 16];
    }
    acc += h(w) * a[b].d * static_cast<float>(s);
    if constexpr (Min) acc += h(w + 2) * a[b].sum;
  }
  return acc;
}

// Q4_K / Q5_K: sum over sub-blocks of sc * (q . a) and m * sum(a).
template <int Bits>
float dot_q_k_affine(const std::byte* w, const void* act, std::int64_t n) noexcept {
  const auto* a = static_cast<const ActQ8K*>(act);
  constexpr int kBytes = Bits == 4 ? 144 : 176;
  float acc = 0;
  for (std::int64_t b = 0; b < n / 256; ++b, w += kBytes) {
    const std::uint8_t* scales = u8(w + 4);
    const std::uint8_t* qh = u8(w + 16);
    const std::uint8_t* ql = u8(w + (Bits == 4 ? 16 : 48));
    int sumi = 0, summ = 0;
    for (int i = 0; i < 4; ++i) {
      int sc0, m0, sc1, m1;
      scale_min_k4(2 * i, scales, sc0, m0);
      scale_min_k4(2 * i + 1, scales, sc1, m1);
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        int v0 = ql[32 * i + l] & 15, v1 = ql[32 * i + l] >> 4;
        if constexpr (Bits == 5) {
          v0 += (qh[l] >> (2 * i)) & 1 ? 16 : 0;
          v1 += (qh[l] >> (2 * i + 1)) & 1 ? 16 : 0;
        }
        s0 += v0 * a[b].q[64 * i + l];
        s1 += v1 * a[b].q[64 * i + 32 + l];
      }
      sumi += sc0 * s0 + sc1 * s1;
      summ += m0 * (a[b].bsums[4 * i] + a[b].bsums[4 * i + 1]) +
              m1 * (a[b].bsums[4 * i + 2] + a[b].bsums[4 * i + 3]);
    }
    acc += h(w) * a[b].d * static_cast<float>(sumi) - h(w + 2) * a[b].d * static_cast<float>(summ);
  }
  return acc;
}

float dot_q6_k(const std::byte* w, const void* act, std::int64_t n) noexcept {
  const auto* a = static_cast<const ActQ8K*>(act);
  float acc = 0;
  for (std::int64_t b = 0; b < n / 256; ++b, w += 210) {
    const std::uint8_t* ql = u8(w);
    const std::uint8_t* qh = u8(w + 128);
    const auto* sc = reinterpret_cast<const std::int8_t*>(w + 192);
    int sums[16] = {};
    for (int half = 0; half < 2; ++half) {
      for (int l = 0; l < 32; ++l) {
        const std::int8_t* q = a[b].q + 128 * half;
        const int u1 = (ql[64 * half + l] & 15) | (((qh[32 * half + l] >> 0) & 3) << 4);
        const int u2 = (ql[64 * half + l + 32] & 15) | (((qh[32 * half + l] >> 2) & 3) << 4);
        const int u3 = (ql[64 * half + l] >> 4) | (((qh[32 * half + l] >> 4) & 3) << 4);
        const int u4 = (ql[64 * half + l + 32] >> 4) | (((qh[32 * half + l] >> 6) & 3) << 4);
        const int s = 8 * half + l / 16;
        sums[s] += u1 * q[l];
        sums[s + 2] += u2 * q[l + 32];
        sums[s + 4] += u3 * q[l + 64];
        sums[s + 6] += u4 * q[l + 96];
      }
    }
    int sumi = 0;
    for (int s = 0; s < 16; ++s) sumi += sc[s] * (sums[s] - 32 * a[b].bsums[s]);
    acc += h(w + 208) * a[b].d * static_cast<float>(sumi);
  }
  return acc;
}

void axpy_f32(float a, const std::byte* x, float* y, std::int64_t n) noexcept {
  const auto* xf = reinterpret_cast<const float*>(x);
  for (std::int64_t i = 0; i < n; ++i) y[i] += a * xf[i];
}

void axpy_f16(float a, const std::byte* x, float* y, std::int64_t n) noexcept {
  for (std::int64_t i = 0; i < n; ++i) y[i] += a * h(x + 2 * i);
}

}  // namespace

namespace {

template <WeightType T>
void scores_rows(const float* q, std::int64_t heads, const std::byte* k, std::size_t k_stride,
                 std::int64_t rows, std::int64_t dim, float scale, float* scores,
                 std::int64_t scores_stride) noexcept {
  const DotFn dot = dot_function(T);
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::int64_t j = 0; j < rows; ++j) {
      scores[h * scores_stride + j] = dot(k + static_cast<std::size_t>(j) * k_stride, q + h * dim, dim) * scale;
    }
  }
}

template <WeightType T>
void weighted_sum_rows(const float* w, std::int64_t w_stride, std::int64_t heads,
                       const std::byte* v, std::size_t v_stride, std::int64_t rows,
                       std::int64_t dim, float* out) noexcept {
  const AxpyFn axpy = axpy_function(T);
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::int64_t j = 0; j < rows; ++j) {
      axpy(w[h * w_stride + j], v + static_cast<std::size_t>(j) * v_stride, out + h * dim, dim);
    }
  }
}

}  // namespace

ScoresFn scores_function(WeightType type) noexcept {
  if (ScoresFn f = scores_function_avx2(type)) return f;
  return type == WeightType::f16 ? scores_rows<WeightType::f16> : scores_rows<WeightType::f32>;
}

WeightedSumFn weighted_sum_function(WeightType type) noexcept {
  if (WeightedSumFn f = weighted_sum_function_avx2(type)) return f;
  return type == WeightType::f16 ? weighted_sum_rows<WeightType::f16> : weighted_sum_rows<WeightType::f32>;
}

AxpyFn axpy_function_scalar(WeightType type) noexcept {
  return type == WeightType::f16 ? axpy_f16 : axpy_f32;
}

ActKind act_kind(WeightType type) noexcept {
  switch (type) {
    case WeightType::q8_0: case WeightType::q4_0: case WeightType::q4_1:
    case WeightType::q5_0: case WeightType::q5_1: return ActKind::q8;
    case WeightType::q4_k: case WeightType::q5_k: case WeightType::q6_k: return ActKind::q8k;
    default: return ActKind::f32;
  }
}

void quantize_act_q8(const float* x, ActQ8* out, std::int64_t n) noexcept {
  if (cpu_has_avx2()) {
    quantize_act_q8_avx2(x, out, n);
  } else {
    quantize_act_q8_scalar(x, out, n);
  }
}

void quantize_act_q8_scalar(const float* x, ActQ8* out, std::int64_t n) noexcept {
  for (std::int64_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      out[b].q[j] = static_cast<std::int8_t>(std::lrintf(x[j] * id));
      sum += out[b].q[j];
    }
    out[b].d = d;
    out[b].sum = d * static_cast<float>(sum);
    out[b].qsum = sum;
  }
}

void quantize_act_q8k(const float* x, ActQ8K* out, std::int64_t n) noexcept {
  if (cpu_has_avx2()) {
    quantize_act_q8k_avx2(x, out, n);
  } else {
    quantize_act_q8k_scalar(x, out, n);
  }
}

void quantize_act_q8k_scalar(const float* x, ActQ8K* out, std::int64_t n) noexcept {
  for (std::int64_t b = 0; b < n / 256; ++b, x += 256) {
    float amax = 0;
    for (int j = 0; j < 256; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < 256; ++j) out[b].q[j] = static_cast<std::int8_t>(std::lrintf(x[j] * id));
    for (int s = 0; s < 16; ++s) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += out[b].q[16 * s + j];
      out[b].bsums[s] = static_cast<std::int16_t>(sum);
    }
    out[b].d = d;
  }
}

DotFn dot_function_scalar(WeightType type) noexcept {
  switch (type) {
    case WeightType::f32: return dot_f32;
    case WeightType::f16: return dot_float_via_dequant<WeightType::f16>;
    case WeightType::bf16: return dot_float_via_dequant<WeightType::bf16>;
    case WeightType::q8_0: return dot_q8_0;
    case WeightType::q4_0: return dot_q_n<4, false>;
    case WeightType::q4_1: return dot_q_n<4, true>;
    case WeightType::q5_0: return dot_q_n<5, false>;
    case WeightType::q5_1: return dot_q_n<5, true>;
    case WeightType::q4_k: return dot_q_k_affine<4>;
    case WeightType::q5_k: return dot_q_k_affine<5>;
    case WeightType::q6_k: return dot_q6_k;
  }
  return nullptr;
}

DotFn dot_function(WeightType type) noexcept {
  if (DotFn f = dot_function_avx2(type)) return f;
  return dot_function_scalar(type);
}

std::size_t packed_group_bytes(WeightType type, std::int64_t n) noexcept {
  if (!packed_tile_function(type, 1)) return 0;
  if (type == WeightType::q6_k) {  // per super-block: d, sub-block scales, nibbles, top bits
    return static_cast<std::size_t>(n / 256) * (16 + 16 * 16 + 32 * 32 + 32 * 16);
  }
  if (type == WeightType::q4_k || type == WeightType::q5_k) {  // d and dmin, scales and
    // minimums, 32 double slices (and Q5_K's words of low 2 bits)
    return static_cast<std::size_t>(n / 256) * (32 + 4 * 32 + 4 * 8 * 32 + (type == WeightType::q5_k ? 256 : 0));
  }
  // Per 32-value block: the rows' scales (and minimums), 4 vectors of two slices (and the 5-bit
  // types' words of low 2 bits) or Q8_0's 8 slices.
  switch (type) {
    case WeightType::q4_0: return static_cast<std::size_t>(n / 32) * (16 + 128);
    case WeightType::q5_0: return static_cast<std::size_t>(n / 32) * (16 + 128 + 32);
    case WeightType::q4_1: return static_cast<std::size_t>(n / 32) * (32 + 128);
    case WeightType::q5_1: return static_cast<std::size_t>(n / 32) * (32 + 128 + 32);
    default: return static_cast<std::size_t>(n / 32) * (16 + 256);
  }
}

std::size_t packed_expanded_bytes(WeightType type, std::int64_t n) noexcept {
  if (!packed_tile_function(type, 1)) return 0;
  if (type == WeightType::q6_k) return static_cast<std::size_t>(n / 256) * (16 + 16 * 16 + 64 * 32);
  if (type == WeightType::q4_0 || type == WeightType::q5_0) {
    return static_cast<std::size_t>(n / 32) * (16 + 256);  // Q8_0's layout
  }
  if (type == WeightType::q4_1 || type == WeightType::q5_1) {
    return static_cast<std::size_t>(n / 32) * (32 + 256);  // and the minimums
  }
  return 0;
}

namespace {

// Q6_K: the super-block's 256 stored 6-bit values (0..63), in column order, as the scalar dot
// pairs them.
void unpack_q6_k(const std::byte* w, std::int8_t* q) noexcept {
  const std::uint8_t* ql = u8(w);
  const std::uint8_t* qh = u8(w + 128);
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      const int base = 128 * half + l;
      const std::uint8_t lo0 = ql[64 * half + l], lo1 = ql[64 * half + l + 32], hi = qh[32 * half + l];
      q[base] = static_cast<std::int8_t>(((lo0 & 15) | (((hi >> 0) & 3) << 4)));
      q[base + 32] = static_cast<std::int8_t>(((lo1 & 15) | (((hi >> 2) & 3) << 4)));
      q[base + 64] = static_cast<std::int8_t>(((lo0 >> 4) | (((hi >> 4) & 3) << 4)));
      q[base + 96] = static_cast<std::int8_t>(((lo1 >> 4) | (((hi >> 6) & 3) << 4)));
    }
  }
}

// Packed Q6_K, compact: per super-block the 8 rows' half scales d (16 bytes), the sub-block
// scales each twice (16 x 16 bytes), then per pair p of sub-blocks 4 vectors of 32 bytes whose
// low nibbles are slice 8p + c of the byte layout (lane 4k + j: column 4(8p + c) + j of row k)
// and whose high nibbles slice 8p + 4 + c, then the values' top two bits as 16 bytes per vector:
// for lane 4d + j (d = 0..7) byte 4(d % 4) + j holds the low slice's bits at bits 4-5 (d < 4) or
// 6-7 (d >= 4) and the high slice's at bits 0-1 or 2-3, so that a 32-bit variable shift of the
// 16 bytes broadcast to both halves moves each into bits 4-5 of its lane.
void pack_rows_q6_k(const std::byte* rows, std::size_t row_bytes, std::int64_t n,
                    std::byte* out) noexcept {
  for (std::int64_t b = 0; b < n / 256; ++b, out += 16 + 16 * 16 + 32 * 32 + 32 * 16) {
    std::byte* nibbles = out + 16 + 16 * 16;
    std::byte* top = nibbles + 32 * 32;
    for (int k = 0; k < kPackRows; ++k) {
      const std::byte* block = rows + static_cast<std::size_t>(k) * row_bytes +
                               static_cast<std::size_t>(b) * 210;
      std::memcpy(out + 2 * k, block + 208, 2);
      for (int i = 0; i < 16; ++i) {
        out[16 + 16 * i + 2 * k] = block[192 + i];
        out[16 + 16 * i + 2 * k + 1] = block[192 + i];
      }
      std::int8_t q[256];
      unpack_q6_k(block, q);
      for (int v = 0; v < 32; ++v) {
        const int lo_slice = 8 * (v / 4) + v % 4, hi_slice = lo_slice + 4;
        for (int j = 0; j < 4; ++j) {
          const int lane = 4 * k + j, d = lane / 4;
          const auto lo = static_cast<std::uint8_t>(q[4 * lo_slice + j]);
          const auto hi = static_cast<std::uint8_t>(q[4 * hi_slice + j]);
          nibbles[32 * v + lane] = static_cast<std::byte>((lo & 15) | ((hi & 15) << 4));
          const int lo_at = d < 4 ? 4 : 6, hi_at = d < 4 ? 0 : 2;
          auto& t = reinterpret_cast<std::uint8_t&>(top[16 * v + 4 * (d % 4) + j]);
          if (d < 4) t = 0;  // lanes d and d + 4 share the byte; d < 4 comes first
          t = static_cast<std::uint8_t>(t | ((lo >> 4) << lo_at) | ((hi >> 4) << hi_at));
        }
      }
    }
  }
}

// Two 5-bit values of vector lane `lane` (0..31) in the packed 5-bit layout (Q5_0, Q5_1,
// Q5_K): returns the vector's byte, lo in bits 0..4 and hi's top 3 bits in bits 5..7, and puts
// hi's low 2 bits into the vector's 64-bit word at bits 8b + 2e, 8b + 2e + 1 (lane = 8e + b),
// which a right shift by 2e of the word broadcast to 64-bit lane e brings to bits 0 and 1 of
// byte b.
std::byte pack_5bit_pair(std::uint8_t lo, std::uint8_t hi, int lane, std::uint64_t& word) noexcept {
  const int e = lane / 8, b = lane % 8;
  word |= static_cast<std::uint64_t>(hi & 3u) << (8 * b + 2 * e);
  return static_cast<std::byte>(lo | ((hi >> 2) << 5));
}

// Packed Q4_K and Q5_K: per super-block the 8 rows' d, then dmin (halves, 32 bytes); per pair i
// of sub-blocks 32 bytes: the rows' scales of sub-block 2i, of 2i + 1, their minimums of 2i, of
// 2i + 1 (8 bytes each, row k at byte k, unpacked from the file's 6-bit fields); then per pair
// 8 vectors of 32 bytes, vector c holding a slice of sub-block 2i (lane 4k + j: column 4c + j
// of row k) and the same slice of 2i + 1: Q4_K in the low and high nibbles (the file's own
// nibble order), Q5_K as Q5_0's vectors (the first's 5-bit values in bits 0..4, the second's
// top 3 bits in bits 5..7) followed, per pair, by 8 words of 64 bits with the second's low 2
// bits laid out as Q5_0's (lane L = 8e + b at bits 8b + 2e and 8b + 2e + 1).
// 1184 bytes for the file's 8 x 144 (Q4_K), 1440 for 8 x 176 (Q5_K).
template <int Bits>
void pack_rows_q_k(const std::byte* rows, std::size_t row_bytes, std::int64_t n,
                   std::byte* out) noexcept {
  constexpr std::size_t kFile = Bits == 4 ? 144 : 176;
  constexpr std::size_t kGroup = 32 + 4 * 32 + 4 * 8 * 32 + (Bits == 5 ? 4 * 8 * 8 : 0);
  for (std::int64_t b = 0; b < n / 256; ++b, out += kGroup) {
    std::byte* scales_mins = out + 32;
    std::byte* quants = scales_mins + 4 * 32;
    std::byte* low2 = quants + 4 * 8 * 32;
    if constexpr (Bits == 5) std::memset(low2, 0, 4 * 8 * 8);
    for (int k = 0; k < kPackRows; ++k) {
      const std::byte* block = rows + static_cast<std::size_t>(k) * row_bytes +
                               static_cast<std::size_t>(b) * kFile;
      const std::uint8_t* qh = u8(block + 16);
      const std::byte* ql = block + (Bits == 4 ? 16 : 48);
      std::memcpy(out + 2 * k, block, 2);
      std::memcpy(out + 16 + 2 * k, block + 2, 2);
      for (int j = 0; j < 8; ++j) {
        int sc, m;
        scale_min_k4(j, u8(block + 4), sc, m);
        scales_mins[32 * (j / 2) + 8 * (j % 2) + k] = static_cast<std::byte>(sc);
        scales_mins[32 * (j / 2) + 16 + 8 * (j % 2) + k] = static_cast<std::byte>(m);
      }
      for (int i = 0; i < 4; ++i) {
        for (int c = 0; c < 8; ++c) {
          if constexpr (Bits == 4) {
            std::memcpy(quants + 256 * i + 32 * c + 4 * k, ql + 32 * i + 4 * c, 4);
          } else {
            std::uint64_t word;
            std::memcpy(&word, low2 + 64 * i + 8 * c, 8);
            for (int j = 0; j < 4; ++j) {
              const int lane = 4 * k + j, l = 4 * c + j;
              const auto nibbles = static_cast<std::uint8_t>(ql[32 * i + l]);
              const auto lo = static_cast<std::uint8_t>((nibbles & 15) | (((qh[l] >> (2 * i)) & 1u) << 4));
              const auto hi = static_cast<std::uint8_t>((nibbles >> 4) | (((qh[l] >> (2 * i + 1)) & 1u) << 4));
              quants[256 * i + 32 * c + lane] = pack_5bit_pair(lo, hi, lane, word);
            }
            std::memcpy(low2 + 64 * i + 8 * c, &word, 8);
          }
        }
      }
    }
  }
}

}  // namespace

void pack_rows(WeightType type, const std::byte* rows, std::size_t row_bytes, std::int64_t n,
               std::byte* out) noexcept {
  if (type == WeightType::q6_k) {
    pack_rows_q6_k(rows, row_bytes, n, out);
    return;
  }
  if (type == WeightType::q4_k || type == WeightType::q5_k) {
    if (type == WeightType::q4_k) {
      pack_rows_q_k<4>(rows, row_bytes, n, out);
    } else {
      pack_rows_q_k<5>(rows, row_bytes, n, out);
    }
    return;
  }
  const auto layout = weight_layout(static_cast<std::uint32_t>(type));
  const bool min = type == WeightType::q4_1 || type == WeightType::q5_1;
  if (!layout || (type != WeightType::q8_0 && type != WeightType::q4_0 && type != WeightType::q5_0 && !min)) {
    return;
  }
  const std::size_t out_block = packed_group_bytes(type, 32);
  const std::size_t header = min ? 32 : 16;  // the rows' half scales (and half minimums)
  for (std::int64_t b = 0; b < n / 32; ++b, out += out_block) {
    for (int k = 0; k < kPackRows; ++k) {
      const std::byte* block = rows + static_cast<std::size_t>(k) * row_bytes +
                               static_cast<std::size_t>(b) * layout->block_bytes;
      std::memcpy(out + 2 * k, block, 2);  // the half scale comes first in all five
      if (min) std::memcpy(out + 16 + 2 * k, block + 2, 2);  // then Q4_1's and Q5_1's minimum
      if (type == WeightType::q8_0) {
        // 8 slices of 32 bytes, slice s holding columns 4s..4s+3 of rows 0..7.
        for (int s = 0; s < 8; ++s) std::memcpy(out + 16 + 32 * s + 4 * k, block + 2 + 4 * s, 4);
        continue;
      }
      // Q4_0/Q5_0/Q4_1/Q5_1: the block's 32 integers as stored (before Q4_0's and Q5_0's offset
      // of 8 or 16 is taken away, which the kernels do once per block with the activations' sum).
      const bool five = type == WeightType::q5_0 || type == WeightType::q5_1;
      const std::size_t at = min ? 4 : 2;  // past the scale (and minimum)
      std::uint32_t qh = 0;
      if (five) std::memcpy(&qh, block + at, 4);
      const std::uint8_t* qs = u8(block + at + (five ? 4 : 0));
      std::uint8_t q[32];
      for (int j = 0; j < 16; ++j) {
        q[j] = static_cast<std::uint8_t>((qs[j] & 15) | (((qh >> j) & 1u) << 4));
        q[j + 16] = static_cast<std::uint8_t>((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
      }
      // The slices as in Q8_0's layout, lane L = 4k + c of slice s holding column 4s + c of
      // row k; 32-byte vector v (0..3) holds slices v ("low") and v + 4 ("high"). Q4_0/Q4_1:
      // the low slice's values in the low nibbles, the high slice's in the high nibbles.
      // Q5_0/Q5_1: the low slice's 5-bit values in bits 0..4 and the high slice's top 3 bits
      // in bits 5..7; the high slice's low 2 bits follow as one 64-bit word per vector v, laid
      // out for shifts by whole 64-bit lanes: lane L = 8e + i (e = L / 8) at bits 8i + 2e and
      // 8i + 2e + 1. The kernel takes a vector apart in 6 operations (the nibbles and separate
      // fifth bits took 9).
      std::byte* quants = out + header;
      std::byte* low2 = quants + 128;
      for (int v = 0; v < 4; ++v) {
        std::uint64_t bits = 0;
        if (five && k > 0) std::memcpy(&bits, low2 + 8 * v, 8);  // rows before k
        for (int c = 0; c < 4; ++c) {
          const int lane = 4 * k + c;
          const std::uint8_t lo = q[4 * v + c], hi = q[4 * (v + 4) + c];
          if (five) {
            quants[32 * v + lane] = pack_5bit_pair(lo, hi, lane, bits);
          } else {
            quants[32 * v + lane] = static_cast<std::byte>(lo | (hi << 4));
          }
        }
        if (five) std::memcpy(low2 + 8 * v, &bits, 8);
      }
    }
  }
}

}  // namespace llmux::engine::kernels
