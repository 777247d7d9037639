// AVX2/FMA/F16C dot products (see dot.hpp). Compiled for the baseline target; each function
// carries the target attribute and is only called after a run-time CPU check.
//
// The K-quants compute each super-block's integer sum in vector registers, reduce it exactly,
// and then apply the same float operations in the same order as the scalar reference, so their
// results are bit-identical to it. The 32-weight formats keep eight float lanes of scaled block
// sums (fewer horizontal reductions), and F32/F16/BF16 eight lanes of FMA: those differ from
// the scalar reference by float rounding only.
#include "engine/kernels/dot.hpp"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "engine/kernels/half.hpp"
#include "engine/kernels/kquant_scales.hpp"

#define LLMUX_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace llmux::engine::kernels {
namespace {

LLMUX_AVX2 inline float load_half(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return _cvtsh_ss(v);
}

LLMUX_AVX2 inline float hsum_ps(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

LLMUX_AVX2 inline int hsum_epi32(__m256i v) {
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4E));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xB1));
  return _mm_cvtsi128_si32(x);
}

// Software prefetch this far ahead of the weights being read. A single-token product streams
// every weight once from memory with little arithmetic per byte; the hardware prefetcher alone
// left it at about 75% of the measured read bandwidth on 2 Zen 3 cores, 2 KiB ahead brought it
// to about 95% (a prefetch past the end of a mapping does not fault).
constexpr std::size_t kPrefetchBytes = 2048;
// One prefetch per cache line of a block of Bytes bytes starting at w (at least one per call).
template <int Bytes = 1>
LLMUX_AVX2 inline void prefetch_ahead(const std::byte* w) {
  for (int off = 0; off < Bytes; off += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(w) + kPrefetchBytes + off, _MM_HINT_T0);
  }
}

// Eight int32 sums of 4 products each of unsigned bytes u (<= 128 after abs) and signed s.
LLMUX_AVX2 inline __m256i dot_u8_s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
// The same for two signed byte vectors: |x| times y with x's sign.
LLMUX_AVX2 inline __m256i dot_s8_s8(__m256i x, __m256i y) {
  return dot_u8_s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

// 16 bytes of nibbles -> 32 bytes: low nibbles (weights 0..15), then high nibbles (16..31).
LLMUX_AVX2 inline __m256i unpack_nibbles_32(const std::byte* p) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Byte j = 0x10 when bit j of the 32-bit word is set, else 0.
LLMUX_AVX2 inline __m256i fifth_bits(std::uint32_t qh) {
  const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128,
                                       1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)), pick);
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

LLMUX_AVX2 float dot_f32(const std::byte* w, const void* x, std::int64_t n) noexcept {
  const auto* a = reinterpret_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    prefetch_ahead<64>(w + 4 * i);
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return hsum_ps(_mm256_add_ps(acc0, acc1)) + tail;
}

LLMUX_AVX2 float dot_f16(const std::byte* w, const void* x, std::int64_t n) noexcept {
  const auto* b = static_cast<const float*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    prefetch_ahead(w + 2 * i);
    const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
    const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i + 16)));
    acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(b + i + 8), acc1);
  }
  float tail = 0;
  for (; i < n; ++i) tail += load_half(w + 2 * i) * b[i];
  return hsum_ps(_mm256_add_ps(acc0, acc1)) + tail;
}

LLMUX_AVX2 float dot_bf16(const std::byte* w, const void* x, std::int64_t n) noexcept {
  const auto* b = static_cast<const float*>(x);
  __m256 acc = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    prefetch_ahead(w + 2 * i);
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i));
    const __m256 wf = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    acc = _mm256_fmadd_ps(wf, _mm256_loadu_ps(b + i), acc);
  }
  float tail = 0;
  for (; i < n; ++i) {
    std::uint16_t v;
    std::memcpy(&v, w + 2 * i, 2);
    tail += bf16_to_float(v) * b[i];
  }
  return hsum_ps(acc) + tail;
}

// The 32-weight formats accumulate each block's integer sum, scaled, in eight float lanes
// (one horizontal sum per row, not per block); the scalar reference adds the scaled block sums
// one by one, so the two differ by float rounding only.
LLMUX_AVX2 float dot_q8_0(const std::byte* w, const void* act, std::int64_t n) noexcept {
  const auto* a = static_cast<const ActQ8*>(act);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t b = 0; b < n / 32; ++b, w += 34) {
    prefetch_ahead(w);
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].q));
    const __m256 d = _mm256_set1_ps(load_half(w) * a[b].d);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8_s8(q, y)), acc);
  }
  return hsum_ps(acc);
}

template <int Bits, bool Min>
LLMUX_AVX2 float dot_q_n(const std::byte* w, const void* act, std::int64_t n) noexcept {
  const auto* a = static_cast<const ActQ8*>(act);
  constexpr int kBytes = 2 + (Min ? 2 : 0) + (Bits == 5 ? 4 : 0) + 16;
  constexpr int kOffset = Min ? 0 : (1 << (Bits - 1));
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (std::int64_t b = 0; b < n / 32; ++b, w += kBytes) {
    prefetch_ahead(w);
    __m256i q = unpack_nibbles_32(w + kBytes - 16);
    if constexpr (Bits == 5) {
      std::uint32_t qh;
      std::memcpy(&qh, w + (Min ? 4 : 2), 4);
      q = _mm256_or_si256(q, fifth_bits(qh));
    }
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].q));
    __m256i s;
    if constexpr (Min) {
      s = dot_u8_s8(q, y);
      mins += load_half(w + 2) * a[b].sum;
    } else {
      s = dot_s8_s8(_mm256_sub_epi8(q, _mm256_set1_epi8(kOffset)), y);
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(load_half(w) * a[b].d), _mm256_cvtepi32_ps(s), acc);
  }
  return hsum_ps(acc) + mins;
}

template <int Bits>
LLMUX_AVX2 float dot_q_k_affine(const std::byte* w, const void* act, std::int64_t n) noexcept {
  const auto* a = static_cast<const ActQ8K*>(act);
  constexpr int kBytes = Bits == 4 ? 144 : 176;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  float acc = 0;
  for (std::int64_t b = 0; b < n / 256; ++b, w += kBytes) {
    prefetch_ahead<kBytes>(w);
    const auto* scales = reinterpret_cast<const std::uint8_t*>(w + 4);
    const std::byte* ql = w + (Bits == 4 ? 16 : 48);
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (Bits == 5) hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16));
    __m256i sumi = _mm256_setzero_si256();
    int summ = 0;
    for (int i = 0; i < 4; ++i) {
      int sc0, m0, sc1, m1;
      scale_min_k4(2 * i, scales, sc0, m0);
      scale_min_k4(2 * i + 1, scales, sc1, m1);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32 * i));
      __m256i v0 = _mm256_and_si256(q, low4);
      __m256i v1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      if constexpr (Bits == 5) {
        const __m256i one = _mm256_set1_epi8(1);
        const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * i), one);
        const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * i + 1), one);
        v0 = _mm256_or_si256(v0, _mm256_slli_epi16(h0, 4));
        v1 = _mm256_or_si256(v1, _mm256_slli_epi16(h1, 4));
      }
      const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].q + 64 * i));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].q + 64 * i + 32));
      // Pair sums (<= 2 * 31 * 128) times the 6-bit scale, summed in int32: exact.
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(v0, y0),
                                                      _mm256_set1_epi16(static_cast<short>(sc0))));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(v1, y1),
                                                      _mm256_set1_epi16(static_cast<short>(sc1))));
      summ += m0 * (a[b].bsums[4 * i] + a[b].bsums[4 * i + 1]) +
              m1 * (a[b].bsums[4 * i + 2] + a[b].bsums[4 * i + 3]);
    }
    acc += load_half(w) * a[b].d * static_cast<float>(hsum_epi32(sumi)) -
           load_half(w + 2) * a[b].d * static_cast<float>(summ);
  }
  return acc;
}

LLMUX_AVX2 float dot_q6_k(const std::byte* w, const void* act, std::int64_t n) noexcept {
  const auto* a = static_cast<const ActQ8K*>(act);
  const __m256i low4 = _mm256_set1_epi8(0x0F), two = _mm256_set1_epi8(3);
  float acc = 0;
  for (std::int64_t b = 0; b < n / 256; ++b, w += 210) {
    prefetch_ahead<210>(w);
    const auto* sc = reinterpret_cast<const std::int8_t*>(w + 192);
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const std::byte* ql = w + 64 * half;
      const std::byte* qh = w + 128 + 32 * half;
      const std::int8_t* y = a[b].q + 128 * half;
      const std::int8_t* s = sc + 8 * half;
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
      const __m256i u[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(h, two), 4)),
          _mm256_or_si256(_mm256_and_si256(l1, low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), two), 4))};
      for (int k = 0; k < 4; ++k) {
        const __m256i yk = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + 32 * k));
        const __m256i p16 = _mm256_maddubs_epi16(u[k], yk);  // 16 pair sums: 8 per scale group
        const __m256i scales = _mm256_setr_epi16(
            s[2 * k], s[2 * k], s[2 * k], s[2 * k], s[2 * k], s[2 * k], s[2 * k], s[2 * k],
            s[2 * k + 1], s[2 * k + 1], s[2 * k + 1], s[2 * k + 1], s[2 * k + 1], s[2 * k + 1],
            s[2 * k + 1], s[2 * k + 1]);
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16, scales));
      }
    }
    int offset = 0;
    for (int g = 0; g < 16; ++g) offset += sc[g] * 32 * a[b].bsums[g];
    acc += load_half(w + 208) * a[b].d * static_cast<float>(hsum_epi32(sumi) - offset);
  }
  return acc;
}

LLMUX_AVX2 void axpy_f32(float a, const std::byte* x, float* y, std::int64_t n) noexcept {
  const auto* xf = reinterpret_cast<const float*>(x);
  const __m256 va = _mm256_set1_ps(a);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    // Multiply then add (no FMA), rounding exactly like the scalar loop.
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, _mm256_loadu_ps(xf + i))));
  }
  for (; i < n; ++i) y[i] += a * xf[i];
}

LLMUX_AVX2 void axpy_f16(float a, const std::byte* x, float* y, std::int64_t n) noexcept {
  const __m256 va = _mm256_set1_ps(a);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 2 * i)));
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, xv)));
  }
  for (; i < n; ++i) y[i] += a * load_half(x + 2 * i);
}

// Register-tiled products of R weight rows with T tokens' activations for the signed
// 32-weight formats (Q8_0, Q4_0, Q5_0): each block's weights are decoded once for T tokens
// and each activation block is loaded once for R rows. Every (row, token) accumulator sees
// exactly the operations of the single dot above, in the same order, so results are
// bit-identical to it whatever the tiling.
struct FormatQ8_0 {
  static constexpr int kBytes = 34;
  LLMUX_AVX2 static __m256i load(const std::byte* w) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2));
  }
};
template <int Bits>
struct FormatQn0 {
  static constexpr int kBytes = 2 + (Bits == 5 ? 4 : 0) + 16;
  LLMUX_AVX2 static __m256i load(const std::byte* w) {
    __m256i q = unpack_nibbles_32(w + kBytes - 16);
    if constexpr (Bits == 5) {
      std::uint32_t qh;
      std::memcpy(&qh, w + 2, 4);
      q = _mm256_or_si256(q, fifth_bits(qh));
    }
    return _mm256_sub_epi8(q, _mm256_set1_epi8(static_cast<char>(1 << (Bits - 1))));
  }
};

template <class Fmt, int R, int T>
LLMUX_AVX2 void tile_q(const std::byte* w, std::size_t row_bytes, const std::byte* act,
                       std::size_t act_stride, std::int64_t n, float* y,
                       std::int64_t y_stride) noexcept {
  __m256 acc[R][T];
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
    for (int j = 0; j < T; ++j) acc[i][j] = _mm256_setzero_ps();
  }
  for (std::int64_t b = 0; b < n / 32; ++b) {
    __m256i q[R], aq[R];
    __m256 d[R];
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) {
      const std::byte* wb = w + static_cast<std::size_t>(i) * row_bytes +
                            static_cast<std::size_t>(b) * Fmt::kBytes;
      q[i] = Fmt::load(wb);
      aq[i] = _mm256_sign_epi8(q[i], q[i]);
      d[i] = _mm256_set1_ps(load_half(wb));
    }
#pragma GCC unroll 4
    for (int j = 0; j < T; ++j) {
      const ActQ8& a = reinterpret_cast<const ActQ8*>(act + static_cast<std::size_t>(j) * act_stride)[b];
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q));
      const __m256 ad = _mm256_set1_ps(a.d);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i) {
        // Each lane's d[i] * a.d is the float product the single dot broadcasts.
        const __m256i s = dot_u8_s8(aq[i], _mm256_sign_epi8(v, q[i]));
        acc[i][j] = _mm256_fmadd_ps(_mm256_mul_ps(d[i], ad), _mm256_cvtepi32_ps(s), acc[i][j]);
      }
    }
  }
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < T; ++j) y[j * y_stride + i] = hsum_ps(acc[i][j]);
  }
}

// The same tiling for Q4_K/Q5_K: per super-block, each row's 8 sub-block scales and mins and
// each 64-weight slice are decoded once for T tokens. The integer sums are exact and the float
// operations per (row, token) are those of dot_q_k_affine, in the same order: bit-identical.
template <int Bits, int R, int T>
LLMUX_AVX2 void tile_q_k(const std::byte* w, std::size_t row_bytes, const std::byte* act,
                         std::size_t act_stride, std::int64_t n, float* y,
                         std::int64_t y_stride) noexcept {
  constexpr int kBytes = Bits == 4 ? 144 : 176;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  float acc[R][T] = {};
  for (std::int64_t b = 0; b < n / 256; ++b) {
    const std::byte* wb[R];
    int sc[R][8], mn[R][8];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      wb[r] = w + static_cast<std::size_t>(r) * row_bytes + static_cast<std::size_t>(b) * kBytes;
      const auto* scales = reinterpret_cast<const std::uint8_t*>(wb[r] + 4);
      for (int j = 0; j < 8; ++j) scale_min_k4(j, scales, sc[r][j], mn[r][j]);
    }
    const ActQ8K* a[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      a[t] = reinterpret_cast<const ActQ8K*>(act + static_cast<std::size_t>(t) * act_stride) + b;
    }
    __m256i sumi[R][T];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) sumi[r][t] = _mm256_setzero_si256();
    }
    for (int i = 0; i < 4; ++i) {
      __m256i v0[R], v1[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const std::byte* ql = wb[r] + (Bits == 4 ? 16 : 48);
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32 * i));
        v0[r] = _mm256_and_si256(q, low4);
        v1[r] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
        if constexpr (Bits == 5) {
          const __m256i one = _mm256_set1_epi8(1);
          const __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[r] + 16));
          const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * i), one);
          const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * i + 1), one);
          v0[r] = _mm256_or_si256(v0[r], _mm256_slli_epi16(h0, 4));
          v1[r] = _mm256_or_si256(v1[r], _mm256_slli_epi16(h1, 4));
        }
      }
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t]->q + 64 * i));
        const __m256i y1 =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t]->q + 64 * i + 32));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m256i s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(v0[r], y0),
                                               _mm256_set1_epi16(static_cast<short>(sc[r][2 * i])));
          const __m256i s1 = _mm256_madd_epi16(
              _mm256_maddubs_epi16(v1[r], y1), _mm256_set1_epi16(static_cast<short>(sc[r][2 * i + 1])));
          sumi[r][t] = _mm256_add_epi32(sumi[r][t], _mm256_add_epi32(s0, s1));
        }
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const float d = load_half(wb[r]), dmin = load_half(wb[r] + 2);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        int summ = 0;
        for (int i = 0; i < 4; ++i) {
          summ += mn[r][2 * i] * (a[t]->bsums[4 * i] + a[t]->bsums[4 * i + 1]) +
                  mn[r][2 * i + 1] * (a[t]->bsums[4 * i + 2] + a[t]->bsums[4 * i + 3]);
        }
        acc[r][t] += d * a[t]->d * static_cast<float>(hsum_epi32(sumi[r][t])) -
                     dmin * a[t]->d * static_cast<float>(summ);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) y[t * y_stride + r] = acc[r][t];
  }
}

// The K-quant formats for the table below (their kernel is tile_q_k).
template <int Bits>
struct FormatQK {
  static constexpr int kBits = Bits;
};

template <class Fmt>
struct IsKQuant : std::false_type {};
template <int Bits>
struct IsKQuant<FormatQK<Bits>> : std::true_type {};

// One kernel per (format, rows, tokens) under one signature.
template <class Fmt, int R, int T>
LLMUX_AVX2 void tile(const std::byte* w, std::size_t row_bytes, const std::byte* act,
                     std::size_t act_stride, std::int64_t n, float* y,
                     std::int64_t y_stride) noexcept {
  if constexpr (IsKQuant<Fmt>::value) {
    tile_q_k<Fmt::kBits, R, T>(w, row_bytes, act, act_stride, n, y, y_stride);
  } else {
    tile_q<Fmt, R, T>(w, row_bytes, act, act_stride, n, y, y_stride);
  }
}

template <class Fmt>
TileFn tile_of(int r, int t) noexcept {
  static constexpr TileFn table[2][4] = {
      {tile<Fmt, 1, 1>, tile<Fmt, 1, 2>, tile<Fmt, 1, 3>, tile<Fmt, 1, 4>},
      {tile<Fmt, 2, 1>, tile<Fmt, 2, 2>, tile<Fmt, 2, 3>, tile<Fmt, 2, 4>}};
  return table[r - 1][t - 1];
}

// Token j's activation block b (Act = ActQ8 or ActQ8K) of a packed kernel's input.
template <class Act>
inline const Act& act_block(const std::byte* act, std::size_t act_stride, int j, std::int64_t b) {
  return reinterpret_cast<const Act*>(act + static_cast<std::size_t>(j) * act_stride)[b];
}

// The packed kernels' float step per token, the scalar reference's: acc + (d_w * d_a) * sum.
template <class Act, int T>
LLMUX_AVX2 inline void add_scaled_sums(__m256 (&acc)[T], __m256 dw, const __m256i (&sum)[T],
                                       const std::byte* act, std::size_t act_stride,
                                       std::int64_t b) {
#pragma GCC unroll 4
  for (int j = 0; j < T; ++j) {
    const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(act_block<Act>(act, act_stride, j, b).d));
    acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(scale, _mm256_cvtepi32_ps(sum[j])));
  }
}

template <int T>
LLMUX_AVX2 inline void zero(__m256 (&acc)[T]) {
#pragma GCC unroll 4
  for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
}

template <int T>
LLMUX_AVX2 inline void zero(__m256i (&sum)[T]) {
#pragma GCC unroll 4
  for (int j = 0; j < T; ++j) sum[j] = _mm256_setzero_si256();
}

// y[j * y_stride + k] = lane k of acc[j].
template <int T>
LLMUX_AVX2 inline void store_rows(float* y, std::int64_t y_stride, const __m256 (&acc)[T]) {
#pragma GCC unroll 4
  for (int j = 0; j < T; ++j) _mm256_storeu_ps(y + j * y_stride, acc[j]);
}

// Packed Q8_0 (pack_rows, dot.hpp; Q4_0 and Q5_0 share the layout, with their values stored
// as bytes, and have their own kernel below): per 32-column block, the 8 rows' half scales, then 8
// slices of 32 bytes, slice g holding columns 4g..4g+3 of rows 0..7. One maddubs/madd on a
// slice and 4 activation bytes broadcast to every lane yields 4 columns of all 8 rows at once,
// lane k for row k, so the block's exact integer sums of 8 rows take 8 such steps and then one
// conversion, with no horizontal sums; |w| and the slice are shared by T tokens. The float
// operations per (row, token) are the scalar reference's, acc + (d_w * d_a) * sum in that order
// without FMA, so the results are bit-identical to dot_function_scalar of the type.
constexpr std::size_t kPackedQ8Block = 16 + 256;

// Packed Q4_0 and Q5_0 (Offset 8 and 16) keep the stored values (0..15, 0..31), unsigned, so
// maddubs takes them directly (pair sums stay below 2 * 31 * 127) and only Q8_0 (Offset 0)
// needs the sign steps; their offset term, Offset * sum(a), is taken from the exact integer
// sum once per block and token, which gives the scalar dot's sum((q - Offset) * a).
template <int T, int Offset>
LLMUX_AVX2 void packed_tile_q8(const std::byte* g, const std::byte* act, std::size_t act_stride,
                               std::int64_t n, float* y, std::int64_t y_stride) noexcept {
  __m256 acc[T];
  zero(acc);
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::int64_t b = 0; b < n / 32; ++b, g += kPackedQ8Block) {
    prefetch_ahead<kPackedQ8Block>(g);
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    __m256i sum[T];
    zero(sum);
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + 16 + 32 * s));
      const __m256i u = Offset ? w : _mm256_sign_epi8(w, w);  // |w| for signed weights
#pragma GCC unroll 4
      for (int j = 0; j < T; ++j) {
        std::int32_t four;
        std::memcpy(&four, act_block<ActQ8>(act, act_stride, j, b).q + 4 * s, 4);
        __m256i v = _mm256_set1_epi32(four);
        if constexpr (Offset == 0) v = _mm256_sign_epi8(v, w);
        sum[j] = _mm256_add_epi32(sum[j], _mm256_madd_epi16(_mm256_maddubs_epi16(u, v), ones));
      }
    }
    if constexpr (Offset != 0) {
#pragma GCC unroll 4
      for (int j = 0; j < T; ++j) {
        sum[j] = _mm256_sub_epi32(
            sum[j], _mm256_set1_epi32(Offset * act_block<ActQ8>(act, act_stride, j, b).qsum));
      }
    }
    add_scaled_sums<ActQ8>(acc, dw, sum, act, act_stride, b);
  }
  store_rows(y, y_stride, acc);
}

// Packed Q6_K: per 256-column super-block, the 8 rows' half scales d; then per 16-column
// sub-block the rows' 8-bit scales, each twice (16 bytes: one int16 pair per row once
// widened); then 64 slices of 32 bytes as above, holding the stored 6-bit values (0..63,
// unsigned, so maddubs takes them directly: pair sums stay below 2 * 63 * 127). Each slice's
// pair sums are multiplied by their sub-block scale in the same madd that widens them; the
// offset term 32 * sum(sc * sum(a over the sub-block)) is one madd per pair of sub-blocks with
// the activations' 16-value sums. That is the scalar reference's exact integer
// sum(sc * (sum(u * a) - 32 * bsums)); then acc + (d * d_a) * sum in its order: bit-identical.
constexpr std::size_t kPackedQ6KBlock = 16 + 16 * 16 + 64 * 32;

template <int T>
LLMUX_AVX2 void packed_tile_q6_k(const std::byte* g, const std::byte* act, std::size_t act_stride,
                                 std::int64_t n, float* y, std::int64_t y_stride) noexcept {
  __m256 acc[T];
  zero(acc);
  for (std::int64_t b = 0; b < n / 256; ++b, g += kPackedQ6KBlock) {
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    const std::byte* slices = g + 16 + 16 * 16;
    __m256i sum[T], offset[T];
    zero(sum);
    zero(offset);
    __m256i sc_even = _mm256_setzero_si256();
    for (int i = 0; i < 16; ++i) {
      prefetch_ahead<128>(slices + 128 * i);
      const __m256i sc = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 16 + 16 * i)));
      if (i % 2 == 0) {
        sc_even = sc;
      } else {
        // Per row (sc of sub-block i - 1, sc of sub-block i) against the pair of activation
        // sums over those sub-blocks.
        const __m256i pair = _mm256_blend_epi16(sc_even, sc, 0xAA);
#pragma GCC unroll 4
        for (int j = 0; j < T; ++j) {
          std::int32_t bsums;
          std::memcpy(&bsums, act_block<ActQ8K>(act, act_stride, j, b).bsums + i - 1, 4);
          offset[j] = _mm256_add_epi32(offset[j], _mm256_madd_epi16(pair, _mm256_set1_epi32(bsums)));
        }
      }
#pragma GCC unroll 4
      for (int s = 4 * i; s < 4 * i + 4; ++s) {
        const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(slices + 32 * s));
#pragma GCC unroll 4
        for (int j = 0; j < T; ++j) {
          std::int32_t four;
          std::memcpy(&four, act_block<ActQ8K>(act, act_stride, j, b).q + 4 * s, 4);
          sum[j] = _mm256_add_epi32(
              sum[j], _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_set1_epi32(four)), sc));
        }
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < T; ++j) sum[j] = _mm256_sub_epi32(sum[j], _mm256_slli_epi32(offset[j], 5));
    add_scaled_sums<ActQ8K>(acc, dw, sum, act, act_stride, b);
  }
  store_rows(y, y_stride, acc);
}

// Packed Q4_K: per 256-column super-block, the 8 rows' d, then dmin (halves); per 32-column
// sub-block the rows' scales, each twice (16 bytes); per pair of sub-blocks the rows' minimums
// as int16 pairs (32 bytes); then per pair of sub-blocks 8 vectors of 32 bytes whose low
// nibbles are a slice of the first (columns 4c..4c+3 of rows 0..7) and whose high nibbles the
// same slice of the second. The values are unsigned, so maddubs takes them directly; the
// minimums' term sum(m * sum(a)) is one madd per pair of sub-blocks with the activations'
// 32-value sums. Float operations as the scalar reference's: bit-identical to it.
constexpr std::size_t kPackedQ4KBlock = 32 + 8 * 16 + 4 * 32 + 4 * 8 * 32;

template <int T>
LLMUX_AVX2 void packed_tile_q4_k(const std::byte* g, const std::byte* act, std::size_t act_stride,
                                 std::int64_t n, float* y, std::int64_t y_stride) noexcept {
  __m256 acc[T];
  zero(acc);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (std::int64_t b = 0; b < n / 256; ++b, g += kPackedQ4KBlock) {
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 16)));
    const std::byte* scales = g + 32;
    const std::byte* mins = scales + 8 * 16;
    const std::byte* quants = mins + 4 * 32;
    __m256i sum[T], summ[T];
#pragma GCC unroll 4
    for (int j = 0; j < T; ++j) {
      sum[j] = _mm256_setzero_si256();
      // The activations' sums over each 32 values (int16, |s| <= 32 * 127) paired by
      // sub-block pairs, times the minimums' pairs.
      const ActQ8K& a = act_block<ActQ8K>(act, act_stride, j, b);
      std::int32_t pairs[4];
      _mm_storeu_si128(reinterpret_cast<__m128i*>(pairs),
                       _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums)),
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums + 8))));
      __m256i m = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        const __m256i mi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mins + 32 * i));
        m = _mm256_add_epi32(m, _mm256_madd_epi16(mi, _mm256_set1_epi32(pairs[i])));
      }
      summ[j] = m;
    }
    for (int i = 0; i < 4; ++i) {
      prefetch_ahead<256>(quants + 256 * i);
      const __m256i sc0 = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 32 * i)));
      const __m256i sc1 = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 32 * i + 16)));
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(quants + 256 * i + 32 * c));
        const __m256i lo = _mm256_and_si256(v, low4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
#pragma GCC unroll 4
        for (int j = 0; j < T; ++j) {
          const ActQ8K& a = act_block<ActQ8K>(act, act_stride, j, b);
          std::int32_t four0, four1;
          std::memcpy(&four0, a.q + 64 * i + 4 * c, 4);
          std::memcpy(&four1, a.q + 64 * i + 32 + 4 * c, 4);
          const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(four0)), sc0);
          const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_set1_epi32(four1)), sc1);
          sum[j] = _mm256_add_epi32(sum[j], _mm256_add_epi32(p0, p1));
        }
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < T; ++j) {
      const ActQ8K& a = act_block<ActQ8K>(act, act_stride, j, b);
      const __m256 ad = _mm256_set1_ps(a.d);
      const __m256 x = _mm256_mul_ps(_mm256_mul_ps(d, ad), _mm256_cvtepi32_ps(sum[j]));
      const __m256 z = _mm256_mul_ps(_mm256_mul_ps(dmin, ad), _mm256_cvtepi32_ps(summ[j]));
      acc[j] = _mm256_add_ps(acc[j], _mm256_sub_ps(x, z));
    }
  }
  store_rows(y, y_stride, acc);
}

// Eight floats of a cache row of f32 or f16 values.
template <bool Half>
LLMUX_AVX2 inline __m256 load8(const std::byte* p) {
  if constexpr (Half) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  }
}

// dot_f16 / dot_f32 above for each row (two accumulators over 16-value steps, then their
// sum's horizontal sum plus the empty tail), times scale.
template <bool Half>
LLMUX_AVX2 void scores_avx2(const float* q, const std::byte* k, std::size_t k_stride,
                            std::int64_t rows, std::int64_t dim, float scale, float* scores) noexcept {
  constexpr std::size_t kElem = Half ? 2 : 4;
  for (std::int64_t j = 0; j < rows; ++j, k += k_stride) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (std::int64_t i = 0; i < dim; i += 16) {
      acc0 = _mm256_fmadd_ps(load8<Half>(k + kElem * static_cast<std::size_t>(i)), _mm256_loadu_ps(q + i), acc0);
      acc1 = _mm256_fmadd_ps(load8<Half>(k + kElem * static_cast<std::size_t>(i + 8)), _mm256_loadu_ps(q + i + 8), acc1);
    }
    const float tail = 0;
    scores[j] = (hsum_ps(_mm256_add_ps(acc0, acc1)) + tail) * scale;
  }
}

// axpy_f16 / axpy_f32 above for each row in order (multiply, then add), 64 outputs at a time
// kept in registers over the run.
template <bool Half>
LLMUX_AVX2 void weighted_sum_avx2(const float* w, const std::byte* v, std::size_t v_stride,
                                  std::int64_t rows, std::int64_t dim, float* out) noexcept {
  constexpr std::size_t kElem = Half ? 2 : 4;
  for (std::int64_t c = 0; c < dim; c += 64) {
    const int n = static_cast<int>(std::min<std::int64_t>(64, dim - c) / 8);
    __m256 o[8];
    for (int i = 0; i < n; ++i) o[i] = _mm256_loadu_ps(out + c + 8 * i);
    const std::byte* row = v + kElem * static_cast<std::size_t>(c);
    for (std::int64_t j = 0; j < rows; ++j, row += v_stride) {
      const __m256 a = _mm256_set1_ps(w[j]);
      for (int i = 0; i < n; ++i) {
        o[i] = _mm256_add_ps(o[i], _mm256_mul_ps(a, load8<Half>(row + kElem * 8 * static_cast<std::size_t>(i))));
      }
    }
    for (int i = 0; i < n; ++i) _mm256_storeu_ps(out + c + 8 * i, o[i]);
  }
}

template <bool Half>
void scores_entry(const float* q, const std::byte* k, std::size_t k_stride, std::int64_t rows,
                  std::int64_t dim, float scale, float* scores) noexcept {
  if (dim % 16 == 0) {
    scores_avx2<Half>(q, k, k_stride, rows, dim, scale, scores);
    return;
  }
  const DotFn dot = Half ? dot_f16 : dot_f32;
  for (std::int64_t j = 0; j < rows; ++j) scores[j] = dot(k + static_cast<std::size_t>(j) * k_stride, q, dim) * scale;
}

template <bool Half>
void weighted_sum_entry(const float* w, const std::byte* v, std::size_t v_stride, std::int64_t rows,
                        std::int64_t dim, float* out) noexcept {
  if (dim % 16 == 0) {
    weighted_sum_avx2<Half>(w, v, v_stride, rows, dim, out);
    return;
  }
  const AxpyFn axpy = Half ? axpy_f16 : axpy_f32;
  for (std::int64_t j = 0; j < rows; ++j) axpy(w[j], v + static_cast<std::size_t>(j) * v_stride, out, dim);
}

}  // namespace

ScoresFn scores_function_avx2(WeightType type) noexcept {
  if (!cpu_has_avx2()) return nullptr;
  return type == WeightType::f16 ? scores_entry<true> : scores_entry<false>;
}

WeightedSumFn weighted_sum_function_avx2(WeightType type) noexcept {
  if (!cpu_has_avx2()) return nullptr;
  return type == WeightType::f16 ? weighted_sum_entry<true> : weighted_sum_entry<false>;
}

// The scalar reference's operations lane by lane: the maximum ignores NaN as std::max(amax, v)
// does, the same scale and inverse, products rounded to nearest even like lrintf, and an exact
// integer sum.
LLMUX_AVX2 void quantize_act_q8_avx2(const float* x, ActQ8* out, std::int64_t n) noexcept {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (std::int64_t b = 0; b < n / 32; ++b, x += 32) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(x + 8 * i);
      amax = _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[i]), amax);  // NaN: keeps amax
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f, id = d ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], vid));
    const __m256i sum32 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q), _mm256_permutevar8x32_epi32(bytes, order));
    const int qsum = hsum_epi32(sum32);
    out[b].d = d;
    out[b].sum = d * static_cast<float>(qsum);
    out[b].qsum = qsum;
  }
}

PackedTileFn packed_tile_function(WeightType type, int tokens) noexcept {
  if (!cpu_has_avx2() || tokens < 1 || tokens > kPackedTokens) return nullptr;
  static constexpr PackedTileFn q8[kPackedTokens] = {packed_tile_q8<1, 0>, packed_tile_q8<2, 0>};
  static constexpr PackedTileFn q4[kPackedTokens] = {packed_tile_q8<1, 8>, packed_tile_q8<2, 8>};
  static constexpr PackedTileFn q5[kPackedTokens] = {packed_tile_q8<1, 16>, packed_tile_q8<2, 16>};
  static constexpr PackedTileFn q6k[kPackedTokens] = {packed_tile_q6_k<1>, packed_tile_q6_k<2>};
  static constexpr PackedTileFn q4k[kPackedTokens] = {packed_tile_q4_k<1>, packed_tile_q4_k<2>};
  switch (type) {
    case WeightType::q8_0: return q8[tokens - 1];
    case WeightType::q4_0: return q4[tokens - 1];
    case WeightType::q5_0: return q5[tokens - 1];
    case WeightType::q6_k: return q6k[tokens - 1];
    case WeightType::q4_k: return q4k[tokens - 1];
    default: return nullptr;
  }
}

TileFn tile_function(WeightType type, int rows, int tokens) noexcept {
  if (!cpu_has_avx2() || rows < 1 || rows > kTileRows || tokens < 1 || tokens > kTileTokens) {
    return nullptr;
  }
  switch (type) {
    case WeightType::q8_0: return tile_of<FormatQ8_0>(rows, tokens);
    case WeightType::q4_0: return tile_of<FormatQn0<4>>(rows, tokens);
    case WeightType::q5_0: return tile_of<FormatQn0<5>>(rows, tokens);
    case WeightType::q4_k: return tile_of<FormatQK<4>>(rows, tokens);
    case WeightType::q5_k: return tile_of<FormatQK<5>>(rows, tokens);
    default: return nullptr;
  }
}

AxpyFn axpy_function(WeightType type) noexcept {
  if (cpu_has_avx2()) return type == WeightType::f16 ? axpy_f16 : axpy_f32;
  return axpy_function_scalar(type);
}

bool cpu_has_avx2() noexcept {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c");
  return has;
}

DotFn dot_function_avx2(WeightType type) noexcept {
  if (!cpu_has_avx2()) return nullptr;
  switch (type) {
    case WeightType::f32: return dot_f32;
    case WeightType::f16: return dot_f16;
    case WeightType::bf16: return dot_bf16;
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

}  // namespace llmux::engine::kernels

#else

namespace llmux::engine::kernels {
bool cpu_has_avx2() noexcept { return false; }
AxpyFn axpy_function(WeightType type) noexcept { return axpy_function_scalar(type); }
DotFn dot_function_avx2(WeightType) noexcept { return nullptr; }
TileFn tile_function(WeightType, int, int) noexcept { return nullptr; }
PackedTileFn packed_tile_function(WeightType, int) noexcept { return nullptr; }
ScoresFn scores_function_avx2(WeightType) noexcept { return nullptr; }
WeightedSumFn weighted_sum_function_avx2(WeightType) noexcept { return nullptr; }
void quantize_act_q8_avx2(const float* x, ActQ8* out, std::int64_t n) noexcept {
  quantize_act_q8_scalar(x, out, n);
}
}  // namespace llmux::engine::kernels

#endif
