// Dot products of one weight row (as stored in the GGUF file) with one activation row, for the
// matrix-vector and small matrix-matrix products of the forward pass.
//
// Integer paths (default precision): activations are quantized on the fly, per token, to
// ActQ8 blocks of 32 (for the 32-weight formats) or ActQ8K blocks of 256 (for the K-quants),
// then each block's products are summed in exact integer arithmetic and scaled once. Float
// paths (F32/F16/BF16 weights, and every type in full precision via dequantize + dot_f32) keep
// float32 activations.
//
// Two implementations: a scalar reference (every platform) and AVX2/FMA/F16C versions picked at
// run time when the CPU has them. Within a block both compute the same integers; the K-quant
// versions are bit-identical to the reference, the others add the scaled block sums in eight
// float lanes and differ by float rounding (the tests check both). The
// result for one (weight row, activation row) pair never depends on batch size or threads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/kernels/dequant.hpp"

namespace llmux::engine::kernels {

struct ActQ8 {  // 32 activations
  float d;      // scale: value = d * q
  float sum;    // d * sum(q): the block's contribution to a weight minimum (Q4_1, Q5_1)
  std::int32_t qsum;  // sum(q): the block's contribution to a weight offset (packed Q4_0, Q5_0)
  std::int8_t q[32];
};

struct ActQ8K {  // 256 activations
  float d;
  std::int16_t bsums[16];  // sums of q over each 16 values
  std::int8_t q[256];
};

// Which activation blocks a weight type's integer dot uses (none: float activations).
enum class ActKind { f32, q8, q8k };
ActKind act_kind(WeightType type) noexcept;

void quantize_act_q8(const float* x, ActQ8* out, std::int64_t n) noexcept;    // n % 32 == 0
// The scalar reference of quantize_act_q8 and its AVX2 version (call only where
// cpu_has_avx2()), which writes exactly the same blocks for finite inputs.
void quantize_act_q8_scalar(const float* x, ActQ8* out, std::int64_t n) noexcept;
void quantize_act_q8_avx2(const float* x, ActQ8* out, std::int64_t n) noexcept;
void quantize_act_q8k(const float* x, ActQ8K* out, std::int64_t n) noexcept;  // n % 256 == 0
// The scalar reference of quantize_act_q8k and its AVX2 version (as for quantize_act_q8).
void quantize_act_q8k_scalar(const float* x, ActQ8K* out, std::int64_t n) noexcept;
void quantize_act_q8k_avx2(const float* x, ActQ8K* out, std::int64_t n) noexcept;

// Dot of a weight row of n values with quantized activations (act_kind(type) says which
// pointer is used) or float activations (act_kind == f32).
using DotFn = float (*)(const std::byte* w, const void* act, std::int64_t n) noexcept;

// The best implementation for this CPU, or the scalar one.
DotFn dot_function(WeightType type) noexcept;
DotFn dot_function_scalar(WeightType type) noexcept;
// The AVX2 version, or null when there is none for the type or the CPU lacks AVX2/FMA/F16C.
DotFn dot_function_avx2(WeightType type) noexcept;
bool cpu_has_avx2() noexcept;

// A register tile: y[j * y_stride + i] = dot(row i, token j) for i < rows, j < tokens, where
// row i starts at w + i * row_bytes and token j's quantized activations at act + j * act_stride.
// Bit-identical to the type's dot_function for every pair.
using TileFn = void (*)(const std::byte* w, std::size_t row_bytes, const std::byte* act,
                        std::size_t act_stride, std::int64_t n, float* y,
                        std::int64_t y_stride) noexcept;
// For F32, F16 and BF16 weights the activations are the tokens' floats (act_stride in bytes).
inline constexpr int kTileRows = 2;
inline constexpr int kTileTokens = 4;
// The most tokens of the type's tiles: kTileTokens, or 3 for F32 and F16 (whose dots keep two
// accumulators per pair).
constexpr int tile_tokens(WeightType type) noexcept {
  return type == WeightType::f32 || type == WeightType::f16 ? 3 : kTileTokens;
}
// The tile of rows x tokens (1..kTileRows, 1..tile_tokens(type)) for the type, or null when
// there is none (no AVX2, or a type without a tiled kernel: use dot_function).
TileFn tile_function(WeightType type, int rows, int tokens) noexcept;

// Packed weights: groups of kPackRows rows rearranged at load time so that one vector
// instruction computes the same columns of all rows of the group (each weight is still read
// once per product). Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K have a packed form where
// the CPU has its kernels. Q8_0 is packed as bytes; Q4_K keeps its nibbles and Q5_K its bits
// (rearranged as Q5_0's below), their 6-bit scales and minimums one byte each (1.03x and 1.02x
// their file size); Q4_0, Q4_1, Q5_0, Q5_1 and Q6_K are packed compact, in their file's bytes
// (two values per byte: nibbles, or for the 5-bit types one value and 3 bits of the other, the
// remaining bits as bit planes; Q6_K 1.08x for its scales stored twice), which
// their single-token kernels unpack in registers: a single token's product waits on memory, so
// fewer bytes make it faster. Products of several tokens first expand each of those groups once
// (expand_packed) into bytes (Q8_0's layout, with Q4_1's and Q5_1's minimums; Q6_K's byte
// layout) and run expanded_tile_function's kernels on those.
// Every packed kernel is bit-identical to the type's scalar reference dot
// (dot_function_scalar) for every (row, token), whatever the number of tokens.
inline constexpr int kPackRows = 8;
inline constexpr int kPackedTokens = 2;
// Bytes of one packed group of kPackRows rows of n values, or 0 when `type` has no packed
// kernel on this CPU.
std::size_t packed_group_bytes(WeightType type, std::int64_t n) noexcept;
// Packs kPackRows rows (row k at rows + k * row_bytes) into packed_group_bytes(type, n) bytes.
void pack_rows(WeightType type, const std::byte* rows, std::size_t row_bytes, std::int64_t n,
               std::byte* out) noexcept;
// y[j * y_stride + k] = dot(row k of the group, token j) for k < kPackRows, j < tokens, with
// the tokens' quantized activations at act + j * act_stride.
using PackedTileFn = void (*)(const std::byte* group, const std::byte* act, std::size_t act_stride,
                              std::int64_t n, float* y, std::int64_t y_stride) noexcept;
// The kernel for 1..kPackedTokens tokens on packed groups, or null when there is none.
PackedTileFn packed_tile_function(WeightType type, int tokens) noexcept;
// Bytes of one expanded group of n values, or 0 when the type's packed groups are read as
// they are (no expansion).
std::size_t packed_expanded_bytes(WeightType type, std::int64_t n) noexcept;
// Expands a packed group (pack_rows) into packed_expanded_bytes(type, n) bytes.
void expand_packed(WeightType type, const std::byte* group, std::int64_t n, std::byte* out) noexcept;
// The kernel for 1..kPackedTokens tokens on expanded groups, or null when there is none.
PackedTileFn expanded_tile_function(WeightType type, int tokens) noexcept;

// y[i] += a * x[i] for n values of x stored as f32 or f16 (the attention's weighted sum of V).
using AxpyFn = void (*)(float a, const std::byte* x, float* y, std::int64_t n) noexcept;
AxpyFn axpy_function(WeightType type) noexcept;  // f32 or f16; AVX2 when available
AxpyFn axpy_function_scalar(WeightType type) noexcept;

// Attention of `heads` query heads that share one KV head (grouped-query attention) over a
// run of cache rows stored as f32 or f16 (row j at k + j * k_stride), head h's query at
// q + h * dim and its output at out + h * dim:
//   scores[h * scores_stride + j] = dot_function(type)(row j, q + h * dim, dim) * scale, and
//   out[h * dim + i] = out[h * dim + i] + w[h * w_stride + j] * v_j[i] for j = 0..rows-1 in
//   order (axpy_function(type) row by row),
// with exactly those values; each row is read once for all the heads.
using ScoresFn = void (*)(const float* q, std::int64_t heads, const std::byte* k,
                          std::size_t k_stride, std::int64_t rows, std::int64_t dim, float scale,
                          float* scores, std::int64_t scores_stride) noexcept;
using WeightedSumFn = void (*)(const float* w, std::int64_t w_stride, std::int64_t heads,
                               const std::byte* v, std::size_t v_stride, std::int64_t rows,
                               std::int64_t dim, float* out) noexcept;
ScoresFn scores_function(WeightType type) noexcept;            // f32 or f16
WeightedSumFn weighted_sum_function(WeightType type) noexcept;  // f32 or f16
// The AVX2 versions (null without AVX2); dim % 16 != 0 falls back to the row-by-row loops.
ScoresFn scores_function_avx2(WeightType type) noexcept;
WeightedSumFn weighted_sum_function_avx2(WeightType type) noexcept;

}  // namespace llmux::engine::kernels
