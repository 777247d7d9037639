#include "engine/kernels/ops.hpp"

#include "engine/kernels/dot.hpp"
#include "engine/kernels/exp.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <new>
#include <system_error>
#include <thread>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
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
  // A huge page covers an aligned 2 MiB: map 2 MiB more, keep the aligned part.
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t slack = bytes >= kHuge ? kHuge : 0;
  void* p = ::mmap(nullptr, bytes + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto* base = static_cast<std::byte*>(p);
  std::byte* start = base;
  if (slack) {
    const auto addr = reinterpret_cast<std::uintptr_t>(base);
    start = base + ((kHuge - addr % kHuge) % kHuge);
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t used = (bytes + page - 1) / page * page;  // start is page-aligned
    if (start > base) ::munmap(base, static_cast<std::size_t>(start - base));
    const std::size_t tail = static_cast<std::size_t>(base + bytes + slack - (start + used));
    if (tail) ::munmap(start + used, tail);
  }
  ::madvise(start, bytes, MADV_HUGEPAGE);  // advice only: fine if the system declines
  data_ = start;
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

std::size_t packed_matrix_bytes(const Matrix& w) noexcept {
  return packed_group_bytes(w.type, w.cols) * static_cast<std::size_t>(w.rows / kPackRows);
}

PackedBuffer pack_matrix(Matrix& w) {
  const std::size_t bytes = packed_matrix_bytes(w);
  if (bytes == 0) return {};
  PackedBuffer buffer(bytes);
  pack_matrix_into(w, buffer.data());
  return buffer;
}

void pack_matrix_into(Matrix& w, std::byte* out) {
  const std::size_t group = packed_group_bytes(w.type, w.cols);
  const std::int64_t groups = w.rows / kPackRows;
  if (group == 0 || groups == 0) return;
  const auto pack_range = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t g = begin; g < end; ++g) {
      pack_rows(w.type, w.row(g * kPackRows), w.row_bytes, w.cols,
                out + group * static_cast<std::size_t>(g));
    }
  };
  // Large matrices are packed by several threads (loading reads and rewrites every weight).
  constexpr std::size_t kBytesPerThread = std::size_t{8} << 20;
  const auto threads = static_cast<std::int64_t>(std::min<std::size_t>(
      {std::max(1u, std::thread::hardware_concurrency()), std::size_t{8},
       group * static_cast<std::size_t>(groups) / kBytesPerThread + 1}));
  if (threads <= 1) {
    pack_range(0, groups);
  } else {
    std::vector<std::thread> helpers;
    for (std::int64_t t = 1; t < threads; ++t) {
      const std::int64_t begin = groups * t / threads, end = groups * (t + 1) / threads;
      try {
        helpers.emplace_back(pack_range, begin, end);
      } catch (const std::system_error&) {  // no thread to be had: this one does it
        pack_range(begin, end);
      }
    }
    pack_range(0, groups / threads);
    for (auto& h : helpers) h.join();
  }
  w.packed = out;
}

namespace {

// Row blocks of at least 16 rows per task keep the dispatch cost small. A single token's
// product reads 16 rows in well under a microsecond, where a task's dispatch (the share's
// atomic counter, the call) is a few percent: it takes 64 rows per task.
constexpr std::int64_t kRowsPerTask = 16;
constexpr std::int64_t kRowsPerTaskOneToken = 64;
static_assert(kRowsPerTask % kPackRows == 0 && kRowsPerTaskOneToken % kPackRows == 0);
// Tokens in tiles, so a tile's activations stay in cache while a task's rows pass over them
// (each (row, token) product is the same computation whatever the tiling).
constexpr std::int64_t kTokensPerTile = 32;

// One product of a matmul_many call and how its rows are computed.
struct Product {
  const Matrix* w;
  float* y;
  std::int64_t y_stride;
  std::int64_t first_task;  // its tasks' place in the call's task numbering
  std::int64_t n_tasks;
  DotFn dot;
  TileFn tiles[kTileRows][kTileTokens];  // [0][0] null: no tiles
  int tile_tokens;                       // tokens of the widest tile
  PackedTileFn packed[kPackedTokens];    // [0] null: not packed
  std::size_t group_bytes;
  PackedTileFn expanded[kPackedTokens];  // [0] null: groups read as packed
  std::size_t expanded_bytes;
};

struct Inputs {
  const float* x;
  std::int64_t x_stride;
  std::int64_t n_tokens;
  const std::byte* act;  // quantized activations, or null (float activations)
  std::size_t act_stride;
  float* rows;  // dequantized rows, one per worker (full precision), or null
  std::byte* expanded;  // an expanded packed group per worker, expanded_stride bytes each
  std::size_t expanded_stride;
};

// Tiles of at least this many tokens expand compact packed groups (expand_packed) once and run
// the byte kernels; fewer tokens unpack in registers.
constexpr std::int64_t kExpandTokens = 2;

void packed_rows(const Product& p, const Inputs& in, std::int64_t r_begin, std::int64_t r_end,
                 int worker) {
  const Matrix& w = *p.w;
  const std::int64_t packed_end = w.rows / kPackRows * kPackRows;
  for (std::int64_t t0 = 0; t0 < in.n_tokens; t0 += kTokensPerTile) {
    const std::int64_t t1 = std::min(in.n_tokens, t0 + kTokensPerTile);
    for (std::int64_t r = r_begin; r < r_end;) {
      if (r + kPackRows <= packed_end) {
        const std::byte* group = w.packed + p.group_bytes * static_cast<std::size_t>(r / kPackRows);
        const PackedTileFn* kernels = p.packed;
        if (p.expanded[0] && t1 - t0 >= kExpandTokens) {
          std::byte* out = in.expanded + in.expanded_stride * static_cast<std::size_t>(worker);
          expand_packed(w.type, group, w.cols, out);
          group = out;
          kernels = p.expanded;
        }
        for (std::int64_t t = t0; t < t1; t += kPackedTokens) {
          const int nt = static_cast<int>(std::min<std::int64_t>(kPackedTokens, t1 - t));
          kernels[nt - 1](group, in.act + in.act_stride * static_cast<std::size_t>(t),
                          in.act_stride, w.cols, p.y + t * p.y_stride + r, p.y_stride);
        }
        r += kPackRows;
      } else {  // the rows past the last whole group
        for (std::int64_t t = t0; t < t1; ++t) {
          p.y[t * p.y_stride + r] =
              p.dot(w.row(r), in.act + in.act_stride * static_cast<std::size_t>(t), w.cols);
        }
        ++r;
      }
    }
  }
}

void tiled_rows(const Product& p, const Inputs& in, std::int64_t r_begin, std::int64_t r_end) {
  const Matrix& w = *p.w;
  // Quantized activations, or the float ones for float weights.
  const std::byte* act = in.act ? in.act : reinterpret_cast<const std::byte*>(in.x);
  const std::size_t act_stride = in.act ? in.act_stride : static_cast<std::size_t>(in.x_stride) * sizeof(float);
  // A tile's tokens stay in L1 while the task's rows pass over them (the rows come from L2:
  // a task's 16 rows are a few times a tile's activations).
  for (std::int64_t t = 0; t < in.n_tokens; t += p.tile_tokens) {
    const int nt = static_cast<int>(std::min<std::int64_t>(p.tile_tokens, in.n_tokens - t));
    for (std::int64_t r = r_begin; r < r_end; r += kTileRows) {
      const int nr = static_cast<int>(std::min<std::int64_t>(kTileRows, r_end - r));
      p.tiles[nr - 1][nt - 1](w.row(r), w.row_bytes, act + act_stride * static_cast<std::size_t>(t),
                              act_stride, w.cols, p.y + t * p.y_stride + r, p.y_stride);
    }
  }
}

void dot_rows(const Product& p, const Inputs& in, std::int64_t r_begin, std::int64_t r_end,
              int worker) {
  const Matrix& w = *p.w;
  float* row = in.rows ? in.rows + static_cast<std::size_t>(worker) * static_cast<std::size_t>(w.cols)
                       : nullptr;
  for (std::int64_t t0 = 0; t0 < in.n_tokens; t0 += kTokensPerTile) {
    const std::int64_t t1 = std::min(in.n_tokens, t0 + kTokensPerTile);
    for (std::int64_t r = r_begin; r < r_end; ++r) {
      const std::byte* wr = w.row(r);
      if (row) {
        dequantize_row(w.type, wr, row, w.cols);
        wr = reinterpret_cast<const std::byte*>(row);
      }
      for (std::int64_t t = t0; t < t1; ++t) {
        const void* a = in.act ? static_cast<const void*>(in.act + in.act_stride * static_cast<std::size_t>(t))
                               : static_cast<const void*>(in.x + t * in.x_stride);
        p.y[t * p.y_stride + r] = p.dot(wr, a, w.cols);
      }
    }
  }
}

}  // namespace

void matmul(const Matrix& w, const float* x, std::int64_t n_tokens, std::int64_t x_stride,
            float* y, std::int64_t y_stride, bool integer, MatmulScratch& scratch,
            ThreadPool& pool) {
  const MatmulOut out{&w, y, y_stride};
  matmul_many({&out, 1}, x, n_tokens, x_stride, integer, scratch, pool);
}

void matmul_many(std::span<const MatmulOut> outs, const float* x, std::int64_t n_tokens,
                 std::int64_t x_stride, bool integer, MatmulScratch& scratch, ThreadPool& pool) {
  if (outs.empty() || n_tokens <= 0) return;
  const Matrix& w0 = *outs.front().w;
  const ActKind kind = act_kind(w0.type);
  for (const auto& o : outs) {
    if (o.w->cols != w0.cols || act_kind(o.w->type) != kind) {
      // Different inputs: one call each.
      for (const auto& one : outs) matmul(*one.w, x, n_tokens, x_stride, one.y, one.y_stride, integer, scratch, pool);
      return;
    }
  }
  const std::int64_t cols = w0.cols;
  const bool float_weights = kind == ActKind::f32;
  const bool quantize = integer && !float_weights;
  Inputs in{x, x_stride, n_tokens, nullptr, 0, nullptr, nullptr, 0};
  // Activations of every token, quantized once for all the products.
  if (quantize) {
    in.act_stride = kind == ActKind::q8 ? static_cast<std::size_t>(cols / 32) * sizeof(ActQ8)
                                        : static_cast<std::size_t>(cols / 256) * sizeof(ActQ8K);
    if (scratch.act.size() < in.act_stride * static_cast<std::size_t>(n_tokens)) {
      scratch.act.resize(in.act_stride * static_cast<std::size_t>(n_tokens));
    }
    const auto quantize_token = [&](std::int64_t t, int) {
      std::byte* dst = scratch.act.data() + in.act_stride * static_cast<std::size_t>(t);
      if (kind == ActKind::q8) {
        quantize_act_q8(x + t * x_stride, reinterpret_cast<ActQ8*>(dst), cols);
      } else {
        quantize_act_q8k(x + t * x_stride, reinterpret_cast<ActQ8K*>(dst), cols);
      }
    };
    // Spread over the pool only when there is enough to spread (a prompt), not for the few
    // tokens of a decode step, where a pool call would cost more than it saves.
    constexpr std::int64_t kParallelValues = std::int64_t{1} << 16;
    if (n_tokens >= 4 && n_tokens * cols >= kParallelValues) {
      pool.parallel_for(n_tokens, quantize_token);
    } else {
      for (std::int64_t t = 0; t < n_tokens; ++t) quantize_token(t, 0);
    }
    in.act = scratch.act.data();
  }
  const bool dequant_rows = !quantize && !float_weights;
  if (dequant_rows) {
    const std::size_t need = static_cast<std::size_t>(pool.size()) * static_cast<std::size_t>(cols);
    if (scratch.rows.size() < need) scratch.rows.resize(need);
    in.rows = scratch.rows.data();
  }
  // At most a few products per call (Q, K and V; gate and up).
  constexpr std::size_t kMaxProducts = 4;
  if (outs.size() > kMaxProducts) {
    for (std::size_t i = 0; i < outs.size(); i += kMaxProducts) {
      matmul_many(outs.subspan(i, std::min(kMaxProducts, outs.size() - i)), x, n_tokens, x_stride,
                  integer, scratch, pool);
    }
    return;
  }
  Product products[kMaxProducts];
  std::int64_t n_tasks = 0;
  const std::int64_t rows_per_task = n_tokens == 1 ? kRowsPerTaskOneToken : kRowsPerTask;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const Matrix& w = *outs[i].w;
    Product& p = products[i];
    p = Product{&w, outs[i].y, outs[i].y_stride, n_tasks, (w.rows + rows_per_task - 1) / rows_per_task,
                dequant_rows ? dot_function(WeightType::f32) : dot_function(w.type), {}, 0, {}, 0, {}, 0};
    n_tasks += p.n_tasks;
    if (quantize && w.packed) {
      for (int j = 0; j < kPackedTokens; ++j) p.packed[j] = packed_tile_function(w.type, j + 1);
      p.group_bytes = packed_group_bytes(w.type, w.cols);
      p.expanded_bytes = n_tokens >= kExpandTokens ? packed_expanded_bytes(w.type, w.cols) : 0;
      if (p.expanded_bytes) {
        for (int j = 0; j < kPackedTokens; ++j) p.expanded[j] = expanded_tile_function(w.type, j + 1);
        in.expanded_stride = std::max(in.expanded_stride, p.expanded_bytes);
      }
    } else if ((quantize || float_weights) && n_tokens > 1 && tile_function(w.type, 1, 1)) {
      // Register tiles of kTileRows rows x tile_tokens tokens (bit-identical to the dots); float
      // weights take the tokens' floats.
      p.tile_tokens = tile_tokens(w.type);
      for (int r = 0; r < kTileRows; ++r) {
        for (int t = 0; t < p.tile_tokens; ++t) p.tiles[r][t] = tile_function(w.type, r + 1, t + 1);
      }
    }
  }
  if (in.expanded_stride) {
    const std::size_t need = static_cast<std::size_t>(pool.size()) * in.expanded_stride;
    if (scratch.expanded.size() < need) scratch.expanded.resize(need);
    in.expanded = scratch.expanded.data();
  }
  const std::size_t n_products = outs.size();
  pool.parallel_for(n_tasks, [&](std::int64_t task, int worker) {
    std::size_t i = 0;
    while (i + 1 < n_products && task >= products[i + 1].first_task) ++i;
    const Product& p = products[i];
    const std::int64_t r_begin = (task - p.first_task) * rows_per_task;
    const std::int64_t r_end = std::min(p.w->rows, r_begin + rows_per_task);
    if (p.packed[0]) {
      packed_rows(p, in, r_begin, r_end, worker);
    } else if (p.tiles[0][0]) {
      tiled_rows(p, in, r_begin, r_end);
    } else {
      dot_rows(p, in, r_begin, r_end, worker);
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
  const float max = max_of(x, n);
  exp_sub(x, max, x, n);
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += x[i];
  const float inv = static_cast<float>(1.0 / sum);
  for (std::int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace llmux::engine::kernels
