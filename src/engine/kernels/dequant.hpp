// Weight formats of GGUF files and their dequantization to float32.
//
// Block layouts are ggml's (see docs/engine.md): Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 hold 32 weights per
// block with a half-precision scale (and minimum); Q4_K/Q5_K/Q6_K hold 256 weights per
// super-block with 6-bit (Q4_K, Q5_K) or 8-bit (Q6_K) sub-block scales. The numbering of
// WeightType is ggml's, so a gguf::TensorType converts by value.
//
// The dequantize_* functions are the scalar reference: exact float32 values of what the file
// stores (a half-precision scale times a small integer, minus a half-precision minimum), the
// same numbers any correct reader gets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmux::engine::kernels {

enum class WeightType : std::uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8,
  q4_k = 12, q5_k = 13, q6_k = 14, bf16 = 30,
};

struct WeightLayout {
  std::string_view name;
  std::uint32_t block_size;  // weights per block
  std::uint32_t block_bytes;
};

// Layout of a supported weight type; nullopt for ggml types this engine cannot compute with.
std::optional<WeightLayout> weight_layout(std::uint32_t ggml_type) noexcept;

// Bytes of one row of `n` weights; `n` must be a multiple of the block size.
std::size_t row_bytes(WeightType type, std::int64_t n) noexcept;

// Writes `n` floats to `dst` from the first n / block_size blocks at `src`. `n` must be a
// multiple of the type's block size (GGUF validation guarantees it for tensor rows).
void dequantize_row(WeightType type, const std::byte* src, float* dst, std::int64_t n) noexcept;

}  // namespace llmux::engine::kernels
