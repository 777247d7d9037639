// The dot-product kernels: each AVX2 kernel against the scalar reference (bit-identical for the
// K-quants, float rounding for the others), the integer paths against float
// arithmetic on the dequantized weights, and matmul's batch-size invariance.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "engine/kernels/dot.hpp"
#include "engine/kernels/ops.hpp"
#include "engine/kernels/quantize.hpp"
#include "engine/kernels/thread_pool.hpp"

namespace llmux::test {
namespace {

namespace k = engine::kernels;
using k::WeightType;

const WeightType kAllTypes[] = {WeightType::f32,  WeightType::f16,  WeightType::bf16,
                                WeightType::q8_0, WeightType::q4_0, WeightType::q4_1,
                                WeightType::q5_0, WeightType::q5_1, WeightType::q4_k,
                                WeightType::q5_k, WeightType::q6_k};

std::string name_of(WeightType t) {
  return std::string(k::weight_layout(static_cast<std::uint32_t>(t))->name);
}

// Random weights stored as `type` (Q4_1/Q5_1 from the bytes of a random Q4_0/Q5_0 row with a
// random minimum, since there is no quantizer for them).
std::vector<std::byte> random_row(WeightType type, std::int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = normal(rng);
  std::vector<std::byte> out(k::row_bytes(type, n));
  if (type == WeightType::q4_1 || type == WeightType::q5_1) {
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : out) b = static_cast<std::byte>(byte(rng));
    const int block = type == WeightType::q4_1 ? 20 : 24;
    for (std::size_t i = 0; i < out.size(); i += block) {  // sane half scales: 0x2000..0x2fff
      out[i + 1] = static_cast<std::byte>(0x20 | (byte(rng) & 0x0F));
      out[i + 3] = static_cast<std::byte>(0xA0 | (byte(rng) & 0x0F));
    }
    return out;
  }
  EXPECT_TRUE(k::quantize_row(type, x.data(), out.data(), n)) << name_of(type);
  return out;
}

std::vector<float> random_floats(std::int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = normal(rng);
  return x;
}

// Runs a dot function on float activations, quantizing them as the type requires.
float run_dot(k::DotFn fn, WeightType type, const std::byte* w, const std::vector<float>& x) {
  const auto n = static_cast<std::int64_t>(x.size());
  switch (k::act_kind(type)) {
    case k::ActKind::q8: {
      std::vector<k::ActQ8> a(static_cast<std::size_t>(n / 32));
      k::quantize_act_q8(x.data(), a.data(), n);
      return fn(w, a.data(), n);
    }
    case k::ActKind::q8k: {
      std::vector<k::ActQ8K> a(static_cast<std::size_t>(n / 256));
      k::quantize_act_q8k(x.data(), a.data(), n);
      return fn(w, a.data(), n);
    }
    default: return fn(w, x.data(), n);
  }
}

TEST(Dot, Avx2EqualsScalarReference) {
  if (!k::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2/FMA/F16C";
  std::mt19937 rng(17);
  for (WeightType type : kAllTypes) {
    const std::int64_t block = k::weight_layout(static_cast<std::uint32_t>(type))->block_size;
    const std::int64_t unit = std::max<std::int64_t>(block, 32);
    for (std::int64_t blocks : {1, 3, 7, 13}) {  // odd sizes; f32/f16 get a tail too
      const std::int64_t n = unit * blocks + (block == 1 ? 5 : 0);
      const auto w = random_row(type, n, rng);
      const auto x = random_floats(n, rng);
      const float scalar = run_dot(k::dot_function_scalar(type), type, w.data(), x);
      const float simd = run_dot(k::dot_function_avx2(type), type, w.data(), x);
      if (k::act_kind(type) != k::ActKind::q8k) {  // float lanes: rounding differs
        EXPECT_NEAR(simd, scalar, 1e-5 * (std::fabs(scalar) + std::sqrt(static_cast<double>(n))))
            << name_of(type) << " n=" << n;
      } else {
        EXPECT_EQ(simd, scalar) << name_of(type) << " n=" << n;
      }
    }
  }
}

TEST(Dot, IntegerPathsApproximateFloatArithmetic) {
  std::mt19937 rng(5);
  for (WeightType type : kAllTypes) {
    const std::int64_t n = 1024;
    const auto w = random_row(type, n, rng);
    const auto x = random_floats(n, rng);
    std::vector<float> wf(static_cast<std::size_t>(n));
    k::dequantize_row(type, w.data(), wf.data(), n);
    double exact = 0, norm = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      exact += static_cast<double>(wf[i]) * x[i];
      norm += std::fabs(static_cast<double>(wf[i]) * x[i]);
    }
    const float got = run_dot(k::dot_function(type), type, w.data(), x);
    // 8-bit activations: about 1/254 of each term's size, mostly cancelling.
    EXPECT_NEAR(got, exact, 5e-3 * norm) << name_of(type);
  }
}

// Every tile of 1..kTileRows rows x 1..max_t tokens of `type` on the rows at w (rb bytes
// apart) and the tokens at act + j * act_stride: each pair equals the type's dot exactly, and
// nothing outside the tile is written.
void expect_tiles_equal_dots(WeightType type, const std::byte* w, std::size_t rb, const std::byte* act,
                             std::size_t act_stride, std::int64_t n, int max_t) {
  for (int r = 1; r <= k::kTileRows; ++r) {
    for (int t = 1; t <= max_t; ++t) {
      const k::TileFn tile = k::tile_function(type, r, t);
      ASSERT_NE(tile, nullptr) << name_of(type);
      std::vector<float> y(static_cast<std::size_t>(max_t * k::kTileRows), -1.0f);
      tile(w, rb, act, act_stride, n, y.data(), k::kTileRows);
      for (int i = 0; i < k::kTileRows; ++i) {
        for (int j = 0; j < max_t; ++j) {
          const float got = y[static_cast<std::size_t>(j * k::kTileRows + i)];
          if (i >= r || j >= t) {
            EXPECT_EQ(got, -1.0f) << "written outside the tile";
            continue;
          }
          const float want = k::dot_function(type)(w + i * rb, act + j * act_stride, n);
          EXPECT_EQ(got, want) << name_of(type) << " n=" << n << " tile " << r << "x" << t;
        }
      }
    }
  }
}

TEST(Dot, RegisterTilesEqualTheDotOfEveryPair) {
  if (!k::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2/FMA/F16C";
  std::mt19937 rng(29);
  for (WeightType type : {WeightType::q8_0, WeightType::q4_0, WeightType::q5_0, WeightType::q4_k,
                          WeightType::q5_k}) {
    const bool kquant = k::act_kind(type) == k::ActKind::q8k;
    for (std::int64_t blocks : {1, 3, 7, 28}) {
      const std::int64_t n = (kquant ? 256 : 32) * blocks;
      const std::size_t rb = k::row_bytes(type, n);
      std::vector<std::byte> w;
      for (int r = 0; r < k::kTileRows; ++r) {
        const auto row = random_row(type, n, rng);
        w.insert(w.end(), row.begin(), row.end());
      }
      const std::size_t as =
          static_cast<std::size_t>(blocks) * (kquant ? sizeof(k::ActQ8K) : sizeof(k::ActQ8));
      std::vector<std::byte> act(as * k::kTileTokens);
      for (int t = 0; t < k::kTileTokens; ++t) {
        const auto x = random_floats(n, rng);
        if (kquant) {
          k::quantize_act_q8k(x.data(), reinterpret_cast<k::ActQ8K*>(act.data() + t * as), n);
        } else {
          k::quantize_act_q8(x.data(), reinterpret_cast<k::ActQ8*>(act.data() + t * as), n);
        }
      }
      expect_tiles_equal_dots(type, w.data(), rb, act.data(), as, n, k::kTileTokens);
    }
  }
  EXPECT_EQ(k::tile_function(WeightType::q6_k, 1, 1), nullptr);
  EXPECT_EQ(k::tile_function(WeightType::q8_0, k::kTileRows + 1, 1), nullptr);
}

TEST(Dot, FloatRegisterTilesEqualTheDotOfEveryPair) {
  if (!k::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2/FMA/F16C";
  std::mt19937 rng(31);
  for (WeightType type : {WeightType::f32, WeightType::f16, WeightType::bf16}) {
    const int max_t = k::tile_tokens(type);
    for (std::int64_t n : {1, 7, 8, 15, 16, 17, 33, 100, 896}) {  // the tails of every step
      const std::size_t rb = k::row_bytes(type, n);
      std::vector<std::byte> w;
      for (int r = 0; r < k::kTileRows; ++r) {
        const auto row = random_row(type, n, rng);
        w.insert(w.end(), row.begin(), row.end());
      }
      const std::size_t stride = static_cast<std::size_t>(n) + 3;  // floats per token, padded
      std::vector<float> x(stride * static_cast<std::size_t>(max_t));
      for (auto& v : x) v = std::normal_distribution<float>(0.0f, 1.0f)(rng);
      const auto* act = reinterpret_cast<const std::byte*>(x.data());
      expect_tiles_equal_dots(type, w.data(), rb, act, stride * sizeof(float), n, max_t);
    }
    EXPECT_EQ(k::tile_function(type, 1, max_t + 1), nullptr) << name_of(type);
  }
  EXPECT_EQ(k::tile_tokens(WeightType::f16), 3);
  EXPECT_EQ(k::tile_tokens(WeightType::bf16), k::kTileTokens);
}

// Activations for the quantizers' tests: random, block 0 all zero, and in block 1 one huge
// value (every other value of its block rounds to 0) and an exactly halfway case (to even).
std::vector<float> activation_test_input(std::int64_t block, std::int64_t blocks, std::mt19937& rng) {
  auto x = random_floats(block * blocks, rng);
  std::fill(x.begin(), x.begin() + block, 0.0f);
  if (blocks > 1) {
    const auto at = static_cast<std::size_t>(block + 8);
    x[at] = 1e30f;
    x[at + 1] = -0.5f * 1e30f;
    x[at + 2] = 1.5f * 1e30f / 127.0f;
  }
  return x;
}

TEST(Dot, Avx2ActivationQuantizationEqualsTheScalarReference) {
  if (!k::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2/FMA/F16C";
  std::mt19937 rng(37);
  for (std::int64_t blocks : {1, 2, 5, 28}) {
    const std::int64_t n = 32 * blocks;
    const auto x = activation_test_input(32, blocks, rng);
    std::vector<k::ActQ8> a(static_cast<std::size_t>(blocks)), b(a.size());
    k::quantize_act_q8_scalar(x.data(), a.data(), n);
    k::quantize_act_q8_avx2(x.data(), b.data(), n);
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].d, b[i].d) << "block " << i;
      EXPECT_EQ(a[i].sum, b[i].sum) << "block " << i;
      EXPECT_EQ(a[i].qsum, b[i].qsum) << "block " << i;
      for (int j = 0; j < 32; ++j) ASSERT_EQ(a[i].q[j], b[i].q[j]) << "block " << i << " value " << j;
    }
  }
}

TEST(Dot, Avx2SuperBlockActivationQuantizationEqualsTheScalarReference) {
  if (!k::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2/FMA/F16C";
  std::mt19937 rng(41);
  for (std::int64_t blocks : {1, 2, 19}) {
    const std::int64_t n = 256 * blocks;
    auto x = activation_test_input(256, blocks, rng);
    if (blocks > 2) {  // a sum of 16 that is exactly 0
      for (std::int64_t i = 512; i < 528; ++i) x[static_cast<std::size_t>(i)] = i % 2 ? -4.0f : 4.0f;
    }
    std::vector<k::ActQ8K> a(static_cast<std::size_t>(blocks)), b(a.size());
    k::quantize_act_q8k_scalar(x.data(), a.data(), n);
    k::quantize_act_q8k_avx2(x.data(), b.data(), n);
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].d, b[i].d) << "block " << i;
      for (int s = 0; s < 16; ++s) EXPECT_EQ(a[i].bsums[s], b[i].bsums[s]) << "block " << i << " sum " << s;
      for (int j = 0; j < 256; ++j) ASSERT_EQ(a[i].q[j], b[i].q[j]) << "block " << i << " value " << j;
    }
  }
}

TEST(Dot, PackedRowsEqualTheScalarReferenceExactly) {
  if (!k::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2/FMA/F16C";
  std::mt19937 rng(31);
  std::uniform_int_distribution<int> byte(0, 255);
  for (WeightType type : {WeightType::q8_0, WeightType::q4_0, WeightType::q5_0, WeightType::q4_1,
                          WeightType::q5_1, WeightType::q6_k, WeightType::q4_k, WeightType::q5_k})
  for (std::int64_t blocks : {1, 3, 7, 28}) {
    const bool kquant = type == WeightType::q6_k || type == WeightType::q4_k || type == WeightType::q5_k;
    const std::int64_t n = (kquant ? 256 : 32) * blocks;
    const std::size_t rb = k::row_bytes(type, n);
    std::vector<std::byte> w;
    for (int r = 0; r < k::kPackRows; ++r) {
      auto row = random_row(type, n, rng);
      // Hostile files may hold -128, which no quantizer writes: it must still be exact.
      if (type == WeightType::q8_0 && r == 3) row[2 + static_cast<std::size_t>(byte(rng)) % 32] = std::byte{0x80};
      w.insert(w.end(), row.begin(), row.end());
    }
    std::vector<std::byte> packed(k::packed_group_bytes(type, n));
    ASSERT_FALSE(packed.empty());
    k::pack_rows(type, w.data(), rb, n, packed.data());
    const std::size_t as = static_cast<std::size_t>(blocks) * (kquant ? sizeof(k::ActQ8K) : sizeof(k::ActQ8));
    std::vector<std::byte> act(as * k::kPackedTokens);
    for (int t = 0; t < k::kPackedTokens; ++t) {
      const auto x = random_floats(n, rng);
      if (kquant) {
        k::quantize_act_q8k(x.data(), reinterpret_cast<k::ActQ8K*>(act.data() + t * as), n);
      } else {
        k::quantize_act_q8(x.data(), reinterpret_cast<k::ActQ8*>(act.data() + t * as), n);
      }
    }
    // Q4_0, Q5_0, Q4_1, Q5_1 and Q6_K are packed compact and expanded for several tokens.
    const bool compact = type == WeightType::q4_0 || type == WeightType::q5_0 || type == WeightType::q4_1 ||
                         type == WeightType::q5_1 || type == WeightType::q6_k;
    if (compact) {  // the file's bytes (Q6_K: its scales twice, 1.08x)
      EXPECT_EQ(packed.size(), type == WeightType::q6_k ? k::kPackRows * rb + 128 * blocks : k::kPackRows * rb)
          << name_of(type);
    }
    if (type == WeightType::q4_k || type == WeightType::q5_k) {  // 6-bit scales and minimums
      // as bytes: 1184 for 8 x 144, 1440 for 8 x 176
      EXPECT_EQ(packed.size(), k::kPackRows * rb + 32 * blocks);
    }
    std::vector<std::byte> expanded(k::packed_expanded_bytes(type, n));
    EXPECT_EQ(expanded.empty(), !compact) << name_of(type);
    if (!expanded.empty()) k::expand_packed(type, packed.data(), n, expanded.data());
    const k::DotFn reference = k::dot_function_scalar(type);
    for (bool expand : {false, true}) {
      if (expand && expanded.empty()) {
        EXPECT_EQ(k::expanded_tile_function(type, 1), nullptr) << name_of(type);
        continue;
      }
      for (int t = 1; t <= k::kPackedTokens; ++t) {
        const k::PackedTileFn kernel =
            expand ? k::expanded_tile_function(type, t) : k::packed_tile_function(type, t);
        ASSERT_NE(kernel, nullptr);
        std::vector<float> y(static_cast<std::size_t>(k::kPackedTokens * k::kPackRows), -1.0f);
        kernel(expand ? expanded.data() : packed.data(), act.data(), as, n, y.data(), k::kPackRows);
        for (int j = 0; j < k::kPackedTokens; ++j) {
          for (int i = 0; i < k::kPackRows; ++i) {
            const float got = y[static_cast<std::size_t>(j * k::kPackRows + i)];
            if (j >= t) {
              EXPECT_EQ(got, -1.0f) << "written past the tokens";
              continue;
            }
            EXPECT_EQ(got, reference(w.data() + i * rb, act.data() + j * as, n))
                << name_of(type) << " n=" << n << " tokens " << t << " row " << i << " token " << j
                << (expand ? " expanded" : "");
          }
        }
      }
    }
  }
  EXPECT_EQ(k::packed_tile_function(WeightType::f16, 1), nullptr);
  EXPECT_EQ(k::packed_group_bytes(WeightType::f16, 256), 0u);
}

// The kernels add maddubs lanes in int16 before widening them (8 slices of 4-bit values, 4 of
// 5-bit, 2 of 6-bit): exact only because each lane's bound times the slices stays below 32768.
// Every stored value at its largest against activations of +-127 is the case that would wrap.
TEST(Dot, PackedKernelsAreExactAtTheLargestValues) {
  if (!k::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2/FMA/F16C";
  const auto half_one = [](std::byte* p) { p[0] = std::byte{0x00}; p[1] = std::byte{0x3C}; };
  for (WeightType type : {WeightType::q8_0, WeightType::q4_0, WeightType::q5_0, WeightType::q4_1,
                          WeightType::q5_1, WeightType::q6_k, WeightType::q4_k, WeightType::q5_k}) {
    const bool kquant = type == WeightType::q6_k || type == WeightType::q4_k || type == WeightType::q5_k;
    const std::int64_t blocks = 3, n = (kquant ? 256 : 32) * blocks;
    const std::size_t rb = k::row_bytes(type, n), block = rb / static_cast<std::size_t>(blocks);
    // All bits set: Q4_0 and Q4_1 15, Q5_0 and Q5_1 31, Q4_K 15 and Q5_K 31 with scales and
    // minimums 63, Q6_K 63.
    std::vector<std::byte> w(rb * k::kPackRows, std::byte{0xFF});
    for (std::size_t b = 0; b < w.size(); b += block) {
      if (type == WeightType::q6_k) {
        std::memset(&w[b + 192], 0x7F, 16);  // int8 sub-block scales, largest positive
        half_one(&w[b + 208]);
      } else {
        half_one(&w[b]);
        // Q4_K's and Q5_K's dmin, Q4_1's and Q5_1's minimum
        if (type == WeightType::q4_k || type == WeightType::q5_k || type == WeightType::q4_1 ||
            type == WeightType::q5_1) {
          half_one(&w[b + 2]);
        }
        if (type == WeightType::q8_0) std::memset(&w[b + 2], 0x7F, 32);
      }
    }
    std::vector<std::byte> packed(k::packed_group_bytes(type, n));
    k::pack_rows(type, w.data(), rb, n, packed.data());
    std::vector<std::byte> expanded(k::packed_expanded_bytes(type, n));
    if (!expanded.empty()) k::expand_packed(type, packed.data(), n, expanded.data());
    const std::size_t as = static_cast<std::size_t>(blocks) * (kquant ? sizeof(k::ActQ8K) : sizeof(k::ActQ8));
    std::vector<std::byte> act(as * k::kPackedTokens);
    for (int t = 0; t < k::kPackedTokens; ++t) {  // +127 everywhere, then -127
      const std::vector<float> x(static_cast<std::size_t>(n), t == 0 ? 1.0f : -1.0f);
      if (kquant) {
        k::quantize_act_q8k(x.data(), reinterpret_cast<k::ActQ8K*>(act.data() + t * as), n);
      } else {
        k::quantize_act_q8(x.data(), reinterpret_cast<k::ActQ8*>(act.data() + t * as), n);
      }
    }
    const k::DotFn reference = k::dot_function_scalar(type);
    for (bool expand : {false, true}) {
      if (expand && expanded.empty()) continue;
      for (int t = 1; t <= k::kPackedTokens; ++t) {
        const k::PackedTileFn kernel =
            expand ? k::expanded_tile_function(type, t) : k::packed_tile_function(type, t);
        ASSERT_NE(kernel, nullptr) << name_of(type);
        std::vector<float> y(static_cast<std::size_t>(k::kPackedTokens * k::kPackRows));
        kernel(expand ? expanded.data() : packed.data(), act.data(), as, n, y.data(), k::kPackRows);
        for (int j = 0; j < t; ++j) {
          const float want = reference(w.data(), act.data() + j * as, n);
          EXPECT_NE(want, 0.0f);
          for (int i = 0; i < k::kPackRows; ++i) {
            EXPECT_EQ(y[static_cast<std::size_t>(j * k::kPackRows + i)], want)
                << name_of(type) << " tokens " << t << " row " << i << " token " << j
                << (expand ? " expanded" : "");
          }
        }
      }
    }
  }
}

TEST(Dot, MatmulRowsDoNotDependOnBatchSize) {
  std::mt19937 rng(23);
  k::ThreadPool pool(2);
  for (WeightType type : {WeightType::q8_0, WeightType::q4_k, WeightType::q5_k, WeightType::q6_k,
                          WeightType::q5_0, WeightType::q4_0, WeightType::q4_1, WeightType::q5_1,
                          WeightType::f16, WeightType::f32, WeightType::bf16}) {
    const std::int64_t cols = 512, rows = 37;
    std::vector<std::byte> data;
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto row = random_row(type, cols, rng);
      data.insert(data.end(), row.begin(), row.end());
    }
    k::Matrix m{type, cols, rows, k::row_bytes(type, cols), data.data()};
    // Q8_0/Q4_0/Q5_0 packed where the CPU has the kernel: 4 packed groups and 5 rows past them.
    const k::PackedBuffer packed = k::pack_matrix(m);
    const bool packable = type == WeightType::q8_0 || type == WeightType::q4_0 ||
                          type == WeightType::q5_0 || type == WeightType::q6_k ||
                          type == WeightType::q4_k || type == WeightType::q5_k ||
                          type == WeightType::q4_1 || type == WeightType::q5_1;
    EXPECT_EQ(m.packed != nullptr, packable && k::cpu_has_avx2()) << name_of(type);
    const auto x = random_floats(33 * cols, rng);
    for (bool integer : {true, false}) {
      k::MatmulScratch scratch;
      std::vector<float> alone(static_cast<std::size_t>(33 * rows));
      for (std::int64_t t = 0; t < 33; ++t) {
        k::matmul(m, x.data() + t * cols, 1, cols, alone.data() + t * rows, rows, integer, scratch,
                  pool);
      }
      if (m.packed && integer) {  // packed rows: the scalar reference, exactly
        std::vector<k::ActQ8> act(static_cast<std::size_t>(cols / 32));
        std::vector<k::ActQ8K> act_k(static_cast<std::size_t>(cols / 256));
        const bool kquant = k::act_kind(type) == k::ActKind::q8k;
        for (std::int64_t t = 0; t < 33; ++t) {
          if (kquant) {
            k::quantize_act_q8k(x.data() + t * cols, act_k.data(), cols);
          } else {
            k::quantize_act_q8(x.data() + t * cols, act.data(), cols);
          }
          const void* a = kquant ? static_cast<const void*>(act_k.data()) : act.data();
          for (std::int64_t r = 0; r < rows / k::kPackRows * k::kPackRows; ++r) {
            ASSERT_EQ(alone[static_cast<std::size_t>(t * rows + r)],
                      k::dot_function_scalar(type)(m.row(r), a, cols))
                << "token " << t << " row " << r;
          }
        }
      }
      for (std::int64_t batch = 1; batch <= 33; ++batch) {
        std::vector<float> y(static_cast<std::size_t>(batch * rows));
        k::matmul(m, x.data(), batch, cols, y.data(), rows, integer, scratch, pool);
        for (std::int64_t i = 0; i < batch * rows; ++i) {
          ASSERT_EQ(y[i], alone[i]) << name_of(type) << " batch " << batch << " integer " << integer;
        }
      }
    }
  }
}

}  // namespace
}  // namespace llmux::test

namespace llmux::test {
namespace {

TEST(Dot, AxpyAvx2EqualsScalar) {
  if (!k::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2/FMA/F16C";
  std::mt19937 rng(29);
  for (WeightType type : {WeightType::f32, WeightType::f16}) {
    for (std::int64_t n : {1, 7, 64, 131}) {
      const auto src = random_floats(n, rng);
      std::vector<std::byte> x(k::row_bytes(type, n));
      k::quantize_row(type, src.data(), x.data(), n);
      auto y1 = random_floats(n, rng);
      auto y2 = y1;
      k::axpy_function_scalar(type)(0.37f, x.data(), y1.data(), n);
      k::axpy_function(type)(0.37f, x.data(), y2.data(), n);
      EXPECT_EQ(y1, y2) << name_of(type) << " n=" << n;
    }
  }
}

TEST(Dot, MatmulManyEqualsOneMatmulPerMatrix) {
  std::mt19937 rng(41);
  k::ThreadPool pool(2);
  const std::int64_t cols = 512;
  // Same kind of activations (Q8_0 packed, Q5_0 tiled, Q4_0), then a mix that needs separate
  // quantizations (Q8_0 with Q4_K) and float weights.
  const std::vector<std::vector<WeightType>> sets = {
      {WeightType::q8_0, WeightType::q5_0, WeightType::q4_0},
      {WeightType::q8_0, WeightType::q4_k},
      {WeightType::f16, WeightType::f16}};
  for (const auto& types : sets) {
    std::vector<std::vector<std::byte>> data;
    std::vector<k::Matrix> ms;
    std::vector<k::PackedBuffer> packed;
    const std::int64_t rows_of[] = {40, 13, 128};
    for (std::size_t i = 0; i < types.size(); ++i) {
      std::vector<std::byte> d;
      for (std::int64_t r = 0; r < rows_of[i]; ++r) {
        const auto row = random_row(types[i], cols, rng);
        d.insert(d.end(), row.begin(), row.end());
      }
      data.push_back(std::move(d));
    }
    for (std::size_t i = 0; i < types.size(); ++i) {
      ms.push_back(k::Matrix{types[i], cols, rows_of[i], k::row_bytes(types[i], cols), data[i].data()});
      packed.push_back(k::pack_matrix(ms.back()));
    }
    for (std::int64_t n_tokens : {1, 3, 17}) {
      const auto x = random_floats(n_tokens * cols, rng);
      for (bool integer : {true, false}) {
        k::MatmulScratch scratch;
        std::vector<std::vector<float>> one(types.size()), many(types.size());
        std::vector<k::MatmulOut> outs;
        for (std::size_t i = 0; i < types.size(); ++i) {
          one[i].assign(static_cast<std::size_t>(n_tokens * rows_of[i]), 0.0f);
          many[i].assign(one[i].size(), -7.0f);
          k::matmul(ms[i], x.data(), n_tokens, cols, one[i].data(), rows_of[i], integer, scratch, pool);
          outs.push_back({&ms[i], many[i].data(), rows_of[i]});
        }
        k::matmul_many(outs, x.data(), n_tokens, cols, integer, scratch, pool);
        for (std::size_t i = 0; i < types.size(); ++i) {
          EXPECT_EQ(one[i], many[i]) << name_of(types[i]) << " tokens " << n_tokens << " integer " << integer;
        }
      }
    }
  }
}

TEST(Dot, AttentionRunsEqualTheRowByRowDotsAndAxpys) {
  // Every head count of a KV group (pairs and an odd last head), runs of whole 8-row blocks and
  // leftover rows, head sizes with and without the vector paths.
  std::mt19937 rng(43);
  for (WeightType type : {WeightType::f32, WeightType::f16}) {
    for (std::int64_t dim : {8, 24, 48, 64, 80, 128, 200}) {
      for (std::int64_t heads : {1, 2, 3, 4, 7}) {
        for (std::int64_t rows : {1, 7, 8, 16, 37}) {
          const std::size_t stride = k::row_bytes(type, dim) + 64;  // rows spaced like a cache's
          std::vector<std::byte> cache(stride * rows);
          for (std::int64_t j = 0; j < rows; ++j) {
            const auto v = random_floats(dim, rng);
            k::quantize_row(type, v.data(), cache.data() + j * stride, dim);
          }
          const auto q = random_floats(dim * heads, rng);
          const std::int64_t s_stride = rows + 3;
          std::vector<float> want(s_stride * heads, -1.0f), got(s_stride * heads, -1.0f);
          for (std::int64_t h = 0; h < heads; ++h) {
            for (std::int64_t j = 0; j < rows; ++j) {
              want[h * s_stride + j] =
                  k::dot_function(type)(cache.data() + j * stride, q.data() + h * dim, dim) * 0.125f;
            }
          }
          k::scores_function(type)(q.data(), heads, cache.data(), stride, rows, dim, 0.125f,
                                   got.data(), s_stride);
          const std::string what = std::string(name_of(type)) + " dim " + std::to_string(dim) +
                                   " heads " + std::to_string(heads) + " rows " + std::to_string(rows);
          EXPECT_EQ(want, got) << what;
          auto out_want = random_floats(dim * heads, rng);
          auto out_got = out_want;
          for (std::int64_t h = 0; h < heads; ++h) {
            for (std::int64_t j = 0; j < rows; ++j) {
              k::axpy_function(type)(want[h * s_stride + j], cache.data() + j * stride,
                                     out_want.data() + h * dim, dim);
            }
          }
          k::weighted_sum_function(type)(want.data(), s_stride, heads, cache.data(), stride, rows,
                                         dim, out_got.data());
          EXPECT_EQ(out_want, out_got) << what;
        }
      }
    }
  }
}

TEST(ThreadPool, EveryIndexRunsExactlyOnceForAnySizeAndPool) {
  for (int threads : {1, 2, 3, 5}) {
    k::ThreadPool pool(threads);
    for (std::int64_t n : {1, 2, 3, 4, 5, 7, 16, 33, 100, 1001}) {
      std::vector<std::atomic<int>> calls(static_cast<std::size_t>(n));
      std::atomic<bool> bad_worker{false};
      for (int round = 0; round < 3; ++round) {
        pool.parallel_for(n, [&](std::int64_t i, int worker) {
          if (worker < 0 || worker >= threads) bad_worker = true;
          calls[static_cast<std::size_t>(i)].fetch_add(1);
        });
      }
      EXPECT_FALSE(bad_worker);
      for (std::int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(calls[static_cast<std::size_t>(i)].load(), 3) << threads << " threads, n " << n << ", i " << i;
      }
    }
  }
}

TEST(ThreadPool, OthersTakeOverTheShareOfAStalledThread) {
  // Worker 1 stalls on its first index; the caller finishes its own share and then the rest
  // of worker 1's, so the call takes about one stall, not half the indices times the stall.
  k::ThreadPool pool(2);
  constexpr std::int64_t n = 200;
  std::atomic<int> by_caller{0};
  std::atomic<bool> stalled{false};
  pool.parallel_for(n, [&](std::int64_t, int worker) {
    if (worker == 0) {
      by_caller.fetch_add(1);
    } else if (!stalled.exchange(true)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  EXPECT_GE(by_caller.load(), n / 2 + n / 4);
}

// Distance of f from the exact value in units of the float spacing at the exact value.
double ulps(float f, double exact) {
  if (std::isinf(exact) || exact > 3.4028234663852886e38) return std::isinf(f) ? 0 : 1e9;
  const double a = std::fabs(exact);
  const double spacing = a < 1.1754943508222875e-38 ? std::ldexp(1.0, -149)
                                                    : std::ldexp(1.0, std::ilogb(a) - 23);
  return std::fabs(static_cast<double>(f) - exact) / spacing;
}

TEST(Exp, WithinOneUlpOfTheExactValueOverTheWholeRange) {
  double worst = 0;
  float worst_x = 0;
  std::int64_t checked = 0;
  // Every 251st float from -105 to +90 (negative floats counting up from -105 by bit pattern),
  // across the subnormal results below -87.3 and the overflow above 88.72.
  const auto sweep = [&](float from, float to) {
    std::uint32_t a, b;
    std::memcpy(&a, &from, 4);
    std::memcpy(&b, &to, 4);
    for (std::uint32_t bits = std::min(a, b); bits <= std::max(a, b); bits += 251) {
      float x;
      std::memcpy(&x, &bits, 4);
      const double e = ulps(k::exp_scalar(x), std::exp(static_cast<double>(x)));
      ++checked;
      if (e > worst) worst = e, worst_x = x;
    }
  };
  sweep(-0.0f, -105.0f);
  sweep(0.0f, 90.0f);
  EXPECT_GT(checked, 8'000'000);
  // Measured worst: 1.032 ulp (the rounding of the reduced argument, then of the last sum).
  EXPECT_LE(worst, 1.05) << "at x = " << worst_x;
  EXPECT_EQ(k::exp_scalar(0.0f), 1.0f);
  EXPECT_EQ(k::exp_scalar(-0.0f), 1.0f);
  EXPECT_EQ(k::exp_scalar(1.0f), std::exp(1.0f));
  EXPECT_EQ(k::exp_scalar(-INFINITY), 0.0f);
  EXPECT_EQ(k::exp_scalar(-200.0f), 0.0f);
  EXPECT_EQ(k::exp_scalar(INFINITY), INFINITY);
  EXPECT_EQ(k::exp_scalar(89.0f), INFINITY);
  EXPECT_EQ(k::exp_scalar(88.7f), std::exp(88.7f));
  EXPECT_TRUE(std::isnan(k::exp_scalar(NAN)));
  EXPECT_GT(k::exp_scalar(-100.0f), 0.0f);  // subnormal, not flushed
}

TEST(Exp, VectorPathsGiveTheScalarBits) {
  std::mt19937 rng(43);
  std::uniform_real_distribution<float> wide(-110.0f, 95.0f), narrow(-20.0f, 20.0f);
  std::vector<float> x(1003), gate(1003), up(1003);
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = i % 2 ? wide(rng) : narrow(rng);
    gate[i] = narrow(rng) * 2;
    up[i] = narrow(rng);
  }
  x[5] = NAN, x[6] = INFINITY, x[7] = -INFINITY, x[8] = -0.0f, gate[9] = NAN, gate[10] = -100.0f;
  const auto same = [](float a, float b) { return std::memcmp(&a, &b, 4) == 0; };
  for (std::int64_t n : {1, 7, 8, 9, 1003}) {
    std::vector<float> y(static_cast<std::size_t>(n));
    k::exp_sub(x.data(), 1.5f, y.data(), n);
    std::vector<float> s(static_cast<std::size_t>(n));
    k::swiglu(gate.data(), up.data(), s.data(), n);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto u = static_cast<std::size_t>(i);
      ASSERT_TRUE(same(y[u], k::exp_scalar(x[u] - 1.5f))) << "x = " << x[u] << " n = " << n;
      const float silu = gate[u] / (1.0f + k::exp_scalar(0.0f - gate[u])) * up[u];
      ASSERT_TRUE(same(s[u], silu) || (std::isnan(s[u]) && std::isnan(silu))) << "gate = " << gate[u];
    }
  }
  for (std::int64_t n : {1, 2, 8, 9, 17, 1000}) {
    const std::vector<float> v(up.begin(), up.begin() + n);
    EXPECT_EQ(k::max_of(v.data(), n), *std::max_element(v.begin(), v.end())) << "n = " << n;
  }
  std::vector<float> p = {1.0f, 2.0f, 3.0f, -INFINITY};
  k::softmax(p.data(), 4);
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0f, 1e-6);
  EXPECT_NEAR(p[2] / p[1], std::exp(1.0), 1e-6);
  EXPECT_EQ(p[3], 0.0f);
}

TEST(PackedBuffer, LargeBuffersStartOnAHugePageBoundaryAndAreWholeAndZeroed) {
  for (std::size_t bytes : {std::size_t{1}, std::size_t{4096}, (std::size_t{2} << 20) - 1,
                            std::size_t{2} << 20, (std::size_t{5} << 20) + 123}) {
    k::PackedBuffer b(bytes);
    ASSERT_NE(b.data(), nullptr);
    EXPECT_EQ(b.size(), bytes);
#if defined(__linux__)
    if (bytes >= (std::size_t{2} << 20)) {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % (std::size_t{2} << 20), 0u) << bytes;
    }
#endif
    EXPECT_EQ(b.data()[0], std::byte{0});
    EXPECT_EQ(b.data()[bytes - 1], std::byte{0});
    std::memset(b.data(), 0xAB, bytes);  // every byte is writable
    k::PackedBuffer moved = std::move(b);
    EXPECT_EQ(moved.data()[bytes / 2], std::byte{0xAB});
  }
}

}  // namespace
}  // namespace llmux::test
