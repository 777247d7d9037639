// e^x for the softmax of attention and for SwiGLU, vectorized (exp.hpp). One algorithm, written
// twice with the same operations in the same order: a scalar version with std::fma and an
// AVX2/FMA version, so both give the same bits and nothing depends on which one ran.
//
//   x clamped to [-104, 89] (NaN passes through): e^-104 rounds to 0 and e^89 overflows, as
//     they should;
//   n = round-to-nearest(x * log2(e)); r = x - n * ln2, with ln2 split in two (Cody and
//     Waite): the first product is exact, the second is one fused multiply-add, |r| <= 0.35;
//   e^r = 1 + (r + r^2 * t), t the Taylor terms 1/2 + r/6 + ... + r^5/5040 by Horner's rule
//     (truncation error below 6e-9 relative), so the last rounding is the one of the sum;
//   times 2^n as 2^(n/2) * 2^(n - n/2): the first product is exact, the second rounds once,
//     also into the subnormal range.
#include "engine/kernels/exp.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/kernels/dot.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include "engine/kernels/avx2_common.hpp"
#endif

namespace llmux::engine::kernels {
namespace {

constexpr float kMinX = -104.0f;
constexpr float kMaxX = 89.0f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;  // 9 significant bits: n * kLn2Hi is exact
constexpr float kLn2Lo = -2.12194440e-4f;
// 1/2, 1/6, ..., 1/5040, highest first.
constexpr float kC7 = 1.0f / 5040, kC6 = 1.0f / 720, kC5 = 1.0f / 120, kC4 = 1.0f / 24,
                kC3 = 1.0f / 6, kC2 = 0.5f;

float pow2(std::int32_t n) {  // 2^n for -126 <= n <= 127
  const std::uint32_t bits = static_cast<std::uint32_t>(n + 127) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

float exp_scalar(float x) noexcept {
  if (x != x) return x;
  x = x < kMinX ? kMinX : x;
  x = x > kMaxX ? kMaxX : x;
  const float n = std::nearbyint(x * kLog2e);
  float r = x - n * kLn2Hi;
  r = std::fma(n, -kLn2Lo, r);
  float t = kC7;
  t = std::fma(t, r, kC6);
  t = std::fma(t, r, kC5);
  t = std::fma(t, r, kC4);
  t = std::fma(t, r, kC3);
  t = std::fma(t, r, kC2);
  const float p = 1.0f + std::fma(t, r * r, r);
  const auto ni = static_cast<std::int32_t>(n);
  const std::int32_t n1 = ni >> 1;
  return p * pow2(n1) * pow2(ni - n1);
}

#if defined(__x86_64__) || defined(__i386__)
namespace {

using namespace avx2;

LLMUX_AVX2 inline __m256 exp8(__m256 x) {
  // max/min return their second operand when either is NaN: x passes through.
  x = _mm256_max_ps(_mm256_set1_ps(kMinX), x);
  x = _mm256_min_ps(_mm256_set1_ps(kMaxX), x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(kLn2Hi)));
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Lo), r);
  __m256 t = _mm256_set1_ps(kC7);
  t = _mm256_fmadd_ps(t, r, _mm256_set1_ps(kC6));
  t = _mm256_fmadd_ps(t, r, _mm256_set1_ps(kC5));
  t = _mm256_fmadd_ps(t, r, _mm256_set1_ps(kC4));
  t = _mm256_fmadd_ps(t, r, _mm256_set1_ps(kC3));
  t = _mm256_fmadd_ps(t, r, _mm256_set1_ps(kC2));
  const __m256 p = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(t, _mm256_mul_ps(r, r), r));
  const __m256i ni = _mm256_cvtps_epi32(n);  // NaN lanes: garbage scale, NaN result still
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

LLMUX_AVX2 void exp_sub_avx2(const float* x, float sub, float* y, std::int64_t n) noexcept {
  const __m256 s = _mm256_set1_ps(sub);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), s)));
  for (; i < n; ++i) y[i] = exp_scalar(x[i] - sub);
}

LLMUX_AVX2 void swiglu_avx2(const float* gate, const float* up, float* out, std::int64_t n) noexcept {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp8(_mm256_sub_ps(zero, g));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + exp_scalar(0.0f - gate[i])) * up[i];
}

LLMUX_AVX2 float max_avx2(const float* x, std::int64_t n) noexcept {
  std::int64_t i = 0;
  float m = x[0];
  if (n >= 8) {
    __m256 v = _mm256_loadu_ps(x);
    for (i = 8; i + 8 <= n; i += 8) v = _mm256_max_ps(v, _mm256_loadu_ps(x + i));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    m = _mm_cvtss_f32(h);
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

}  // namespace
#endif

float max_of(const float* x, std::int64_t n) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) return max_avx2(x, n);
#endif
  float m = x[0];
  for (std::int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

void exp_sub(const float* x, float sub, float* y, std::int64_t n) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    exp_sub_avx2(x, sub, y, n);
    return;
  }
#endif
  for (std::int64_t i = 0; i < n; ++i) y[i] = exp_scalar(x[i] - sub);
}

void swiglu(const float* gate, const float* up, float* out, std::int64_t n) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    swiglu_avx2(gate, up, out, n);
    return;
  }
#endif
  for (std::int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + exp_scalar(0.0f - gate[i])) * up[i];
}

}  // namespace llmux::engine::kernels
