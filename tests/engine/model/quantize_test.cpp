// Quantizers round-trip within their format's resolution.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/kernels/dequant.hpp"
#include "engine/kernels/quantize.hpp"

namespace llmux::test {
namespace {

using engine::kernels::WeightType;

// Relative L2 error of quantize -> dequantize on 4096 normal values.
double round_trip_error(WeightType type) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  const std::int64_t n = 4096;
  std::vector<float> x(n), y(n);
  for (auto& v : x) v = normal(rng);
  std::vector<std::byte> q(engine::kernels::row_bytes(type, n));
  EXPECT_TRUE(engine::kernels::quantize_row(type, x.data(), q.data(), n));
  engine::kernels::dequantize_row(type, q.data(), y.data(), n);
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    num += (x[i] - y[i]) * (x[i] - y[i]);
    den += x[i] * x[i];
  }
  return std::sqrt(num / den);
}

TEST(Quantize, RoundTripErrorMatchesTheFormatsResolution) {
  // Bounds: a little above what round-to-nearest gives for each bit width on normal data.
  const std::pair<WeightType, double> cases[] = {
      {WeightType::f32, 0.0},     {WeightType::f16, 1e-3},  {WeightType::bf16, 5e-3},
      {WeightType::q8_0, 1e-2},   {WeightType::q6_k, 4e-2}, {WeightType::q5_0, 6e-2},
      {WeightType::q5_k, 6e-2},   {WeightType::q4_0, 1.2e-1}, {WeightType::q4_k, 1.2e-1},
      {WeightType::q5_1, 6e-2},   {WeightType::q4_1, 1.2e-1}};
  for (auto [type, bound] : cases) {
    const double err = round_trip_error(type);
    EXPECT_LE(err, bound) << engine::kernels::weight_layout(static_cast<std::uint32_t>(type))->name;
    RecordProperty(std::string(engine::kernels::weight_layout(static_cast<std::uint32_t>(type))->name),
                   std::to_string(err));
  }
}

TEST(Quantize, ZeroRowsStayZero) {
  for (auto type : {WeightType::q8_0, WeightType::q4_0, WeightType::q5_0, WeightType::q4_1,
                    WeightType::q5_1, WeightType::q4_k, WeightType::q5_k, WeightType::q6_k}) {
    std::vector<float> x(256, 0.0f), y(256, 1.0f);
    std::vector<std::byte> q(engine::kernels::row_bytes(type, 256));
    ASSERT_TRUE(engine::kernels::quantize_row(type, x.data(), q.data(), 256));
    engine::kernels::dequantize_row(type, q.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f);
  }
}

}  // namespace
}  // namespace llmux::test
