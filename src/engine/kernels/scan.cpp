#include "engine/kernels/scan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/kernels/dot.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "engine/kernels/avx2_common.hpp"
#endif

namespace llmux::engine::kernels {
namespace {

constexpr float kMax = std::numeric_limits<float>::max();
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The sampler's view of a logit: NaN is -inf, +inf the largest finite float.
inline float usable(float v) noexcept { return std::isnan(v) ? kNegInf : std::min(v, kMax); }

std::int64_t first_index_of(const float* x, std::int64_t begin, std::int64_t n, float value) noexcept {
  for (std::int64_t i = begin; i < n; ++i) {
    if (usable(x[i]) == value) return i;
  }
  return n;
}

#if defined(__x86_64__) || defined(__i386__)
using namespace avx2;

// min(kMax, v) returns v where v is NaN (the second operand), and max(v, m) returns m where v
// is NaN: NaN never moves the maximum; +inf becomes kMax.
LLMUX_AVX2 float max_usable_avx2(const float* x, std::int64_t n) noexcept {
  const __m256 cap = _mm256_set1_ps(kMax);
  __m256 m0 = _mm256_set1_ps(kNegInf), m1 = m0;
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm256_max_ps(_mm256_min_ps(cap, _mm256_loadu_ps(x + i)), m0);
    m1 = _mm256_max_ps(_mm256_min_ps(cap, _mm256_loadu_ps(x + i + 8)), m1);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_max_ps(m0, m1));
  float m = kNegInf;
  for (const float v : lanes) m = std::max(m, v);
  for (; i < n; ++i) m = std::max(m, usable(x[i]));
  return m;
}

// The first i in [begin, n) with usable(x[i]) > threshold (Greater: >) or == threshold.
template <bool Greater>
LLMUX_AVX2 std::int64_t find_avx2(const float* x, std::int64_t begin, std::int64_t n, float threshold) noexcept {
  const __m256 cap = _mm256_set1_ps(kMax), t = _mm256_set1_ps(threshold);
  std::int64_t i = begin;
  for (; i + 8 <= n; i += 8) {
    // Ordered comparisons: false for NaN, as usable() makes it -inf (never > or == a finite
    // threshold; a threshold of -inf is never searched for).
    const __m256 v = _mm256_min_ps(cap, _mm256_loadu_ps(x + i));
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, t, Greater ? _CMP_GT_OQ : _CMP_EQ_OQ));
    if (mask) return i + __builtin_ctz(static_cast<unsigned>(mask));
  }
  for (; i < n; ++i) {
    const float v = usable(x[i]);
    if (Greater ? v > threshold : v == threshold) return i;
  }
  return n;
}
#endif

}  // namespace

std::int64_t first_max_index(const float* x, std::int64_t n) noexcept {
  if (n <= 0) return -1;
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    const float m = max_usable_avx2(x, n);
    return m == kNegInf ? -1 : find_avx2<false>(x, 0, n, m);
  }
#endif
  float m = kNegInf;
  for (std::int64_t i = 0; i < n; ++i) m = std::max(m, usable(x[i]));
  return m == kNegInf ? -1 : first_index_of(x, 0, n, m);
}

std::int64_t next_above(const float* x, std::int64_t begin, std::int64_t n, float threshold) noexcept {
  if (std::isnan(threshold)) return n;
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) return find_avx2<true>(x, begin, n, threshold);
#endif
  for (std::int64_t i = begin; i < n; ++i) {
    if (usable(x[i]) > threshold) return i;
  }
  return n;
}

}  // namespace llmux::engine::kernels
