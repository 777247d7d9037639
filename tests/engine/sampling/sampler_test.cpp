#include "engine/sampling/sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include <llmux/error.hpp>

#include "engine/sampling/rng.hpp"

namespace llmux::engine::sampling {
namespace {

SamplerOptions plain(float temperature = 1.0f) {
  SamplerOptions o;
  o.temperature = temperature;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0.0f;
  return o;
}

// Draws n tokens from the same logits, counting each id.
std::map<std::int32_t, int> histogram(Sampler& s, const std::vector<float>& logits, int n) {
  std::map<std::int32_t, int> counts;
  for (int i = 0; i < n; ++i) ++counts[s.sample(logits).token];
  return counts;
}

std::set<std::int32_t> support(Sampler& s, const std::vector<float>& logits, int n = 2000) {
  std::set<std::int32_t> ids;
  for (const auto& [id, count] : histogram(s, logits, n)) ids.insert(id);
  return ids;
}

TEST(Rng, KnownSequenceAndRange) {
  // splitmix64 of 0: the published first outputs of the reference implementation.
  std::uint64_t state = 0;
  EXPECT_EQ(splitmix64(state), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(splitmix64(state), 0x6E789E6AA1B965F4ull);
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const double x = a.next_double();
    EXPECT_GE(x, 0.0);
    EXPECT_LT(x, 1.0);
    EXPECT_EQ(x, b.next_double());
  }
  EXPECT_NE(Rng(42).next(), c.next());
}

TEST(Sampler, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler s(plain(0.0f), 5);
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 2.0f, 0.0f}).token, 1);
  EXPECT_EQ(s.sample(std::vector<float>{1.0f, 5.0f, 2.0f, 5.0f, 5.0f}).token, 1);
  Sampler negative(plain(-1.0f), 3);  // any temperature <= 0 is greedy
  EXPECT_EQ(negative.sample(std::vector<float>{-3.0f, -2.0f, -2.5f}).token, 1);
}

TEST(Sampler, GreedyIgnoresNaNAndRejectsRowsWithoutFiniteLogits) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  Sampler s(plain(0.0f), 3);
  EXPECT_EQ(s.sample(std::vector<float>{nan, -1.0f, nan}).token, 1);
  EXPECT_THROW(s.sample(std::vector<float>{nan, -inf, nan}), Error);
  Sampler r(plain(1.0f), 3);
  EXPECT_EQ(r.sample(std::vector<float>{nan, -inf, 0.0f}).token, 2);
  EXPECT_THROW(r.sample(std::vector<float>{nan, -inf, -inf}), Error);
}

TEST(Sampler, RejectsBadArguments) {
  EXPECT_THROW(Sampler(plain(), 0), Error);
  auto o = plain();
  o.top_p = 0.0f;
  EXPECT_THROW(Sampler(o, 4), Error);
  o = plain();
  o.min_p = 1.5f;
  EXPECT_THROW(Sampler(o, 4), Error);
  o = plain();
  o.temperature = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(Sampler(o, 4), Error);
  o = plain();
  o.repeat_penalty = 0.0f;
  EXPECT_THROW(Sampler(o, 4), Error);
  o = plain();
  o.n_logprobs = 5;
  EXPECT_THROW(Sampler(o, 4), Error);
  Sampler s(plain(), 4);
  EXPECT_THROW(s.sample(std::vector<float>{1.0f, 2.0f}), Error);
  EXPECT_THROW(s.accept(4), Error);
  EXPECT_THROW(s.accept(-1), Error);
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  auto o = plain(1.0f);
  o.top_k = 2;
  Sampler s(o, 6);
  const std::vector<float> logits{1.0f, 0.9f, 3.0f, 0.8f, 2.9f, 0.0f};
  EXPECT_EQ(support(s, logits), (std::set<std::int32_t>{2, 4}));
  o.top_k = 1;  // top-1 is greedy whatever the temperature
  Sampler one(o, 6);
  EXPECT_EQ(support(one, logits, 200), (std::set<std::int32_t>{2}));
}

TEST(Sampler, TopKTiesKeepLowerIds) {
  auto o = plain(1.0f);
  o.top_k = 2;
  Sampler s(o, 5);
  EXPECT_EQ(support(s, std::vector<float>{1.0f, 2.0f, 2.0f, 2.0f, 0.0f}),
            (std::set<std::int32_t>{1, 2}));
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  // Probabilities 0.5, 0.25, 0.125, 0.125 (logits are log2 steps).
  const float l2 = std::log(2.0f);
  const std::vector<float> logits{3 * l2, 2 * l2, l2, l2};
  auto o = plain(1.0f);
  o.top_p = 0.5f;  // 0.5 alone reaches it
  Sampler a(o, 4);
  EXPECT_EQ(support(a, logits), (std::set<std::int32_t>{0}));
  o.top_p = 0.7f;  // needs the second
  Sampler b(o, 4);
  EXPECT_EQ(support(b, logits), (std::set<std::int32_t>{0, 1}));
  o.top_p = 0.8f;  // 0.75 < 0.8: a third, the lower id of the tie
  Sampler c(o, 4);
  EXPECT_EQ(support(c, logits), (std::set<std::int32_t>{0, 1, 2}));
}

TEST(Sampler, TopPWithoutTopKOnALargeVocabulary) {
  // 90k tokens: one dominant group of 300 (more than the first partial-sort prefix) at equal
  // logits carrying ~99.9999% of the mass; top_p = 0.99 must keep ~297 of them and nothing else.
  constexpr int kVocab = 90000;
  std::vector<float> logits(kVocab, -10.0f);
  for (int i = 0; i < 300; ++i) logits[static_cast<std::size_t>(i) * 300 + 7] = 10.0f;
  auto o = plain(1.0f);
  o.top_p = 0.99f;
  Sampler s(o, kVocab);
  const auto ids = support(s, logits, 100);
  EXPECT_GT(ids.size(), 60u);  // ~85 expected: many of the group, not just the first
  for (const auto id : ids) EXPECT_EQ(id % 300, 7) << id;
}

// The nucleus by brute force: sort everything, cut at the first cumulative mass >= top_p.
std::set<std::int32_t> reference_nucleus(const std::vector<float>& logits, double top_p) {
  std::vector<std::int32_t> ids(logits.size());
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>(i);
  std::sort(ids.begin(), ids.end(), [&](std::int32_t a, std::int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  const double max_logit = logits[ids[0]];
  double total = 0.0;
  for (const float l : logits) total += std::exp(l - max_logit);
  std::set<std::int32_t> kept;
  double cumulative = 0.0;
  for (const auto id : ids) {
    kept.insert(id);
    cumulative += std::exp(logits[id] - max_logit);
    if (cumulative >= top_p * total) break;
  }
  return kept;
}

TEST(Sampler, BucketedTopPMatchesAFullSort) {
  // Top-k off: the nucleus is found by bucketing. With a huge temperature every kept token is
  // about equally likely, so enough draws reach the whole nucleus, and nothing else.
  Rng rng(11);
  for (int row = 0; row < 6; ++row) {
    std::vector<float> logits(300);
    for (auto& l : logits) l = static_cast<float>(rng.next_double() * 12.0 - 6.0);
    logits[row * 7] = static_cast<float>(row);  // some ties and some spread
    logits[row * 7 + 1] = static_cast<float>(row);
    for (const float top_p : {0.3f, 0.8f, 0.97f}) {
      auto o = plain(1000.0f);
      o.top_p = top_p;
      o.seed = static_cast<std::uint64_t>(row);
      Sampler s(o, 300);
      EXPECT_EQ(support(s, logits, 4000), reference_nucleus(logits, top_p))
          << "row " << row << " top_p " << top_p;
    }
  }
}

TEST(Sampler, MinPDropsTokensBelowTheRatio) {
  const float l2 = std::log(2.0f);
  // p ratios to the max: 1, 1/2, 1/4, 1/8
  const std::vector<float> logits{3 * l2, 2 * l2, l2, 0.0f};
  auto o = plain(1.0f);
  o.min_p = 0.3f;
  Sampler a(o, 4);
  EXPECT_EQ(support(a, logits), (std::set<std::int32_t>{0, 1}));
  o.min_p = 0.2f;
  Sampler b(o, 4);
  EXPECT_EQ(support(b, logits), (std::set<std::int32_t>{0, 1, 2}));
}

TEST(Sampler, FiltersComposeInOrder) {
  // top_k=3 keeps {0,1,2}; min_p=0.4 of the max then drops 2 (ratio 1/4).
  const float l2 = std::log(2.0f);
  const std::vector<float> logits{3 * l2, 2 * l2, l2, 0.0f, -1.0f};
  auto o = plain(1.0f);
  o.top_k = 3;
  o.min_p = 0.4f;
  Sampler s(o, 5);
  EXPECT_EQ(support(s, logits), (std::set<std::int32_t>{0, 1}));
}

TEST(Sampler, DistributionMatchesSoftmax) {
  // Softmax of {ln 5, ln 3, ln 2} = 0.5, 0.3, 0.2. 10k draws: each share within 0.02
  // (more than 4 standard deviations); the seed is fixed, so the test is stable.
  const std::vector<float> logits{std::log(5.0f), std::log(3.0f), std::log(2.0f)};
  auto o = plain(1.0f);
  o.seed = 1234;
  Sampler s(o, 3);
  const auto counts = histogram(s, logits, 10000);
  EXPECT_NEAR(counts.at(0) / 10000.0, 0.5, 0.02);
  EXPECT_NEAR(counts.at(1) / 10000.0, 0.3, 0.02);
  EXPECT_NEAR(counts.at(2) / 10000.0, 0.2, 0.02);
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  // At T = 0.5 the probabilities become 25:9:4 -> 0.658, 0.237, 0.105; at T = 2,
  // sqrt(5):sqrt(3):sqrt(2) -> 0.422, 0.327, 0.267.
  const std::vector<float> logits{std::log(5.0f), std::log(3.0f), std::log(2.0f)};
  auto o = plain(0.5f);
  o.seed = 7;
  Sampler sharp(o, 3);
  const auto a = histogram(sharp, logits, 10000);
  EXPECT_NEAR(a.at(0) / 10000.0, 25.0 / 38.0, 0.02);
  EXPECT_NEAR(a.at(2) / 10000.0, 4.0 / 38.0, 0.02);
  o.temperature = 2.0f;
  Sampler flat(o, 3);
  const auto b = histogram(flat, logits, 10000);
  const double z = std::sqrt(5.0) + std::sqrt(3.0) + std::sqrt(2.0);
  EXPECT_NEAR(b.at(0) / 10000.0, std::sqrt(5.0) / z, 0.02);
  EXPECT_NEAR(b.at(2) / 10000.0, std::sqrt(2.0) / z, 0.02);
}

std::vector<std::int32_t> sequence(SamplerOptions o, int n) {
  constexpr int kVocab = 1000;
  Sampler s(o, kVocab);
  std::vector<float> logits(kVocab);
  std::vector<std::int32_t> out;
  for (int step = 0; step < n; ++step) {
    for (int i = 0; i < kVocab; ++i) logits[i] = std::sin(0.37f * i + 0.11f * step) * 3.0f;
    const auto token = s.sample(logits).token;
    s.accept(token);
    out.push_back(token);
  }
  return out;
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  SamplerOptions o;  // the defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05
  o.seed = 99;
  o.repeat_penalty = 1.1f;
  const auto a = sequence(o, 64);
  EXPECT_EQ(a, sequence(o, 64));
  o.seed = 100;
  EXPECT_NE(a, sequence(o, 64));
}

TEST(Sampler, ResetRestartsTheSameSequence) {
  const std::vector<float> logits{0.0f, 0.1f, 0.2f, 0.3f};
  auto o = plain(1.0f);
  o.seed = 5;
  Sampler s(o, 4);
  std::vector<std::int32_t> first, second;
  for (int i = 0; i < 32; ++i) first.push_back(s.sample(logits).token);
  s.reset();
  for (int i = 0; i < 32; ++i) second.push_back(s.sample(logits).token);
  EXPECT_EQ(first, second);
}

TEST(Sampler, GoldenDrawsAreStable) {
  // Pins the RNG and the draw (computed independently in Python from the xoshiro256** and
  // splitmix64 reference definitions): a change here changes every seeded generation.
  const std::vector<float> logits{0.0f, 0.5f, 1.0f, 1.5f};
  auto o = plain(1.0f);
  o.seed = 2024;
  Sampler s(o, 4);
  std::vector<std::int32_t> drawn;
  for (int i = 0; i < 12; ++i) drawn.push_back(s.sample(logits).token);
  EXPECT_EQ(drawn, (std::vector<std::int32_t>{0, 3, 0, 1, 3, 1, 2, 1, 3, 0, 3, 3}));
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  auto o = plain(0.0f);
  o.repeat_penalty = 2.0f;
  Sampler s(o, 3);
  // Token 0 (logit 3) seen: 3 / 2 = 1.5 < 2 -> token 1 wins.
  s.accept(0);
  EXPECT_EQ(s.sample(std::vector<float>{3.0f, 2.0f, -5.0f}).token, 1);
  // Negative logits move away from zero: -1 * 2 = -2 < -1.5.
  Sampler t(o, 3);
  t.accept(0);
  EXPECT_EQ(t.sample(std::vector<float>{-1.0f, -1.5f, -9.0f}).token, 1);
}

TEST(Sampler, PresenceAndFrequencyPenalties) {
  auto o = plain(0.0f);
  o.frequency_penalty = 0.5f;
  Sampler f(o, 3);
  // Token 0 seen 3 times: 3.0 - 1.5 = 1.5 < 2.0 = token 1 (seen once: 2.5 - 0.5).
  for (int i = 0; i < 3; ++i) f.accept(0);
  f.accept(1);
  EXPECT_EQ(f.sample(std::vector<float>{3.0f, 2.5f, 1.9f}).token, 1);
  o.frequency_penalty = 0.0f;
  o.presence_penalty = 1.0f;
  Sampler p(o, 3);
  for (int i = 0; i < 3; ++i) p.accept(0);  // presence counts once: 3.0 - 1.0 = 2.0
  EXPECT_EQ(p.sample(std::vector<float>{3.0f, 1.9f, 1.0f}).token, 0);
  EXPECT_EQ(p.sample(std::vector<float>{3.0f, 2.1f, 1.0f}).token, 1);
}

TEST(Sampler, PenaltiesOnlyLookAtTheWindow) {
  auto o = plain(0.0f);
  o.repeat_penalty = 10.0f;
  o.repeat_last_n = 2;
  Sampler s(o, 4);
  const std::vector<float> logits{3.0f, 2.0f, 1.0f, 0.5f};
  s.accept(0);
  EXPECT_EQ(s.sample(logits).token, 1);
  s.accept(1);
  s.accept(2);  // token 0 has left the window of 2
  EXPECT_EQ(s.sample(logits).token, 0);
  o.repeat_last_n = 0;  // off
  Sampler off(o, 4);
  off.accept(0);
  EXPECT_EQ(off.sample(logits).token, 0);
  o.repeat_last_n = -1;  // everything since reset
  Sampler all(o, 4);
  all.accept(0);
  for (int i = 0; i < 100; ++i) all.accept(3);
  EXPECT_EQ(all.sample(logits).token, 1);
  all.reset();
  EXPECT_EQ(all.sample(logits).token, 0);
}

TEST(Sampler, PenaltiesDoNotChangeTheCallersLogits) {
  auto o = plain(0.0f);
  o.repeat_penalty = 4.0f;
  Sampler s(o, 2);
  s.accept(0);
  const std::vector<float> logits{3.0f, 1.0f};
  EXPECT_EQ(s.sample(logits).token, 1);
  EXPECT_EQ(logits[0], 3.0f);
}

TEST(Sampler, LogprobsAreTheModelsLogSoftmax) {
  const std::vector<float> logits{std::log(5.0f), std::log(3.0f), std::log(2.0f), -1e30f};
  auto o = plain(0.0f);
  o.n_logprobs = 2;
  o.repeat_penalty = 5.0f;  // penalties change the pick, not the reported distribution
  Sampler s(o, 4);
  s.accept(0);
  const auto r = s.sample(logits);
  EXPECT_EQ(r.token, 1);
  EXPECT_NEAR(r.logprob, std::log(0.3), 1e-6);
  ASSERT_EQ(r.top_logprobs.size(), 2u);
  EXPECT_EQ(r.top_logprobs[0].first, 0);
  EXPECT_NEAR(r.top_logprobs[0].second, std::log(0.5), 1e-6);
  EXPECT_EQ(r.top_logprobs[1].first, 1);
  EXPECT_NEAR(r.top_logprobs[1].second, std::log(0.3), 1e-6);
  Sampler none(plain(0.0f), 4);
  const auto q = none.sample(logits);
  EXPECT_EQ(q.logprob, 0.0f);
  EXPECT_TRUE(q.top_logprobs.empty());
  auto only = plain(0.0f);
  only.logprobs = true;
  Sampler just(only, 4);
  EXPECT_NEAR(just.sample(logits).logprob, std::log(0.5), 1e-6);
}

TEST(Sampler, BannedTokensGiveWhatMaskingTheRowGives) {
  // A sampler with banned tokens against one given the rows with those logits at -infinity,
  // same seed, over rows where a banned token is often the largest (greedy re-pick, top-k
  // candidates re-gathered), under every path: greedy, top-k, top-p without top-k, penalties
  // (the penalized copy masked in place), logprobs (the masked row reported).
  constexpr int kVocab = 300;
  const std::vector<std::int32_t> banned{7, 150, 299, 7};
  std::vector<SamplerOptions> configs;
  configs.push_back(plain(0.0f));
  configs.push_back(SamplerOptions{});  // top-k 40, top-p, min-p
  auto nucleus = plain(0.9f);
  nucleus.top_p = 0.9f;
  configs.push_back(nucleus);
  auto penalized = SamplerOptions{};
  penalized.repeat_penalty = 1.3f;
  penalized.presence_penalty = 0.5f;
  configs.push_back(penalized);
  auto reported = plain(0.0f);
  reported.n_logprobs = 3;
  configs.push_back(reported);
  auto reported_k = SamplerOptions{};
  reported_k.logprobs = true;
  configs.push_back(reported_k);
  Rng rng(11);
  for (std::size_t c = 0; c < configs.size(); ++c) {
    configs[c].seed = 5;
    Sampler with_ban(configs[c], kVocab), on_masked(configs[c], kVocab);
    with_ban.ban(banned);
    int banned_on_top = 0;
    for (int row = 0; row < 200; ++row) {
      std::vector<float> logits(kVocab);
      for (auto& l : logits) l = static_cast<float>(rng.next_double() * 8.0);
      if (row % 2 == 0) logits[static_cast<std::size_t>(banned[row / 2 % 3])] = 20.0f;
      if (row % 5 == 0) logits[7] = logits[8];  // a tie with a lower banned id
      banned_on_top += row % 2 == 0;
      auto masked = logits;
      for (const auto t : banned) masked[static_cast<std::size_t>(t)] = -INFINITY;
      const auto a = with_ban.sample(logits);
      const auto b = on_masked.sample(masked);
      ASSERT_EQ(a.token, b.token) << "config " << c << " row " << row;
      EXPECT_EQ(a.logprob, b.logprob) << "config " << c << " row " << row;
      ASSERT_EQ(a.top_logprobs, b.top_logprobs) << "config " << c << " row " << row;
      EXPECT_EQ(std::count(banned.begin(), banned.end(), a.token), 0);
      with_ban.accept(a.token);
      on_masked.accept(b.token);
    }
    EXPECT_EQ(banned_on_top, 100);
  }
  Sampler s(plain(0.0f), 4);
  EXPECT_THROW(s.ban(std::vector<std::int32_t>{4}), Error);
  EXPECT_THROW(s.ban(std::vector<std::int32_t>{-1}), Error);
  s.ban(std::vector<std::int32_t>{0, 1, 2, 3});  // nothing left to pick
  EXPECT_THROW(s.sample(std::vector<float>{1, 2, 3, 4}), Error);
}

TEST(Sampler, LargeVocabularyWithDefaults) {
  // 256k vocabulary, default chain: picks stay among the 40 largest logits.
  constexpr int kVocab = 256000;
  std::vector<float> logits(kVocab);
  for (int i = 0; i < kVocab; ++i) logits[i] = static_cast<float>((i * 7919) % kVocab) / 1000.0f;
  SamplerOptions o;
  o.seed = 3;
  Sampler s(o, kVocab);
  for (int i = 0; i < 50; ++i) {
    const auto t = s.sample(logits).token;
    EXPECT_GE(logits[t], (kVocab - 40) / 1000.0f);
    s.accept(t);
  }
}

}  // namespace
}  // namespace llmux::engine::sampling
