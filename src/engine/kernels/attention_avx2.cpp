// AVX2/FMA/F16C attention kernels over runs of KV-cache rows (dot.hpp: scores_function,
// weighted_sum_function): the query heads of one KV head together, each cache row loaded once
// for a pair of heads, with the operations of the row-by-row dots (dot_f16/dot_f32 in
// dot_avx2.cpp) and axpys in their order, so the results are bit-identical to them.
#include "engine/kernels/dot.hpp"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "engine/kernels/avx2_common.hpp"

namespace llmux::engine::kernels {
namespace {

using namespace avx2;

// Eight floats of a cache row of f32 or f16 values.
template <bool Half>
LLMUX_AVX2 inline __m256 load8(const std::byte* p) {
  if constexpr (Half) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  }
}

// The 8 lanes of one row's dot: dot_f16 / dot_f32 of dot_avx2.cpp (two accumulators over 16-value
// steps, then their sum).
template <bool Half, std::int64_t Dim = 0>  // Dim: dim known at compile time (0: not)
LLMUX_AVX2 inline __m256 row_lanes(const float* q, const std::byte* k, std::int64_t dim) {
  constexpr std::size_t kElem = Half ? 2 : 4;
  if constexpr (Dim != 0) dim = Dim;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
#pragma GCC unroll 8
  for (std::int64_t i = 0; i < dim; i += 16) {
    acc0 = _mm256_fmadd_ps(load8<Half>(k + kElem * static_cast<std::size_t>(i)), _mm256_loadu_ps(q + i), acc0);
    acc1 = _mm256_fmadd_ps(load8<Half>(k + kElem * static_cast<std::size_t>(i + 8)), _mm256_loadu_ps(q + i + 8), acc1);
  }
  return _mm256_add_ps(acc0, acc1);
}

// hsum_ps of 8 vectors at once, lane j the sum of r[j], with hsum_ps's additions:
// ((x0 + x4) + (x2 + x6)) + ((x1 + x5) + (x3 + x7)).
LLMUX_AVX2 inline __m256 hsum8_ps(const __m256 (&r)[8]) {
  __m256 s[4];  // [r[2i] lo + hi | r[2i+1] lo + hi]
  for (int i = 0; i < 4; ++i) {
    s[i] = _mm256_add_ps(_mm256_permute2f128_ps(r[2 * i], r[2 * i + 1], 0x20),
                         _mm256_permute2f128_ps(r[2 * i], r[2 * i + 1], 0x31));
  }
  __m256 u[2];  // per 4 vectors (x0 + x2, x1 + x3)
  for (int i = 0; i < 2; ++i) {
    u[i] = _mm256_add_ps(_mm256_shuffle_ps(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  }
  // Lanes r0 r2 r4 r6 | r1 r3 r5 r7, then in order.
  const __m256 t = _mm256_add_ps(_mm256_shuffle_ps(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm256_shuffle_ps(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm256_permutevar8x32_ps(t, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// The lanes of H heads' dots with R rows, row_lanes's operations per (head, row): two
// accumulators over 16-value steps, then their sum, into r[h][u]. Each row's values are loaded
// once for all H heads.
template <bool Half, int H, int R, std::int64_t Dim>
LLMUX_AVX2 inline void group_lanes(const float* q, std::int64_t dim, const std::byte* k,
                                   std::size_t k_stride, __m256 (&r)[H][R]) {
  constexpr std::size_t kElem = Half ? 2 : 4;
  if constexpr (Dim != 0) dim = Dim;
  __m256 acc0[H][R], acc1[H][R];
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 4
    for (int u = 0; u < R; ++u) acc0[h][u] = acc1[h][u] = _mm256_setzero_ps();
  }
#pragma GCC unroll 8
  for (std::int64_t i = 0; i < dim; i += 16) {
    __m256 k0[R], k1[R];
#pragma GCC unroll 4
    for (int u = 0; u < R; ++u) {
      const std::byte* row = k + static_cast<std::size_t>(u) * k_stride + kElem * static_cast<std::size_t>(i);
      k0[u] = load8<Half>(row);
      k1[u] = load8<Half>(row + kElem * 8);
    }
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
#pragma GCC unroll 4
      for (int u = 0; u < R; ++u) {
        acc0[h][u] = _mm256_fmadd_ps(k0[u], _mm256_loadu_ps(q + h * dim + i), acc0[h][u]);
        acc1[h][u] = _mm256_fmadd_ps(k1[u], _mm256_loadu_ps(q + h * dim + i + 8), acc1[h][u]);
      }
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 4
    for (int u = 0; u < R; ++u) r[h][u] = _mm256_add_ps(acc0[h][u], acc1[h][u]);
  }
}

// dot_f16 / dot_f32 of dot_avx2.cpp for each (head, row) (their horizontal sum plus the empty
// tail), times scale. Blocks of 8 rows: heads two at a time over pairs of rows (each row's values
// loaded once for both heads and the 8 rows' horizontal sums shared), a last odd head over the same
// pairs; the rows past the last block one by one.
template <bool Half, std::int64_t Dim = 0>  // Dim: dim known at compile time (0: not)
LLMUX_AVX2 void scores_avx2(const float* q, std::int64_t heads, const std::byte* k,
                            std::size_t k_stride, std::int64_t rows, std::int64_t dim, float scale,
                            float* scores, std::int64_t scores_stride) noexcept {
  if constexpr (Dim != 0) dim = Dim;
  const __m256 vscale = _mm256_set1_ps(scale);
  std::int64_t j = 0;
  for (; j + 8 <= rows; j += 8, k += 8 * k_stride) {
    std::int64_t h = 0;
    for (; h + 2 <= heads; h += 2) {
      __m256 r[2][8];
#pragma GCC unroll 4
      for (int u = 0; u < 8; u += 2) {
        __m256 pair[2][2];
        group_lanes<Half, 2, 2, Dim>(q + h * dim, dim, k + static_cast<std::size_t>(u) * k_stride, k_stride, pair);
        r[0][u] = pair[0][0], r[0][u + 1] = pair[0][1], r[1][u] = pair[1][0], r[1][u + 1] = pair[1][1];
      }
#pragma GCC unroll 2
      for (int g = 0; g < 2; ++g) {
        const __m256 sums = _mm256_add_ps(hsum8_ps(r[g]), _mm256_setzero_ps());  // + the empty tail
        _mm256_storeu_ps(scores + (h + g) * scores_stride + j, _mm256_mul_ps(sums, vscale));
      }
    }
    if (h < heads) {
      __m256 r[8];
#pragma GCC unroll 4
      for (int u = 0; u < 8; u += 4) {
        __m256 four[1][4];
        group_lanes<Half, 1, 4, Dim>(q + h * dim, dim, k + static_cast<std::size_t>(u) * k_stride, k_stride, four);
        r[u] = four[0][0], r[u + 1] = four[0][1], r[u + 2] = four[0][2], r[u + 3] = four[0][3];
      }
      const __m256 sums = _mm256_add_ps(hsum8_ps(r), _mm256_setzero_ps());
      _mm256_storeu_ps(scores + h * scores_stride + j, _mm256_mul_ps(sums, vscale));
    }
  }
  for (; j < rows; ++j, k += k_stride) {
    for (std::int64_t h = 0; h < heads; ++h) {
      const float tail = 0;
      scores[h * scores_stride + j] = (hsum_ps(row_lanes<Half, Dim>(q + h * dim, k, dim)) + tail) * scale;
    }
  }
}

// H heads' outputs c..c + 8N of weighted_sum_avx2, held in registers over the run (each row's
// values loaded once for the H heads).
template <bool Half, int H, int N>
LLMUX_AVX2 inline void weighted_sum_chunk(const float* w, std::int64_t w_stride, const std::byte* row,
                                          std::size_t v_stride, std::int64_t rows, float* out,
                                          std::int64_t dim) {
  constexpr std::size_t kElem = Half ? 2 : 4;
  __m256 o[H][N];
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) o[h][i] = _mm256_loadu_ps(out + h * dim + 8 * i);
  }
  for (std::int64_t j = 0; j < rows; ++j, row += v_stride) {
    __m256 v[N];
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) v[i] = load8<Half>(row + kElem * 8 * static_cast<std::size_t>(i));
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m256 a = _mm256_set1_ps(w[h * w_stride + j]);
#pragma GCC unroll 8
      for (int i = 0; i < N; ++i) o[h][i] = _mm256_add_ps(o[h][i], _mm256_mul_ps(a, v[i]));
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) _mm256_storeu_ps(out + h * dim + 8 * i, o[h][i]);
  }
}

// axpy_f16 / axpy_f32 of dot_avx2.cpp for each head and row in order (multiply, then add; dim % 16
// == 0), in 32-value chunks of the outputs: two heads at a time (8 accumulators), a last odd head
// alone.
template <bool Half>
LLMUX_AVX2 void weighted_sum_avx2(const float* w, std::int64_t w_stride, std::int64_t heads,
                                  const std::byte* v, std::size_t v_stride, std::int64_t rows,
                                  std::int64_t dim, float* out) noexcept {
  constexpr std::size_t kElem = Half ? 2 : 4;
  for (std::int64_t c = 0; c < dim; c += 32) {
    const std::byte* row = v + kElem * static_cast<std::size_t>(c);
    const bool half_chunk = dim - c < 32;  // 16 values left
    std::int64_t h = 0;
    for (; h + 2 <= heads; h += 2) {
      const float* wh = w + h * w_stride;
      float* oh = out + h * dim + c;
      if (half_chunk) {
        weighted_sum_chunk<Half, 2, 2>(wh, w_stride, row, v_stride, rows, oh, dim);
      } else {
        weighted_sum_chunk<Half, 2, 4>(wh, w_stride, row, v_stride, rows, oh, dim);
      }
    }
    if (h < heads) {
      if (half_chunk) {
        weighted_sum_chunk<Half, 1, 2>(w + h * w_stride, w_stride, row, v_stride, rows, out + h * dim + c, dim);
      } else {
        weighted_sum_chunk<Half, 1, 4>(w + h * w_stride, w_stride, row, v_stride, rows, out + h * dim + c, dim);
      }
    }
  }
}

template <bool Half>
void scores_entry(const float* q, std::int64_t heads, const std::byte* k, std::size_t k_stride,
                  std::int64_t rows, std::int64_t dim, float scale, float* scores,
                  std::int64_t scores_stride) noexcept {
  if (dim == 64) {  // the common head size, unrolled
    scores_avx2<Half, 64>(q, heads, k, k_stride, rows, dim, scale, scores, scores_stride);
    return;
  }
  if (dim == 128) {
    scores_avx2<Half, 128>(q, heads, k, k_stride, rows, dim, scale, scores, scores_stride);
    return;
  }
  if (dim % 16 == 0) {
    scores_avx2<Half>(q, heads, k, k_stride, rows, dim, scale, scores, scores_stride);
    return;
  }
  const DotFn dot = dot_function_avx2(Half ? WeightType::f16 : WeightType::f32);
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::int64_t j = 0; j < rows; ++j) {
      scores[h * scores_stride + j] = dot(k + static_cast<std::size_t>(j) * k_stride, q + h * dim, dim) * scale;
    }
  }
}

template <bool Half>
void weighted_sum_entry(const float* w, std::int64_t w_stride, std::int64_t heads, const std::byte* v,
                        std::size_t v_stride, std::int64_t rows, std::int64_t dim, float* out) noexcept {
  if (dim % 16 == 0) {
    weighted_sum_avx2<Half>(w, w_stride, heads, v, v_stride, rows, dim, out);
    return;
  }
  const AxpyFn axpy = axpy_function(Half ? WeightType::f16 : WeightType::f32);
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::int64_t j = 0; j < rows; ++j) {
      axpy(w[h * w_stride + j], v + static_cast<std::size_t>(j) * v_stride, out + h * dim, dim);
    }
  }
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

}  // namespace llmux::engine::kernels

#else

namespace llmux::engine::kernels {
ScoresFn scores_function_avx2(WeightType) noexcept { return nullptr; }
WeightedSumFn weighted_sum_function_avx2(WeightType) noexcept { return nullptr; }
}  // namespace llmux::engine::kernels

#endif
