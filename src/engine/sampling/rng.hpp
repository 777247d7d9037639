// A small seeded pseudo-random generator for sampling: xoshiro256** seeded through splitmix64.
//
// Written out here (not std::mt19937 + std::uniform_real_distribution) so that the same seed
// gives the same draws with every compiler, standard library and platform: the distributions
// of <random> are implementation-defined. Plain value type, no global state, not thread-safe.
#pragma once

#include <array>
#include <cstdint>

namespace llmux::engine::sampling {

// splitmix64: one step. Used to expand a 64-bit seed into xoshiro's 256-bit state and to derive
// deterministic identifiers elsewhere.
constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  state += 0x9E3779B97F4A7C15ull;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit constexpr Rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

  constexpr void reseed(std::uint64_t seed) noexcept {
    std::uint64_t sm = seed;
    for (auto& word : s_) word = splitmix64(sm);
  }

  // The next 64 random bits (xoshiro256**).
  constexpr std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // A uniform double in [0, 1) with 53 random bits (exact: no rounding up to 1).
  constexpr double next_double() noexcept {
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }
  std::array<std::uint64_t, 4> s_{};
};

}  // namespace llmux::engine::sampling
