// The 6-bit scales and minimums of Q4_K/Q5_K super-blocks, shared by dequantization and the dot
// products.
#pragma once

#include <cstdint>

namespace llmux::engine::kernels {

// Scale and minimum of sub-block j (0..7) from the 12 packed scale bytes: for j < 4 the low six
// bits of bytes j and j + 4; otherwise four bits of byte j + 4 and the top two bits of bytes
// j - 4 and j.
inline void scale_min_k4(int j, const std::uint8_t* q, int& scale, int& min) noexcept {
  if (j < 4) {
    scale = q[j] & 63;
    min = q[j + 4] & 63;
  } else {
    scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

}  // namespace llmux::engine::kernels
