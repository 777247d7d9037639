// The sampler chain: picks the next token from a row of logits.
//
// Chain, in this order (llama.cpp's default order, minus the samplers llmux does not have):
//   1. penalties over the last `repeat_last_n` accepted tokens: repetition (a positive logit is
//      divided by `repeat_penalty`, a negative one multiplied), then presence
//      (`- presence_penalty` once per distinct token seen) and frequency
//      (`- frequency_penalty * count`);
//   2. top-k: keep the k highest logits (k <= 0 or k >= n_vocab: off);
//   3. top-p (nucleus): keep the smallest set of the highest-probability tokens whose
//      probabilities (softmax of the candidates left, at temperature 1) sum to >= top_p
//      (top_p >= 1: off);
//   4. min-p: keep tokens whose probability is >= min_p * the highest probability (0: off);
//   5. temperature: divide the remaining logits by `temperature`;
//   6. draw one token from the softmax of what is left with the sampler's own seeded RNG.
// temperature <= 0 is greedy: the argmax of the penalized logits (ties: the lowest id); steps
// 2-6 and the RNG are skipped. Ties in every ordering are broken by the lower token id, so the
// result is a pure function of (options, accepted tokens, logits, number of draws so far).
//
// Determinism: same options (seed included) + same accepted tokens + same logits -> same
// tokens, on every platform: the RNG is xoshiro256** (rng.hpp), never <random>'s distributions.
// Only std::exp/std::log from the C library enter the probabilities; a libm that rounds them
// differently could flip a draw that lands within an ulp of a boundary.
//
// Logprobs (when `logprobs` or `n_logprobs > 0`): the model's own log-softmax of the logits
// passed to sample(), before penalties, filters and temperature — what OpenAI and vLLM report,
// independent of the sampling settings. `top_logprobs` lists the n_logprobs most likely tokens
// of that distribution, most likely first (ties: lower id first).
//
// Efficiency: one O(n_vocab) pass to apply penalties (a copy of the row only when a penalty
// is active and tokens were accepted), greedy by a vectorized scan (kernels/scan.hpp), top-k
// by a bounded heap that a vectorized scan skips to the next logit above its worst (O(V), no
// full sort), top-p without top-k by bucketing the logits and sorting only the bucket where the nucleus
// ends, min-p by a threshold. Buffers are
// sized on the first call and reused: sample() does not allocate after the first call (except
// to grow `top_logprobs` of the returned result).
//
// Not thread-safe: one Sampler per sequence. Logits containing NaN treat it as -infinity; a row
// with no finite logit left is an error.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "engine/sampling/rng.hpp"

namespace llmux::engine::sampling {

// Defaults follow llama.cpp's (common/common.h) except the seed, which llama.cpp randomizes:
// the caller (the local provider) picks a seed when the request gives none.
struct SamplerOptions {
  float temperature = 0.8f;     // <= 0: greedy
  int top_k = 40;               // <= 0: off
  float top_p = 0.95f;          // >= 1: off; must be > 0
  float min_p = 0.05f;          // <= 0: off; must be <= 1
  float repeat_penalty = 1.0f;  // 1: off; must be > 0
  int repeat_last_n = 64;       // window of accepted tokens the penalties look at; 0: off,
                                // -1: every token accepted since the last reset()
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::uint64_t seed = 0;
  bool logprobs = false;  // fill SampleResult::logprob
  int n_logprobs = 0;     // also list this many top alternatives (0..n_vocab); implies logprobs
};

struct SampleResult {
  std::int32_t token = -1;
  float logprob = 0.0f;  // log-softmax of the raw logits at `token`; 0 unless logprobs asked
  std::vector<std::pair<std::int32_t, float>> top_logprobs;  // n_logprobs entries
};

class Sampler {
 public:
  // Throws llmux::Error(errc::invalid_argument) for n_vocab <= 0 or options out of range
  // (NaN anywhere, top_p <= 0, min_p > 1, repeat_penalty <= 0, repeat_last_n < -1,
  // n_logprobs < 0).
  Sampler(SamplerOptions options, int n_vocab);

  // Picks a token from `logits` (exactly n_vocab values; otherwise errc::invalid_argument).
  // Does not record it: call accept() with the token that is actually appended to the
  // sequence. Advances the RNG by one draw unless greedy.
  SampleResult sample(std::span<const float> logits);

  // Records a token of the sequence for the penalties. Feed the prompt's tokens too if the
  // penalties should cover them (llama.cpp's server does; OpenAI's presence/frequency
  // penalties count only generated tokens — the local provider chooses). Out-of-range ids:
  // errc::invalid_argument.
  void accept(std::int32_t token);

  // Back to the state right after construction: history cleared, RNG reseeded with the seed.
  void reset();

  // Tokens that are never picked, as if their logits were -infinity (logprobs included): e.g.
  // the end-of-generation tokens of a fixed-length run. The row is copied and masked only when
  // it has to be (a banned token would be picked or is among the top-k candidates, penalties
  // already copied it, or logprobs are reported), not on every call. Out-of-range ids:
  // errc::invalid_argument.
  void ban(std::span<const std::int32_t> tokens);

  const SamplerOptions& options() const noexcept { return options_; }
  int n_vocab() const noexcept { return n_vocab_; }

 private:
  struct Candidate {
    float logit;
    std::int32_t id;
  };

  const float* apply_penalties(std::span<const float> logits);
  bool is_banned(std::int32_t token) const noexcept;
  bool candidates_banned() const noexcept;
  const float* mask_banned(std::span<const float> logits);
  std::int32_t pick_greedy(const float* logits) const;
  std::int32_t pick_random();  // from cand_
  void gather_candidates(const float* logits);
  void apply_top_p();
  void top_p_unsorted(float max_logit, double target);
  void apply_min_p();
  std::int32_t draw();
  void fill_logprobs(std::span<const float> logits, SampleResult& result);
  bool penalties_active() const noexcept;

  SamplerOptions options_;
  int n_vocab_;
  Rng rng_;
  std::vector<std::int32_t> history_;  // ring buffer of the last repeat_last_n tokens
  std::size_t history_next_ = 0;       // next slot to overwrite once the ring is full
  std::vector<float> penalized_;       // penalized copy of the logits
  std::vector<std::int32_t> banned_;   // sorted, unique
  std::vector<float> masked_;          // the logits with the banned tokens at -infinity
  std::vector<std::int32_t> counts_;   // per-token scratch counts (all zero between calls)
  std::vector<Candidate> cand_;        // current candidates
  bool cand_sorted_ = false;           // cand_ is in descending order
  std::vector<double> weights_;        // probabilities scratch
  std::vector<double> bucket_mass_;    // top-p without top-k: mass per logit bucket
  std::vector<Candidate> boundary_;    // top-p without top-k: the bucket the cut falls in
  std::vector<Candidate> top_scratch_;  // logprob alternatives
};

}  // namespace llmux::engine::sampling
