// e^x in float32 for the forward pass (attention's softmax, SwiGLU), vectorized where the CPU
// has AVX2/FMA. Within 1.05 ulp of the exact value (tests; the C library's expf is within
// about 0.5); the scalar and AVX2 versions give the same bits, so a value never depends on
// the CPU path, the batch or the thread that computed it.
#pragma once

#include <cstdint>

namespace llmux::engine::kernels {

float exp_scalar(float x) noexcept;

// The largest of x[0..n-1], n >= 1 (without NaNs: the order of comparisons differs between
// the paths).
float max_of(const float* x, std::int64_t n) noexcept;

// y[i] = e^(x[i] - sub) (x and y may be the same array).
void exp_sub(const float* x, float sub, float* y, std::int64_t n) noexcept;

// out[i] = gate[i] / (1 + e^-gate[i]) * up[i]: SiLU(gate) * up (out may be gate).
void swiglu(const float* gate, const float* up, float* out, std::int64_t n) noexcept;

}  // namespace llmux::engine::kernels
