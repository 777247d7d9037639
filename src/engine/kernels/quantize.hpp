// Quantization of float32 rows into GGUF weight formats (round to nearest, per-block scales).
// Used to write benchmark models and, for the integer dot products, to quantize activations.
// Not llama.cpp's error-minimizing search: simple, deterministic, and within the format's
// resolution (tests bound the round-trip error).
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/kernels/dequant.hpp"

namespace llmux::engine::kernels {

// Writes row_bytes(type, n) bytes for `n` floats (n a multiple of the block size). Supported:
// f32, f16, bf16, q8_0, q4_0, q5_0, q4_1, q5_1, q4_k, q5_k, q6_k; returns false for other types.
bool quantize_row(WeightType type, const float* src, std::byte* dst, std::int64_t n) noexcept;

}  // namespace llmux::engine::kernels
