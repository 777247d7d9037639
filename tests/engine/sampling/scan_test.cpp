// The sampler's row scans (kernels/scan.hpp) against plain loops, on rows with NaN, +-inf and
// ties placed at every offset of a vector and its tail; and the top-k heap they speed up,
// through the sampler's public top_logprobs, against a full sort.
#include "engine/kernels/scan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "engine/sampling/sampler.hpp"

namespace llmux::engine {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kMax = std::numeric_limits<float>::max();

float usable(float v) { return std::isnan(v) ? -kInf : std::min(v, kMax); }

std::int64_t naive_first_max(const std::vector<float>& x) {
  std::int64_t best = -1;
  float m = -kInf;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (usable(x[i]) > m) {
      m = usable(x[i]);
      best = static_cast<std::int64_t>(i);
    }
  }
  return best;
}

std::int64_t naive_next_above(const std::vector<float>& x, std::int64_t begin, float t) {
  for (auto i = static_cast<std::size_t>(begin); i < x.size(); ++i) {
    if (usable(x[i]) > t) return static_cast<std::int64_t>(i);
  }
  return static_cast<std::int64_t>(x.size());
}

// Values from a small set, so that ties are common, with NaN and infinities mixed in.
std::vector<float> row(std::mt19937& rng, std::size_t n) {
  static const float kValues[] = {-kInf, kNaN, -3.0f, -1.0f, 0.0f, 0.5f, 2.0f, 7.0f, kMax, kInf};
  std::uniform_int_distribution<int> pick(0, 9), special(0, 15);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = special(rng) < 4 ? kValues[pick(rng)] : normal(rng);
  return x;
}

TEST(Scan, FirstMaxIndexIsTheFirstLargestUsableValue) {
  std::mt19937 rng(7);
  for (std::size_t n = 0; n <= 70; ++n) {
    for (int rep = 0; rep < 40; ++rep) {
      const auto x = row(rng, n);
      EXPECT_EQ(kernels::first_max_index(x.data(), static_cast<std::int64_t>(n)), naive_first_max(x)) << "n=" << n;
    }
  }
  // The maximum at every offset of a longer row, once alone and once tied with a later copy.
  std::vector<float> x(101, 1.0f);
  for (std::size_t at = 0; at < x.size(); ++at) {
    std::fill(x.begin(), x.end(), 1.0f);
    x[at] = 2.0f;
    EXPECT_EQ(kernels::first_max_index(x.data(), 101), static_cast<std::int64_t>(at));
    x[100] = 2.0f;
    EXPECT_EQ(kernels::first_max_index(x.data(), 101), static_cast<std::int64_t>(at));
  }
  const auto big = row(rng, 151936);
  EXPECT_EQ(kernels::first_max_index(big.data(), 151936), naive_first_max(big));
}

TEST(Scan, InfinityTiesWithTheLargestFloatAndNaNNeverWins) {
  std::vector<float> x(40, kNaN);
  EXPECT_EQ(kernels::first_max_index(x.data(), 40), -1);
  std::fill(x.begin(), x.end(), -kInf);
  x[3] = kNaN;
  EXPECT_EQ(kernels::first_max_index(x.data(), 40), -1);
  x[20] = -1e30f;
  EXPECT_EQ(kernels::first_max_index(x.data(), 40), 20);
  x[25] = kInf;
  x[17] = kMax;  // +inf counts as the largest float: the first of the two wins
  EXPECT_EQ(kernels::first_max_index(x.data(), 40), 17);
  EXPECT_EQ(kernels::first_max_index(x.data(), 0), -1);
}

TEST(Scan, NextAboveFindsTheFirstLaterValueStrictlyAbove) {
  std::mt19937 rng(11);
  const float thresholds[] = {-kInf, -2.0f, 0.0f, 0.5f, 2.0f, 7.0f, kMax, kInf, kNaN};
  for (std::size_t n = 0; n <= 50; ++n) {
    const auto x = row(rng, n);
    for (std::size_t begin = 0; begin <= n; ++begin) {
      for (const float t : thresholds) {
        EXPECT_EQ(kernels::next_above(x.data(), static_cast<std::int64_t>(begin), static_cast<std::int64_t>(n), t),
                  std::isnan(t) ? static_cast<std::int64_t>(n) : naive_next_above(x, static_cast<std::int64_t>(begin), t))
            << "n=" << n << " begin=" << begin << " t=" << t;
      }
    }
  }
}

TEST(Scan, TopKMatchesAFullSortWithTies) {
  std::mt19937 rng(3);
  for (const int n : {5, 37, 1000, 20011}) {
    for (const int k : {1, 2, 8, 40}) {
      if (k > n) continue;
      auto x = row(rng, static_cast<std::size_t>(n));
      sampling::SamplerOptions o;
      o.temperature = 0.0f;
      o.n_logprobs = k;
      x[static_cast<std::size_t>(n / 2)] = 1.0f;  // at least one usable logit
      sampling::Sampler s(o, n);
      const auto r = s.sample(x);
      // Every usable id, best first (ties: lower id), the first k of them.
      std::vector<int> ids;
      for (int i = 0; i < n; ++i) {
        if (usable(x[static_cast<std::size_t>(i)]) != -kInf) ids.push_back(i);
      }
      std::sort(ids.begin(), ids.end(), [&](int a, int b) {
        return usable(x[a]) > usable(x[b]) || (usable(x[a]) == usable(x[b]) && a < b);
      });
      ids.resize(std::min(ids.size(), static_cast<std::size_t>(k)));
      ASSERT_EQ(r.top_logprobs.size(), ids.size()) << "n=" << n << " k=" << k;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(r.top_logprobs[i].first, ids[i]) << "n=" << n << " k=" << k << " rank " << i;
      }
      EXPECT_EQ(r.token, ids[0]);
    }
  }
}

}  // namespace
}  // namespace llmux::engine
