#include "engine/kernels/ops.hpp"

#include "engine/kernels/dot.hpp"

#include <algorithm>
#include <cmath>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

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

PackedBuffer::PackedBuffer(std::size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
#if defined(__linux__)
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  ::madvise(p, bytes, MADV_HUGEPAGE);  // advice only: fine if the system declines
  data_ = static_cast<std::byte*>(p);
#else
  data_ = static_cast<std::byte*>(::operator new(bytes, std::align_val_t{64}));
#endif
}

PackedBuffer& PackedBuffer::operator=(PackedBuffer&& o) noexcept {
  if (this != &o) {
    this->~PackedBuffer();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

PackedBuffer::~PackedBuffer() {
  if (!data_) return;
#if defined(__linux__)
  ::munmap(data_, size_);
#else
  ::operator delete(data_, std::align_val_t{64});
#endif
  data_ = nullptr;
}

PackedBuffer pack_matrix(Matrix& w) {
  const std::size_t group = packed_group_bytes(w.type, w.cols);
  const std::int64_t groups = w.rows / kPackRows;
  if (group == 0 || groups == 0) return {};
  PackedBuffer buffer(group * static_cast<std::size_t>(groups));
  for (std::int64_t g = 0; g < groups; ++g) {
    pack_rows(w.type, w.row(g * kPackRows), w.row_bytes, w.cols,
              buffer.data() + group * static_cast<std::size_t>(g));
  }
  w.packed = buffer.data();
  return buffer;
}

void matmul(const Matrix& w, const float* x, std::int64_t n_tokens, std::int64_t x_stride,
            float* y, std::int64_t y_stride, bool integer, MatmulScratch& scratch,
            ThreadPool& pool) {
  const ActKind kind = act_kind(w.type);
  const bool float_weights = kind == ActKind::f32;
  const bool quantize = integer && !float_weights;
  // Activations of every token, quantized once.
  std::size_t act_stride = 0;
  if (quantize) {
    act_stride = kind == ActKind::q8 ? static_cast<std::size_t>(w.cols / 32) * sizeof(ActQ8)
                                     : static_cast<std::size_t>(w.cols / 256) * sizeof(ActQ8K);
    if (scratch.act.size() < act_stride * static_cast<std::size_t>(n_tokens)) {
      scratch.act.resize(act_stride * static_cast<std::size_t>(n_tokens));
    }
    const auto quantize_token = [&](std::int64_t t, int) {
      std::byte* dst = scratch.act.data() + act_stride * static_cast<std::size_t>(t);
      if (kind == ActKind::q8) {
        quantize_act_q8(x + t * x_stride, reinterpret_cast<ActQ8*>(dst), w.cols);
      } else {
        quantize_act_q8k(x + t * x_stride, reinterpret_cast<ActQ8K*>(dst), w.cols);
      }
    };
    if (n_tokens >= 4) {
      pool.parallel_for(n_tokens, quantize_token);
    } else {
      for (std::int64_t t = 0; t < n_tokens; ++t) quantize_token(t, 0);
    }
  }
  const bool dequant_rows = !quantize && !float_weights;
  if (dequant_rows) {
    const std::size_t need = static_cast<std::size_t>(pool.size()) * static_cast<std::size_t>(w.cols);
    if (scratch.rows.size() < need) scratch.rows.resize(need);
  }
  const DotFn fn = dequant_rows ? dot_function(WeightType::f32) : dot_function(w.type);
  // Row blocks of at least 16 rows per task keep the dispatch cost small.
  constexpr std::int64_t kRowsPerTask = 16;
  static_assert(kRowsPerTask % kPackRows == 0);
  constexpr std::int64_t kTokensPerTile = 32;
  const std::int64_t n_tasks = (w.rows + kRowsPerTask - 1) / kRowsPerTask;
  if (quantize && w.packed) {
    // Packed row groups (the rows past the last whole group take the dots below).
    const std::int64_t packed_rows = w.rows / kPackRows * kPackRows;
    const std::size_t group_bytes = packed_group_bytes(w.type, w.cols);
    PackedTileFn kernels[kPackedTokens];
    for (int j = 0; j < kPackedTokens; ++j) kernels[j] = packed_tile_function(w.type, j + 1);
    pool.parallel_for(n_tasks, [&](std::int64_t task, int) {
      const std::int64_t r_begin = task * kRowsPerTask;
      const std::int64_t r_end = std::min(w.rows, r_begin + kRowsPerTask);
      for (std::int64_t t0 = 0; t0 < n_tokens; t0 += kTokensPerTile) {
        const std::int64_t t1 = std::min(n_tokens, t0 + kTokensPerTile);
        for (std::int64_t r = r_begin; r < r_end;) {
          if (r + kPackRows <= packed_rows) {
            const std::byte* group = w.packed + group_bytes * static_cast<std::size_t>(r / kPackRows);
            for (std::int64_t t = t0; t < t1; t += kPackedTokens) {
              const int nt = static_cast<int>(std::min<std::int64_t>(kPackedTokens, t1 - t));
              kernels[nt - 1](group, scratch.act.data() + act_stride * static_cast<std::size_t>(t),
                              act_stride, w.cols, y + t * y_stride + r, y_stride);
            }
            r += kPackRows;
          } else {
            for (std::int64_t t = t0; t < t1; ++t) {
              y[t * y_stride + r] =
                  fn(w.row(r), scratch.act.data() + act_stride * static_cast<std::size_t>(t), w.cols);
            }
            ++r;
          }
        }
      }
    });
    return;
  }
  if (quantize && n_tokens > 1 && tile_function(w.type, kTileRows, kTileTokens)) {
    // Register tiles of kTileRows rows x kTileTokens tokens (bit-identical to the dots).
    TileFn tiles[kTileRows][kTileTokens];
    for (int i = 0; i < kTileRows; ++i) {
      for (int j = 0; j < kTileTokens; ++j) tiles[i][j] = tile_function(w.type, i + 1, j + 1);
    }
    pool.parallel_for(n_tasks, [&](std::int64_t task, int) {
      const std::int64_t r_end = std::min(w.rows, (task + 1) * kRowsPerTask);
      for (std::int64_t t0 = 0; t0 < n_tokens; t0 += kTokensPerTile) {
        const std::int64_t t1 = std::min(n_tokens, t0 + kTokensPerTile);
        for (std::int64_t r = task * kRowsPerTask; r < r_end; r += kTileRows) {
          const int nr = static_cast<int>(std::min<std::int64_t>(kTileRows, r_end - r));
          for (std::int64_t t = t0; t < t1; t += kTileTokens) {
            const int nt = static_cast<int>(std::min<std::int64_t>(kTileTokens, t1 - t));
            tiles[nr - 1][nt - 1](w.row(r), w.row_bytes,
                                          scratch.act.data() + act_stride * static_cast<std::size_t>(t),
                                          act_stride, w.cols, y + t * y_stride + r, y_stride);
          }
        }
      }
    });
    return;
  }
  pool.parallel_for(n_tasks, [&](std::int64_t task, int worker) {
    float* row = dequant_rows ? scratch.rows.data() + static_cast<std::size_t>(worker) *
                                                          static_cast<std::size_t>(w.cols)
                              : nullptr;
    const std::int64_t end = std::min(w.rows, (task + 1) * kRowsPerTask);
    // Tokens in tiles, so a tile's activations stay in cache while the task's rows pass over
    // them (each (row, token) dot is the same computation whatever the tiling).
    for (std::int64_t t0 = 0; t0 < n_tokens; t0 += kTokensPerTile) {
      const std::int64_t t1 = std::min(n_tokens, t0 + kTokensPerTile);
      for (std::int64_t r = task * kRowsPerTask; r < end; ++r) {
        const std::byte* wr = w.row(r);
        if (dequant_rows) {
          dequantize_row(w.type, wr, row, w.cols);
          wr = reinterpret_cast<const std::byte*>(row);
        }
        for (std::int64_t t = t0; t < t1; ++t) {
          const void* a = quantize ? static_cast<const void*>(scratch.act.data() +
                                                              act_stride * static_cast<std::size_t>(t))
                                   : static_cast<const void*>(x + t * x_stride);
          y[t * y_stride + r] = fn(wr, a, w.cols);
        }
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
