// A fake forward pass for scheduler tests: it stores each token in the paged KV cache (layer
// 0, K value = the token id) and answers with logits whose argmax is a hash of every token it
// reads back from the cache for positions 0..pos. A wrong block table, a missed copy-on-write,
// a bad shared prefix or a lost position changes the answer, so outputs compare exactly.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <vector>

#include <llmux/error.hpp>

#include "engine/kv_cache/paged_kv_cache.hpp"
#include "engine/scheduler/scheduler.hpp"

namespace llmux::test {

namespace kvc = engine::kv_cache;
namespace sch = engine::scheduler;
using engine::model::BatchToken;
using engine::model::TokenId;

inline constexpr std::int64_t kFakeVocab = 97;

class FakeModel {
 public:
  explicit FakeModel(kvc::PagedKvCache& cache) : cache_(cache) {}

  std::span<const float> eval(std::span<const BatchToken> batch) {
    ++passes;
    max_batch = std::max<std::int64_t>(max_batch, static_cast<std::int64_t>(batch.size()));
    for (const auto& t : batch) {
      if (t.pos + 1 > cache_.size(t.seq)) cache_.reserve(t.seq, t.pos + 1);
      cache_.prepare_write(t.seq, t.pos);
      *reinterpret_cast<float*>(cache_.rows(0, t.seq, t.pos).k) = static_cast<float>(t.token);
    }
    logits_.clear();
    for (const auto& t : batch) {
      if (!t.logits) continue;
      std::uint64_t h = 1469598103934665603ULL;
      for (std::int64_t p = 0; p <= t.pos;) {
        const auto r = cache_.rows(0, t.seq, p);
        const std::int64_t n = std::min(r.count, t.pos + 1 - p);
        for (std::int64_t j = 0; j < n; ++j) {
          const float v = *reinterpret_cast<const float*>(r.k + j * r.k_stride);
          h = (h ^ static_cast<std::uint64_t>(v)) * 1099511628211ULL;
        }
        p += n;
      }
      std::vector<float> row(kFakeVocab, 0.0f);
      row[h % kFakeVocab] = 1.0f;
      logits_.insert(logits_.end(), row.begin(), row.end());
    }
    return logits_;
  }

  std::int64_t passes = 0;
  std::int64_t max_batch = 0;

 private:
  kvc::PagedKvCache& cache_;
  std::vector<float> logits_;
};

// Greedy client: generates up to max_new tokens; token 0 ends generation.
class FakeClient : public sch::SequenceClient {
 public:
  FakeClient(std::vector<TokenId> prompt, std::int64_t max_new)
      : prompt_(std::move(prompt)), max_new_(max_new) {}

  std::span<const TokenId> prompt() const override { return prompt_; }
  bool cancelled() const override { return cancel.load(); }
  void on_admitted() override { ++admissions; }
  std::optional<TokenId> next(std::span<const float> logits) override {
    const auto best = static_cast<TokenId>(
        std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (best == 0) return std::nullopt;
    out.push_back(best);
    if (on_token) on_token(*this);
    if (static_cast<std::int64_t>(out.size()) == max_new_) return std::nullopt;
    return best;
  }
  void finish(std::exception_ptr e) override {
    ++finishes;
    error = std::move(e);
  }

  std::optional<errc> error_code() const { return error_code_of(error); }

  std::vector<TokenId> out;
  std::exception_ptr error;
  int finishes = 0;
  int admissions = 0;
  std::atomic<bool> cancel{false};
  std::function<void(FakeClient&)> on_token;

 private:
  std::vector<TokenId> prompt_;
  std::int64_t max_new_;
};

// A scheduler over a fake model and a paged cache of `blocks` blocks of `block_size`.
struct FakeEngine {
  FakeEngine(std::int64_t blocks, std::int64_t block_size, std::int64_t n_ctx,
             sch::SchedulerOptions options = {})
      : cache(1, 1, 1, n_ctx, kvc::KvType::f32, block_size, blocks),
        model(cache),
        scheduler(
            cache, [this](std::span<const BatchToken> b) { return model.eval(b); }, kFakeVocab,
            options) {}

  // Steps until idle; fails the test after `limit` steps.
  std::int64_t run(std::int64_t limit = 1000000) {
    std::int64_t n = 0;
    while (scheduler.step()) {
      if (++n > limit) {
        ADD_FAILURE() << "scheduler did not finish in " << limit << " steps";
        break;
      }
    }
    return n;
  }

  kvc::PagedKvCache cache;
  FakeModel model;
  sch::Scheduler scheduler;
};

inline std::vector<TokenId> tokens(std::initializer_list<int> v) {
  return std::vector<TokenId>(v.begin(), v.end());
}

// A prompt of n tokens derived from `seed` (ids in 1..kFakeVocab-1).
inline std::vector<TokenId> prompt_of(int seed, std::int64_t n) {
  std::vector<TokenId> p;
  std::uint32_t x = static_cast<std::uint32_t>(seed) * 2654435761u + 12345u;
  for (std::int64_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    p.push_back(static_cast<TokenId>(1 + (x >> 8) % (kFakeVocab - 1)));
  }
  return p;
}

}  // namespace llmux::test
