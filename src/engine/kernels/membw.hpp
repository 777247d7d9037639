// Memory read bandwidth, measured the way the decode roofline needs it: a buffer far larger
// than the caches, read with vector loads by the given number of threads.
#pragma once

#include <cstddef>

#include "engine/kernels/ops.hpp"
#include "engine/kernels/thread_pool.hpp"

namespace llmux::engine::kernels {

// A buffer of `bytes` (rounded down to 4 KiB) allocated like packed weights (PackedBuffer: huge
// pages asked for) and written once by the pool's threads, then read as often as asked: the
// buffer's set-up (the kernel clearing 1 GiB of pages) is paid once, so the bandwidth can be
// sampled between the steps of a measurement.
class ReadBandwidthProbe {
 public:
  explicit ReadBandwidthProbe(ThreadPool& pool, std::size_t bytes = std::size_t{1} << 30);

  // Median over `runs` passes of reading the whole buffer with the pool's threads, in GB/s
  // (1e9 bytes per second).
  double measure(int runs = 3);

 private:
  ThreadPool& pool_;
  PackedBuffer buf_;
  std::int64_t chunks_ = 0;
  std::size_t words_per_chunk_ = 0;
};

}  // namespace llmux::engine::kernels
