// The sampler's efficiency contract: after the first call, sample() and accept() do not
// allocate (buffers are reused). Counted by replacing the global operator new of this test
// binary; the counter only changes when something allocates, so other tests are unaffected.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <vector>

#include "engine/sampling/sampler.hpp"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace llmux::engine::sampling {
namespace {

long allocations_during(Sampler& s, const std::vector<float>& logits, int steps) {
  const long before = g_allocations.load();
  for (int i = 0; i < steps; ++i) {
    const auto r = s.sample(logits);
    s.accept(r.token);
  }
  return g_allocations.load() - before;
}

TEST(SamplerAllocations, NoneAfterTheFirstCall) {
  constexpr int kVocab = 50000;
  std::vector<float> logits(kVocab);
  for (int i = 0; i < kVocab; ++i) logits[i] = std::sin(0.01f * i) * 5.0f;
  SamplerOptions configs[4];
  configs[0].seed = 1;                       // defaults: top-k 40, top-p, min-p
  configs[1].temperature = 0.0f;             // greedy
  configs[2].top_k = 0;                      // top-p over the whole vocabulary (buckets)
  configs[3].repeat_penalty = 1.2f;          // penalties: a copy of the row
  configs[3].presence_penalty = 0.3f;
  configs[3].logprobs = true;                // the token's logprob needs no allocation either
  for (const auto& o : configs) {
    Sampler s(o, kVocab);
    allocations_during(s, logits, 2);  // first calls size the buffers
    EXPECT_EQ(allocations_during(s, logits, 50), 0);
  }
  // The counter works: top_logprobs is a fresh vector in every result (documented).
  SamplerOptions with_top;
  with_top.n_logprobs = 3;
  Sampler s(with_top, kVocab);
  allocations_during(s, logits, 2);
  EXPECT_GE(allocations_during(s, logits, 10), 10);
}

}  // namespace
}  // namespace llmux::engine::sampling
