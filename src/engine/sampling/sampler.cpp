#include "engine/sampling/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <llmux/error.hpp>

#include "engine/kernels/scan.hpp"

namespace llmux::engine::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// A strict total order: higher logit first, then lower id.
template <class C>
bool better(const C& a, const C& b) noexcept {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

void check_finite(float value, const char* name) {
  if (!std::isfinite(value)) {
    throw_error(errc::invalid_argument,
                std::string("sampler: ") + name + " must be a finite number");
  }
}

void validate(const SamplerOptions& o, int n_vocab) {
  if (n_vocab <= 0) throw_error(errc::invalid_argument, "sampler: n_vocab must be positive");
  check_finite(o.temperature, "temperature");
  check_finite(o.top_p, "top_p");
  check_finite(o.min_p, "min_p");
  check_finite(o.repeat_penalty, "repeat_penalty");
  check_finite(o.presence_penalty, "presence_penalty");
  check_finite(o.frequency_penalty, "frequency_penalty");
  if (o.top_p <= 0.0f) throw_error(errc::invalid_argument, "sampler: top_p must be > 0");
  if (o.min_p > 1.0f) throw_error(errc::invalid_argument, "sampler: min_p must be <= 1");
  if (o.repeat_penalty <= 0.0f) {
    throw_error(errc::invalid_argument, "sampler: repeat_penalty must be > 0");
  }
  if (o.repeat_last_n < -1) {
    throw_error(errc::invalid_argument, "sampler: repeat_last_n must be >= -1");
  }
  if (o.n_logprobs < 0 || o.n_logprobs > n_vocab) {
    throw_error(errc::invalid_argument, "sampler: n_logprobs must be in [0, n_vocab]");
  }
}

// NaN never wins and is never a candidate; +inf is clamped so that softmax stays defined.
inline float usable(float logit) noexcept {
  if (std::isnan(logit)) return kNegInf;
  return std::min(logit, std::numeric_limits<float>::max());
}

// Keeps the k best of logits[0..n) in `out`, best first. `out` is reused as a heap whose front
// is the worst kept element. Once k are kept, a later logit enters only when it is greater
// than the front's (ids rise, so an equal one loses the tie): next_above skips the rest.
template <class C>
void select_top_k(const float* logits, int n, std::size_t k, std::vector<C>& out) {
  out.clear();
  const auto worse_first = [](const C& a, const C& b) { return better(a, b); };
  int i = 0;
  for (; i < n && out.size() < k; ++i) {
    const C c{usable(logits[i]), i};
    if (c.logit == kNegInf) continue;
    out.push_back(c);
    std::push_heap(out.begin(), out.end(), worse_first);
  }
  for (; i < n; ++i) {
    i = static_cast<int>(kernels::next_above(logits, i, n, out.front().logit));
    if (i == n) break;
    std::pop_heap(out.begin(), out.end(), worse_first);
    out.back() = C{usable(logits[i]), i};
    std::push_heap(out.begin(), out.end(), worse_first);
  }
  std::sort_heap(out.begin(), out.end(), worse_first);  // ascending by "worse" = best first
}

}  // namespace

Sampler::Sampler(SamplerOptions options, int n_vocab)
    : options_(options), n_vocab_(n_vocab), rng_(options.seed) {
  validate(options_, n_vocab_);
  if (options_.n_logprobs > 0) options_.logprobs = true;
  if (options_.repeat_last_n > 0) history_.reserve(static_cast<std::size_t>(options_.repeat_last_n));
}

bool Sampler::penalties_active() const noexcept {
  return options_.repeat_last_n != 0 &&
         (options_.repeat_penalty != 1.0f || options_.presence_penalty != 0.0f ||
          options_.frequency_penalty != 0.0f);
}

void Sampler::reset() {
  history_.clear();
  history_next_ = 0;
  rng_.reseed(options_.seed);
}

void Sampler::accept(std::int32_t token) {
  if (token < 0 || token >= n_vocab_) {
    throw_error(errc::invalid_argument, "sampler: accepted token id out of range");
  }
  if (options_.repeat_last_n == 0) return;
  if (options_.repeat_last_n < 0 ||
      history_.size() < static_cast<std::size_t>(options_.repeat_last_n)) {
    history_.push_back(token);
    return;
  }
  history_[history_next_] = token;
  history_next_ = (history_next_ + 1) % history_.size();
}

const float* Sampler::apply_penalties(std::span<const float> logits) {
  if (!penalties_active() || history_.empty()) return logits.data();
  penalized_.assign(logits.begin(), logits.end());  // capacity kept: no allocation after the first
  if (counts_.size() != static_cast<std::size_t>(n_vocab_)) counts_.assign(n_vocab_, 0);
  for (const std::int32_t t : history_) ++counts_[t];
  const float rp = options_.repeat_penalty;
  for (const std::int32_t t : history_) {
    const std::int32_t count = counts_[t];
    if (count == 0) continue;  // this token was already penalized
    float l = penalized_[t];
    if (rp != 1.0f) l = l > 0.0f ? l / rp : l * rp;
    l -= static_cast<float>(count) * options_.frequency_penalty + options_.presence_penalty;
    penalized_[t] = l;
    counts_[t] = 0;
  }
  return penalized_.data();
}

SampleResult Sampler::sample(std::span<const float> logits) {
  if (logits.size() != static_cast<std::size_t>(n_vocab_)) {
    throw_error(errc::invalid_argument, "sampler: logits row size differs from n_vocab");
  }
  // Banned tokens: logprobs are of the masked row, so it is masked first; a penalized copy is
  // masked in place; otherwise the row is masked only if a banned token would win.
  if (!banned_.empty() && options_.logprobs) logits = {mask_banned(logits), logits.size()};
  const float* l = apply_penalties(logits);
  bool masked = banned_.empty() || logits.data() == masked_.data();
  if (!masked && l == penalized_.data()) {
    for (const std::int32_t t : banned_) penalized_[static_cast<std::size_t>(t)] = kNegInf;
    masked = true;
  }
  SampleResult result;
  if (options_.temperature <= 0.0f) {
    result.token = pick_greedy(l);
    if (!masked && is_banned(result.token)) result.token = pick_greedy(mask_banned(logits));
  } else {
    // Without top-k every finite logit is a candidate: mask first rather than gather twice.
    if (!masked && (options_.top_k <= 0 || options_.top_k >= n_vocab_)) l = mask_banned(logits), masked = true;
    gather_candidates(l);
    if (!masked && candidates_banned()) gather_candidates(mask_banned(logits));
    result.token = pick_random();
  }
  if (options_.logprobs) fill_logprobs(logits, result);
  return result;
}

void Sampler::ban(std::span<const std::int32_t> tokens) {
  for (const std::int32_t t : tokens) {
    if (t < 0 || t >= n_vocab_) throw_error(errc::invalid_argument, "sampler: banned token id out of range");
  }
  banned_.insert(banned_.end(), tokens.begin(), tokens.end());
  std::sort(banned_.begin(), banned_.end());
  banned_.erase(std::unique(banned_.begin(), banned_.end()), banned_.end());
  masked_.reserve(static_cast<std::size_t>(n_vocab_));  // sample() allocates nothing for it later
}

bool Sampler::is_banned(std::int32_t token) const noexcept {
  return std::binary_search(banned_.begin(), banned_.end(), token);
}

bool Sampler::candidates_banned() const noexcept {
  return std::any_of(cand_.begin(), cand_.end(), [&](const Candidate& c) { return is_banned(c.id); });
}

const float* Sampler::mask_banned(std::span<const float> logits) {
  masked_.assign(logits.begin(), logits.end());  // capacity kept: no allocation after the first
  for (const std::int32_t t : banned_) masked_[static_cast<std::size_t>(t)] = kNegInf;
  return masked_.data();
}

std::int32_t Sampler::pick_greedy(const float* logits) const {
  // The first (lowest id) maximum wins.
  const std::int64_t best = kernels::first_max_index(logits, n_vocab_);
  if (best < 0) throw_error(errc::invalid_argument, "sampler: no finite logit to sample from");
  return static_cast<std::int32_t>(best);
}

std::int32_t Sampler::pick_random() {
  if (cand_.empty()) throw_error(errc::invalid_argument, "sampler: no finite logit to sample from");
  apply_top_p();
  apply_min_p();
  return draw();
}

void Sampler::gather_candidates(const float* logits) {
  const int k = options_.top_k;
  if (k > 0 && k < n_vocab_) {
    select_top_k(logits, n_vocab_, static_cast<std::size_t>(k), cand_);
    cand_sorted_ = true;
    return;
  }
  cand_.clear();
  cand_.reserve(static_cast<std::size_t>(n_vocab_));
  for (int i = 0; i < n_vocab_; ++i) {
    const float v = usable(logits[i]);
    if (v != kNegInf) cand_.push_back({v, i});
  }
  cand_sorted_ = false;
}

void Sampler::apply_top_p() {
  if (options_.top_p >= 1.0f || cand_.size() <= 1) return;
  float max_logit = kNegInf;
  for (const auto& c : cand_) max_logit = std::max(max_logit, c.logit);
  weights_.resize(cand_.size());
  double total = 0.0;  // float exp (faster over a whole vocabulary), double sums
  for (std::size_t i = 0; i < cand_.size(); ++i) {
    weights_[i] = std::exp(cand_[i].logit - max_logit);
    total += weights_[i];
  }
  const double target = static_cast<double>(options_.top_p) * total;
  if (!cand_sorted_) {
    top_p_unsorted(max_logit, target);
    return;
  }
  double cumulative = 0.0;
  for (std::size_t i = 0; i < cand_.size(); ++i) {
    cumulative += weights_[i];
    if (cumulative >= target) {
      cand_.resize(i + 1);
      return;
    }
  }
}

// Top-p over unsorted candidates (top-k off) without sorting the whole vocabulary: bucket the
// logits by value, find the bucket where the cumulative mass crosses the target, keep every
// candidate of the buckets above it and sort only that bucket. Candidates stay in id order
// (then the boundary bucket by rank), so the result does not depend on the standard library.
void Sampler::top_p_unsorted(float max_logit, double target) {
  constexpr std::size_t kBuckets = 1024;
  float min_logit = max_logit;
  for (const auto& c : cand_) min_logit = std::min(min_logit, c.logit);
  const double range = static_cast<double>(max_logit) - min_logit;
  const double scale = range > 0.0 ? static_cast<double>(kBuckets - 1) / range : 0.0;
  const auto bucket_of = [&](float logit) {
    const double b = (static_cast<double>(max_logit) - logit) * scale;
    return std::min(kBuckets - 1, static_cast<std::size_t>(b));
  };
  bucket_mass_.assign(kBuckets, 0.0);
  for (std::size_t i = 0; i < cand_.size(); ++i) bucket_mass_[bucket_of(cand_[i].logit)] += weights_[i];
  double cumulative = 0.0;
  std::size_t cut = kBuckets;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    if (cumulative + bucket_mass_[b] >= target) {
      cut = b;
      break;
    }
    cumulative += bucket_mass_[b];
  }
  if (cut == kBuckets) return;  // rounding: the whole set is the nucleus
  boundary_.clear();
  std::size_t kept = 0;
  for (const auto& c : cand_) {
    const std::size_t b = bucket_of(c.logit);
    if (b < cut) {
      cand_[kept++] = c;
    } else if (b == cut) {
      boundary_.push_back(c);
    }
  }
  std::sort(boundary_.begin(), boundary_.end(),
            [](const Candidate& a, const Candidate& b) { return better(a, b); });
  for (const auto& c : boundary_) {
    cand_[kept++] = c;
    cumulative += std::exp(c.logit - max_logit);
    if (cumulative >= target) break;
  }
  cand_.resize(kept);
}

void Sampler::apply_min_p() {
  if (options_.min_p <= 0.0f || cand_.size() <= 1) return;
  float max_logit = kNegInf;
  for (const auto& c : cand_) max_logit = std::max(max_logit, c.logit);
  // p_i >= min_p * p_max  <=>  logit_i >= max_logit + log(min_p)
  const double threshold = static_cast<double>(max_logit) + std::log(static_cast<double>(options_.min_p));
  const auto end = std::remove_if(cand_.begin(), cand_.end(), [&](const Candidate& c) {
    return static_cast<double>(c.logit) < threshold;
  });
  cand_.erase(end, cand_.end());  // order (sorted or by id) is kept
}

std::int32_t Sampler::draw() {
  float max_logit = kNegInf;
  for (const auto& c : cand_) max_logit = std::max(max_logit, c.logit);
  const double inv_t = 1.0 / static_cast<double>(options_.temperature);
  weights_.resize(cand_.size());
  double total = 0.0;
  for (std::size_t i = 0; i < cand_.size(); ++i) {
    weights_[i] = std::exp((static_cast<double>(cand_[i].logit) - max_logit) * inv_t);
    total += weights_[i];
  }
  const double u = rng_.next_double() * total;
  double cumulative = 0.0;
  for (std::size_t i = 0; i < cand_.size(); ++i) {
    cumulative += weights_[i];
    if (u < cumulative) return cand_[i].id;
  }
  return cand_.back().id;  // u landed in the rounding slack at the very end
}

void Sampler::fill_logprobs(std::span<const float> logits, SampleResult& result) {
  float max_logit = kNegInf;
  for (const float v : logits) max_logit = std::max(max_logit, usable(v));
  double total = 0.0;
  for (const float v : logits) total += std::exp(usable(v) - max_logit);
  const double log_z = static_cast<double>(max_logit) + std::log(total);
  const auto logprob = [&](float v) {
    return static_cast<float>(static_cast<double>(usable(v)) - log_z);
  };
  result.logprob = logprob(logits[static_cast<std::size_t>(result.token)]);
  result.top_logprobs.clear();
  if (options_.n_logprobs == 0) return;
  select_top_k(logits.data(), n_vocab_, static_cast<std::size_t>(options_.n_logprobs),
               top_scratch_);
  result.top_logprobs.reserve(top_scratch_.size());
  for (const auto& c : top_scratch_) result.top_logprobs.emplace_back(c.id, logprob(c.logit));
}

}  // namespace llmux::engine::sampling
