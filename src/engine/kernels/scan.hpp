// Scans over a row of logits for the sampler (sampling/sampler.cpp): the greedy argmax and the
// skip over values that cannot enter a top-k heap. One row is the whole vocabulary (152k
// floats for Qwen2.5), scanned once per sequence and step, on the scheduler's thread; vectorized
// where the CPU has AVX2.
//
// Both see a logit as the sampler does: NaN is -infinity (never chosen, never above anything)
// and +infinity is the largest finite float (so that softmax stays defined). The results are
// indices, the same on every path.
#pragma once

#include <cstdint>

namespace llmux::engine::kernels {

// The first index of the largest value of x[0..n), or -1 when every value is -inf or NaN.
std::int64_t first_max_index(const float* x, std::int64_t n) noexcept;

// The first index i in [begin, n) whose value is > threshold, or n when there is none.
std::int64_t next_above(const float* x, std::int64_t begin, std::int64_t n, float threshold) noexcept;

}  // namespace llmux::engine::kernels
