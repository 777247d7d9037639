#include "engine/kernels/membw.hpp"

#include "engine/kernels/ops.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "engine/kernels/dot.hpp"

namespace llmux::engine::kernels {
namespace {

std::uint64_t read_scalar(const std::uint64_t* p, std::size_t n) {
  std::uint64_t a = 0, b = 0, c = 0, d = 0;
  for (std::size_t i = 0; i + 4 <= n; i += 4) {
    a ^= p[i];
    b ^= p[i + 1];
    c ^= p[i + 2];
    d ^= p[i + 3];
  }
  return a ^ b ^ c ^ d;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) std::uint64_t read_avx2(const std::uint64_t* p, std::size_t n) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  const auto* v = reinterpret_cast<const __m256i*>(p);
  for (std::size_t i = 0; i + 16 <= n; i += 16) {
    a = _mm256_xor_si256(a, _mm256_load_si256(v + i / 4));
    b = _mm256_xor_si256(b, _mm256_load_si256(v + i / 4 + 1));
    c = _mm256_xor_si256(c, _mm256_load_si256(v + i / 4 + 2));
    d = _mm256_xor_si256(d, _mm256_load_si256(v + i / 4 + 3));
  }
  const __m256i x = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
  return static_cast<std::uint64_t>(_mm256_extract_epi64(x, 0) ^ _mm256_extract_epi64(x, 3));
}
#endif

}  // namespace

ReadBandwidthProbe::ReadBandwidthProbe(ThreadPool& pool, std::size_t bytes)
    : pool_(pool), buf_(std::max<std::size_t>(bytes / 4096 * 4096, 4096)) {
  // Written by the threads that will read it (first touch places pages near them).
  chunks_ = pool.size() * 16;
  words_per_chunk_ = buf_.size() / 8 / static_cast<std::size_t>(chunks_) / 16 * 16;
  auto* raw = reinterpret_cast<std::uint64_t*>(buf_.data());
  const std::size_t per = words_per_chunk_;
  pool.parallel_for(chunks_, [&](std::int64_t c, int) {
    for (std::size_t i = 0; i < per; ++i) raw[static_cast<std::size_t>(c) * per + i] = i * 0x9E37u;
  });
}

double ReadBandwidthProbe::measure(int runs) {
  const auto* raw = reinterpret_cast<const std::uint64_t*>(buf_.data());
  const std::size_t per = words_per_chunk_;
  std::vector<double> gbps;
  std::vector<std::uint64_t> sink(static_cast<std::size_t>(chunks_));
  for (int r = 0; r < std::max(runs, 1); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool_.parallel_for(chunks_, [&](std::int64_t c, int) {
      const std::uint64_t* p = raw + static_cast<std::size_t>(c) * per;
#if defined(__x86_64__)
      sink[static_cast<std::size_t>(c)] = cpu_has_avx2() ? read_avx2(p, per) : read_scalar(p, per);
#else
      sink[static_cast<std::size_t>(c)] = read_scalar(p, per);
#endif
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    gbps.push_back(static_cast<double>(per * 8 * static_cast<std::size_t>(chunks_)) / s / 1e9);
  }
  std::sort(gbps.begin(), gbps.end());
  volatile std::uint64_t keep = 0;
  for (auto v : sink) keep = keep ^ v;
  return gbps[gbps.size() / 2];
}

}  // namespace llmux::engine::kernels
