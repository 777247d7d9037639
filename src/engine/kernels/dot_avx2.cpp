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

#include "engine/kernels/avx2_common.hpp"
#include "engine/kernels/half.hpp"
#include "engine/kernels/kquant_scales.hpp"

namespace llmux::engine::kernels {
namespace {

using namespace avx2;

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

// The float weight formats: 8 weights as floats, one weight as a float, and how many 8-lane
// accumulators their dot keeps (F32 and F16 two, over 16-value steps; BF16 one).
struct FormatF32 {
  static constexpr std::size_t kElem = 4;
  static constexpr int kAccs = 2;
  LLMUX_AVX2 static __m256 load8(const std::byte* p) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  }
  static float value(const std::byte* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
};
struct FormatF16 {
  static constexpr std::size_t kElem = 2;
  static constexpr int kAccs = 2;
  LLMUX_AVX2 static __m256 load8(const std::byte* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  LLMUX_AVX2 static float value(const std::byte* p) { return load_half(p); }
};
struct FormatBF16 {
  static constexpr std::size_t kElem = 2;
  static constexpr int kAccs = 1;
  LLMUX_AVX2 static __m256 load8(const std::byte* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float value(const std::byte* p) {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return bf16_to_float(v);
  }
};

// The float dot's last n - i values (fewer than one step), one by one.
template <class Fmt>
LLMUX_AVX2 inline float float_tail(const std::byte* w, const float* x, std::int64_t i, std::int64_t n) {
  float tail = 0;
  for (; i < n; ++i) tail += Fmt::value(w + Fmt::kElem * static_cast<std::size_t>(i)) * x[i];
  return tail;
}

// Float weights times float activations: Fmt::kAccs accumulators of 8 lanes, accumulator a
// taking values 8a..8a+7 of every step of 8 * kAccs, then their sum's horizontal sum plus the
// tail. tile_float computes exactly this for every (row, token) of a tile.
template <class Fmt>
LLMUX_AVX2 float dot_float(const std::byte* w, const void* x, std::int64_t n) noexcept {
  constexpr int kStep = 8 * Fmt::kAccs;
  const auto* b = static_cast<const float*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    prefetch_ahead<static_cast<int>(Fmt::kElem) * kStep>(w + Fmt::kElem * static_cast<std::size_t>(i));
    acc0 = _mm256_fmadd_ps(Fmt::load8(w + Fmt::kElem * static_cast<std::size_t>(i)), _mm256_loadu_ps(b + i), acc0);
    if constexpr (Fmt::kAccs == 2) {
      acc1 = _mm256_fmadd_ps(Fmt::load8(w + Fmt::kElem * static_cast<std::size_t>(i + 8)), _mm256_loadu_ps(b + i + 8), acc1);
    }
  }
  const __m256 sum = Fmt::kAccs == 2 ? _mm256_add_ps(acc0, acc1) : acc0;
  return hsum_ps(sum) + float_tail<Fmt>(w, b, i, n);
}

LLMUX_AVX2 float dot_f32(const std::byte* w, const void* x, std::int64_t n) noexcept {
  return dot_float<FormatF32>(w, x, n);
}
LLMUX_AVX2 float dot_f16(const std::byte* w, const void* x, std::int64_t n) noexcept {
  return dot_float<FormatF16>(w, x, n);
}
LLMUX_AVX2 float dot_bf16(const std::byte* w, const void* x, std::int64_t n) noexcept {
  return dot_float<FormatBF16>(w, x, n);
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

// Register tiles of R float rows with T tokens' float activations (act + j * act_stride
// holds token j's n floats): each 8 weights are loaded (and converted) once for T tokens and
// each 8 activations once for R rows. Every (row, token) pair gets dot_float's operations in
// its order, so the results are bit-identical to dot_float whatever the tiling. With two
// accumulators per pair, R * T <= 6 keeps them all in the 16 vector registers.
template <class Fmt, int R, int T>
LLMUX_AVX2 void tile_float(const std::byte* w, std::size_t row_bytes, const std::byte* act,
                           std::size_t act_stride, std::int64_t n, float* y,
                           std::int64_t y_stride) noexcept {
  constexpr int kAccs = Fmt::kAccs;
  __m256 acc[kAccs][R][T];
#pragma GCC unroll 2
  for (int a = 0; a < kAccs; ++a) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) acc[a][r][t] = _mm256_setzero_ps();
    }
  }
  const float* x[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(act + static_cast<std::size_t>(t) * act_stride);
  std::int64_t i = 0;
  for (; i + 8 * kAccs <= n; i += 8 * kAccs) {
#pragma GCC unroll 2
    for (int a = 0; a < kAccs; ++a) {
      const std::int64_t at = i + 8 * a;
      __m256 wv[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        wv[r] = Fmt::load8(w + static_cast<std::size_t>(r) * row_bytes + Fmt::kElem * static_cast<std::size_t>(at));
      }
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        __m256 xv = _mm256_loadu_ps(x[t] + at);
        // Kept in a register for the R rows: folded into each FMA as a memory operand, it
        // would be loaded R times, and the loads (not the FMAs) would bound the tile.
        __asm__("" : "+x"(xv));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) acc[a][r][t] = _mm256_fmadd_ps(wv[r], xv, acc[a][r][t]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m256 sum = kAccs == 2 ? _mm256_add_ps(acc[0][r][t], acc[kAccs - 1][r][t]) : acc[0][r][t];
      y[t * y_stride + r] = hsum_ps(sum) + float_tail<Fmt>(w + static_cast<std::size_t>(r) * row_bytes, x[t], i, n);
    }
  }
}

// tile_function's checks bound t by tile_tokens: 3 for two accumulators, 4 for one.
template <class Fmt>
TileFn float_tile_of(int r, int t) noexcept {
  if constexpr (Fmt::kAccs == 2) {
    static constexpr TileFn table[2][3] = {
        {tile_float<Fmt, 1, 1>, tile_float<Fmt, 1, 2>, tile_float<Fmt, 1, 3>},
        {tile_float<Fmt, 2, 1>, tile_float<Fmt, 2, 2>, tile_float<Fmt, 2, 3>}};
    return table[r - 1][t - 1];
  } else {
    static constexpr TileFn table[2][4] = {
        {tile_float<Fmt, 1, 1>, tile_float<Fmt, 1, 2>, tile_float<Fmt, 1, 3>, tile_float<Fmt, 1, 4>},
        {tile_float<Fmt, 2, 1>, tile_float<Fmt, 2, 2>, tile_float<Fmt, 2, 3>, tile_float<Fmt, 2, 4>}};
    return table[r - 1][t - 1];
  }
}

}  // namespace

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

// As quantize_act_q8_avx2 over 256 values: the same amax, scale and round-to-even
// conversion as the scalar reference (lrintf), so the same bytes for finite inputs; the 16
// sums of 16 values by horizontal adds of the int32 values.
LLMUX_AVX2 void quantize_act_q8k_avx2(const float* x, ActQ8K* out, std::int64_t n) noexcept {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (std::int64_t b = 0; b < n / 256; ++b, x += 256) {
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 32; ++i) {
      amax = _mm256_max_ps(_mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + 8 * i)), amax);  // NaN: keeps amax
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f, id = d ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    for (int g = 0; g < 8; ++g) {  // 32 values: 2 sums of 16
      __m256i q[4];
      for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * g + 8 * i), vid));
      const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q + 32 * g), _mm256_permutevar8x32_epi32(bytes, order));
      out[b].bsums[2 * g] = static_cast<std::int16_t>(hsum_epi32(_mm256_add_epi32(q[0], q[1])));
      out[b].bsums[2 * g + 1] = static_cast<std::int16_t>(hsum_epi32(_mm256_add_epi32(q[2], q[3])));
    }
    out[b].d = d;
  }
}

TileFn tile_function(WeightType type, int rows, int tokens) noexcept {
  if (!cpu_has_avx2() || rows < 1 || rows > kTileRows || tokens < 1 || tokens > tile_tokens(type)) {
    return nullptr;
  }
  switch (type) {
    case WeightType::q8_0: return tile_of<FormatQ8_0>(rows, tokens);
    case WeightType::q4_0: return tile_of<FormatQn0<4>>(rows, tokens);
    case WeightType::q5_0: return tile_of<FormatQn0<5>>(rows, tokens);
    case WeightType::q4_k: return tile_of<FormatQK<4>>(rows, tokens);
    case WeightType::q5_k: return tile_of<FormatQK<5>>(rows, tokens);
    case WeightType::f32: return float_tile_of<FormatF32>(rows, tokens);
    case WeightType::f16: return float_tile_of<FormatF16>(rows, tokens);
    case WeightType::bf16: return float_tile_of<FormatBF16>(rows, tokens);
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
void quantize_act_q8_avx2(const float* x, ActQ8* out, std::int64_t n) noexcept {
  quantize_act_q8_scalar(x, out, n);
}
void quantize_act_q8k_avx2(const float* x, ActQ8K* out, std::int64_t n) noexcept {
  quantize_act_q8k_scalar(x, out, n);
}
}  // namespace llmux::engine::kernels

#endif
