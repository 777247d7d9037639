// Scalar reference operations of the transformer forward pass (float32 arithmetic).
//
// Every reduction runs in one fixed order that does not depend on how many tokens are processed
// together or on the thread count, so batching never changes a sequence's results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/kernels/dequant.hpp"
#include "engine/kernels/exp.hpp"  // swiglu
#include "engine/kernels/thread_pool.hpp"

namespace llmux::engine::kernels {

// A row-major weight matrix as stored in a GGUF file: `rows` rows of `cols` weights, each row
// `row_bytes` bytes of `type` blocks. y = W x computes one output per row.
struct Matrix {
  WeightType type = WeightType::f32;
  std::int64_t cols = 0;
  std::int64_t rows = 0;
  std::size_t row_bytes = 0;
  const std::byte* data = nullptr;
  // The first rows / kPackRows * kPackRows rows packed (dot.hpp: pack_rows), group after group,
  // or null. matmul's integer path reads those rows from here.
  const std::byte* packed = nullptr;

  const std::byte* row(std::int64_t r) const noexcept {
    return data + static_cast<std::size_t>(r) * row_bytes;
  }
};

// Owns packed weights: anonymous memory, with transparent huge pages asked for where the
// system has them (a decode streams every weight once per token). Buffers of 2 MiB or more
// start on a 2 MiB boundary, so that all of them can be huge pages.
class PackedBuffer {
 public:
  PackedBuffer() = default;
  explicit PackedBuffer(std::size_t bytes);
  PackedBuffer(PackedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr; o.size_ = 0; }
  PackedBuffer& operator=(PackedBuffer&& o) noexcept;
  PackedBuffer(const PackedBuffer&) = delete;
  PackedBuffer& operator=(const PackedBuffer&) = delete;
  ~PackedBuffer();
  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Bytes of w's packed row groups, or 0 when its type has no packed kernel on this CPU (or w
// has fewer than kPackRows rows).
std::size_t packed_matrix_bytes(const Matrix& w) noexcept;
// Packs w's row groups into out (packed_matrix_bytes(w) bytes, which must outlive every use of
// w) and sets w.packed to it; does nothing when packed_matrix_bytes(w) is 0.
void pack_matrix_into(Matrix& w, std::byte* out);
// The same into a buffer of its own (empty, w unchanged, when there is nothing to pack).
PackedBuffer pack_matrix(Matrix& w);

float dot(const float* a, const float* b, std::int64_t n) noexcept;

// Working memory of matmul, reused across calls (grows to the largest need, then stays).
struct MatmulScratch {
  std::vector<float> rows;        // one dequantized weight row per thread (full precision)
  std::vector<std::byte> act;     // the tokens' quantized activations (integer paths)
  std::vector<std::byte> expanded;  // one expanded packed group per thread (dot.hpp)
};

// y[t * y_stride + r] = dot(W.row(r), x + t * x_stride) for t < n_tokens, r < W.rows.
// Rows are split over the pool; each weight row is read once per call and used for all tokens.
// With `integer` set, quantized weights use the integer dot products (activations quantized
// once per token, dot.hpp); otherwise quantized rows are dequantized and dotted in float32
// (the full-precision path). F32/F16/BF16 weights always use float activations.
void matmul(const Matrix& w, const float* x, std::int64_t n_tokens, std::int64_t x_stride,
            float* y, std::int64_t y_stride, bool integer, MatmulScratch& scratch,
            ThreadPool& pool);

// Several products of the same input (Q, K and V of one layer; gate and up): the activations
// are quantized once and all the rows are split over the pool in one call. Each output is
// exactly what matmul gives for it. Matrices of different widths or activation kinds are
// computed one call each.
struct MatmulOut {
  const Matrix* w;
  float* y;
  std::int64_t y_stride;
};
void matmul_many(std::span<const MatmulOut> outs, const float* x, std::int64_t n_tokens,
                 std::int64_t x_stride, bool integer, MatmulScratch& scratch, ThreadPool& pool);

// y = x / rms(x) * weight (weight may be null: no scaling), with eps inside the root.
void rms_norm(const float* x, const float* weight, float* y, std::int64_t n, float eps) noexcept;

// Rotates pairs of a head vector by angles with cos/sin tables of rope_dim / 2 entries. Normal
// ordering pairs (2i, 2i+1); NEOX ordering pairs (i, i + rope_dim/2). Dimensions from rope_dim
// to head_dim are left alone.
void rope(float* head, std::int64_t rope_dim, const float* cos, const float* sin,
          bool neox) noexcept;

// In-place softmax over n values (max-subtracted, exp.hpp's e^x, sum in double).
void softmax(float* x, std::int64_t n) noexcept;

}  // namespace llmux::engine::kernels
