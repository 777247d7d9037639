// Memory read bandwidth, measured the way the decode roofline needs it: a buffer far larger
// than the caches, read with vector loads by the given number of threads.
#pragma once

#include <cstddef>

#include "engine/kernels/thread_pool.hpp"

namespace llmux::engine::kernels {

// Median over `runs` passes of reading `bytes` (rounded down to 4 KiB) with the pool's threads,
// in GB/s (1e9 bytes per second). The buffer is allocated like packed weights (PackedBuffer:
// huge pages asked for) and written once before timing.
double measure_read_bandwidth(ThreadPool& pool, std::size_t bytes = std::size_t{1} << 30,
                              int runs = 5);

}  // namespace llmux::engine::kernels
