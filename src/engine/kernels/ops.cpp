#include "engine/kernels/ops.hpp"

#include <algorithm>
#include <cmath>

namespace llmux::engine::kernels {

float dot(const float* a, const float* b, std::int64_t n) noexcept {
  // Eight independent partial sums (vectorizable), combined in a fixed order.
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

void matmul(const Matrix& w, const float* x, std::int64_t n_tokens, std::int64_t x_stride,
            float* y, std::int64_t y_stride, std::span<float> scratch, ThreadPool& pool) {
  // Row blocks of at least 16 rows per task keep the dispatch cost small.
  constexpr std::int64_t kRowsPerTask = 16;
  const std::int64_t n_tasks = (w.rows + kRowsPerTask - 1) / kRowsPerTask;
  pool.parallel_for(n_tasks, [&](std::int64_t task, int worker) {
    float* row = scratch.data() + static_cast<std::size_t>(worker) * static_cast<std::size_t>(w.cols);
    const std::int64_t end = std::min(w.rows, (task + 1) * kRowsPerTask);
    for (std::int64_t r = task * kRowsPerTask; r < end; ++r) {
      const float* wr = row;
      if (w.type == WeightType::f32) {
        wr = reinterpret_cast<const float*>(w.row(r));
      } else {
        dequantize_row(w.type, w.row(r), row, w.cols);
      }
      for (std::int64_t t = 0; t < n_tokens; ++t) {
        y[t * y_stride + r] = dot(wr, x + t * x_stride, w.cols);
      }
    }
  });
}

void rms_norm(const float* x, const float* weight, float* y, std::int64_t n, float eps) noexcept {
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  if (weight) {
    for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
  } else {
    for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

void rope(float* head, std::int64_t rope_dim, const float* cos, const float* sin,
          bool neox) noexcept {
  const std::int64_t half = rope_dim / 2;
  for (std::int64_t i = 0; i < half; ++i) {
    const std::int64_t a = neox ? i : 2 * i;
    const std::int64_t b = neox ? i + half : 2 * i + 1;
    const float x0 = head[a], x1 = head[b];
    head[a] = x0 * cos[i] - x1 * sin[i];
    head[b] = x0 * sin[i] + x1 * cos[i];
  }
}

void softmax(float* x, std::int64_t n) noexcept {
  if (n <= 0) return;
  const float max = *std::max_element(x, x + n);
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (std::int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* gate, const float* up, float* out, std::int64_t n) noexcept {
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace llmux::engine::kernels
