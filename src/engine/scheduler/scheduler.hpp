// Continuous batching for one loaded model: every in-flight request is a sequence in a paged KV
// cache, and each step() runs ONE forward pass that decodes a token for every running sequence
// and fills the rest of a token budget with prompt chunks of waiting ones (chunked prefill).
// Planning is the pure plan_step() (planner.hpp); this class applies plans: admission (with
// prefix sharing), preemption, the batch, sampling through each sequence's client, completion.
//
// A request is a SequenceClient: it supplies the prompt and chooses each next token from its
// logits (its own sampler, stop strings, events), so requests with different sampling options
// share passes. The forward pass is a function, so tests run the scheduler on a fake model.
//
// Thread safety: submit() and wake() from any thread. step() and the client callbacks run on
// one thread (the model's compute thread; a test's thread). Results do not depend on batching:
// the forward pass gives every sequence the same values alone or with others.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "engine/kv_cache/paged_kv_cache.hpp"
#include "engine/model/model.hpp"
#include "engine/scheduler/planner.hpp"

namespace llmux::engine::scheduler {

using model::TokenId;

class SequenceClient {
 public:
  virtual ~SequenceClient() = default;
  // The prompt tokens (read once, at submit).
  virtual std::span<const TokenId> prompt() const = 0;
  // Whether the caller asked to stop; read before every step (from the scheduler's thread).
  virtual bool cancelled() const = 0;
  // The first chunk of the prompt is about to be evaluated.
  virtual void on_admitted() {}
  // Logits after the sequence's last token: the next token, or nullopt when the sequence is
  // complete (end of generation, stop string, length). May throw; the request then fails.
  virtual std::optional<TokenId> next(std::span<const float> logits) = 0;
  // Called once, when the sequence leaves the scheduler: error is null after next() returned
  // nullopt; otherwise cancelled, context_length_exceeded (rejected), or a failure.
  virtual void finish(std::exception_ptr error) = 0;
};

struct SchedulerOptions {
  std::int64_t token_budget = 512;  // tokens per forward pass (decodes plus prompt chunks)
  // Prompt tokens per forward pass while sequences decode in it (0: the rest of token_budget):
  // the decoding sequences wait for every step, so this bounds their inter-token latency while
  // other requests' prompts are read, at some cost in those requests' time to first token.
  std::int64_t prefill_while_decoding = 128;
  std::int64_t max_running = 64;    // sequences in a batch
};

struct SchedulerStats {
  std::int64_t running = 0;
  std::int64_t waiting = 0;
  std::int64_t steps = 0;
  std::int64_t preemptions = 0;
  std::int64_t prefix_positions_reused = 0;  // prompt positions not computed thanks to sharing
  std::int64_t kv_blocks_used = 0;           // blocks held by sequences after the last step
};

class Scheduler {
 public:
  using EvalFn = std::function<std::span<const float>(std::span<const model::BatchToken>)>;

  Scheduler(kv_cache::PagedKvCache& cache, EvalFn eval, std::int64_t n_vocab,
            SchedulerOptions options = {});
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. A prompt that can never fit (empty, or not shorter than the context)
  // is rejected at once: the client's finish() gets context_length_exceeded / invalid_argument
  // before submit returns.
  void submit(std::shared_ptr<SequenceClient> client);

  // One forward pass over the planned batch (and completion of cancelled or finished
  // sequences). Returns false when there was nothing to do.
  bool step();
  // Whether step() has anything to do (the stepping thread).
  bool has_work() const;

  // Blocks until there is work, wake() is called, or stop() is called. Returns false after stop.
  bool wait_for_work();
  // Wakes wait_for_work (a client was cancelled). Thread-safe.
  void wake();
  // Makes wait_for_work return false from now on.
  void stop();
  // Finishes every sequence, queued or running, with `error` (on the calling thread, which
  // must be the stepping thread or the stepping must have ended).
  void abandon(std::exception_ptr error);

  SchedulerStats stats() const;

 private:
  struct Seq {
    std::shared_ptr<SequenceClient> client;
    model::SeqId id = 0;
    std::vector<TokenId> tokens;
    std::int64_t n_computed = 0;
    bool admitted_once = false;
  };

  model::SeqId next_id();
  void drain_incoming();
  void drop_cancelled();
  void finish(Seq& seq, std::exception_ptr error);
  PlanInput plan_input(std::vector<kv_cache::PrefixMatch>& matches) const;
  void publish_stats(bool stepped);
  void apply_preemptions(const StepPlan& plan);
  void apply_admissions(const StepPlan& plan, const std::vector<kv_cache::PrefixMatch>& matches);
  Seq* find_running(std::int64_t id);

  kv_cache::PagedKvCache& cache_;
  EvalFn eval_;
  std::int64_t n_vocab_;
  SchedulerOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Seq> incoming_;
  bool woken_ = false;
  bool stopped_ = false;

  // Stepping thread only.
  std::vector<Seq> running_;  // admission order
  std::deque<Seq> waiting_;
  model::SeqId last_id_ = 0;
  std::int64_t preemptions_ = 0;
  std::int64_t prefix_reused_ = 0;
  SchedulerStats stats_;  // guarded by mutex_
};

}  // namespace llmux::engine::scheduler
