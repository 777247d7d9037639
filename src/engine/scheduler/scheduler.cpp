#include "engine/scheduler/scheduler.hpp"

#include <algorithm>

#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::engine::scheduler {

Scheduler::Scheduler(kv_cache::PagedKvCache& cache, EvalFn eval, std::int64_t n_vocab,
                     SchedulerOptions options)
    : cache_(cache), eval_(std::move(eval)), n_vocab_(n_vocab), options_(options) {
  options_.token_budget = std::max<std::int64_t>(1, options_.token_budget);
  options_.max_running = std::clamp<std::int64_t>(options_.max_running, 1, options_.token_budget);
  options_.prefill_while_decoding = std::max<std::int64_t>(0, options_.prefill_while_decoding);
}

void Scheduler::submit(std::shared_ptr<SequenceClient> client) {
  Seq seq;
  const auto prompt = client->prompt();
  seq.tokens.assign(prompt.begin(), prompt.end());
  seq.client = std::move(client);
  const auto n = static_cast<std::int64_t>(seq.tokens.size());
  if (n == 0) {
    seq.client->finish(make_error(errc::invalid_argument, "the prompt is empty"));
    return;
  }
  if (n >= cache_.max_positions()) {
    seq.client->finish(make_error(
        errc::context_length_exceeded,
        fmt::format("the prompt has {} tokens and does not fit the context of {} tokens", n,
                    cache_.max_positions())));
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (!stopped_) {
      incoming_.push_back(std::move(seq));
      seq.client = nullptr;
    }
  }
  if (seq.client) {
    seq.client->finish(make_error(errc::cancelled, "the local model is shutting down"));
    return;
  }
  cv_.notify_one();
}

void Scheduler::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_one();
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool Scheduler::wait_for_work() {
  std::unique_lock lock(mutex_);
  if (stopped_) return false;
  if (!running_.empty() || !waiting_.empty()) return true;
  cv_.wait(lock, [&] { return stopped_ || woken_ || !incoming_.empty(); });
  woken_ = false;
  return !stopped_;
}

bool Scheduler::has_work() const {
  std::lock_guard lock(mutex_);
  return !running_.empty() || !waiting_.empty() || !incoming_.empty();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

model::SeqId Scheduler::next_id() {
  // Ids of finished sequences may be reused after a wrap; live ones are skipped.
  for (;;) {
    last_id_ = last_id_ == INT32_MAX ? 1 : last_id_ + 1;
    const bool live = std::any_of(running_.begin(), running_.end(),
                                  [&](const Seq& s) { return s.id == last_id_; }) ||
                      std::any_of(waiting_.begin(), waiting_.end(),
                                  [&](const Seq& s) { return s.id == last_id_; });
    if (!live) return last_id_;
  }
}

void Scheduler::drain_incoming() {
  std::deque<Seq> fresh;
  {
    std::lock_guard lock(mutex_);
    fresh.swap(incoming_);
  }
  for (Seq& s : fresh) {
    s.id = next_id();
    waiting_.push_back(std::move(s));
  }
}

void Scheduler::finish(Seq& seq, std::exception_ptr error) {
  cache_.remove(seq.id);
  auto client = std::move(seq.client);
  try {
    client->finish(std::move(error));
  } catch (...) {
    // A client's completion must not take the batch down; it owns its own error reporting.
  }
}

void Scheduler::drop_cancelled() {
  const auto drop = [&](auto& list) {
    for (auto it = list.begin(); it != list.end();) {
      if (it->client->cancelled()) {
        finish(*it, make_error(errc::cancelled, "local request cancelled"));
        it = list.erase(it);
      } else {
        ++it;
      }
    }
  };
  drop(running_);
  drop(waiting_);
}

PlanInput Scheduler::plan_input(std::vector<kv_cache::PrefixMatch>& matches) const {
  PlanInput in;
  in.free_blocks = cache_.free_blocks();
  in.block_size = cache_.block_size();
  in.token_budget = options_.token_budget;
  in.prefill_while_decoding = options_.prefill_while_decoding;
  in.max_running = options_.max_running;
  for (const Seq& s : running_) {
    in.running.push_back({s.id, static_cast<std::int64_t>(s.tokens.size()), s.n_computed,
                          cache_.blocks_of(s.id), cache_.exclusive_blocks_of(s.id)});
  }
  // Only the sequences that could be admitted in this step are looked up.
  const auto room = static_cast<std::size_t>(
      std::max<std::int64_t>(0, options_.max_running - static_cast<std::int64_t>(running_.size())));
  const std::size_t n = std::min(waiting_.size(), room);
  matches.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Seq& s = waiting_[i];
    matches[i] = cache_.match_prefix(s.tokens);
    in.waiting.push_back({s.id, static_cast<std::int64_t>(s.tokens.size()), matches[i].positions,
                          static_cast<std::int64_t>(matches[i].blocks.size()),
                          matches[i].unheld});
  }
  return in;
}

Scheduler::Seq* Scheduler::find_running(std::int64_t id) {
  for (Seq& s : running_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

void Scheduler::apply_preemptions(const StepPlan& plan) {
  // Youngest first in the plan; each goes to the head of the queue, so the oldest ends first.
  for (const std::int64_t id : plan.preempt) {
    const auto it = std::find_if(running_.begin(), running_.end(),
                                 [&](const Seq& s) { return s.id == id; });
    cache_.remove(it->id);
    it->n_computed = 0;
    waiting_.push_front(std::move(*it));
    running_.erase(it);
    ++preemptions_;
  }
}

void Scheduler::apply_admissions(const StepPlan& plan,
                                 const std::vector<kv_cache::PrefixMatch>& matches) {
  // Admitted sequences are a prefix of the queue (as planned before the preemptions, which
  // the planner's queue did not contain): find each by id.
  for (const Admission& a : plan.admit) {
    const auto it = std::find_if(waiting_.begin(), waiting_.end(),
                                 [&](const Seq& s) { return s.id == a.id; });
    Seq seq = std::move(*it);
    waiting_.erase(it);
    if (a.use_prefix) {
      const auto index = static_cast<std::size_t>(
          std::find_if(plan.admit.begin(), plan.admit.end(),
                       [&](const Admission& x) { return x.id == a.id; }) -
          plan.admit.begin());
      cache_.attach_prefix(seq.id, matches[index]);
      prefix_reused_ += a.start;
    }
    seq.n_computed = a.start;
    running_.push_back(std::move(seq));
  }
  // Blocks for the whole prompt now, after every shared prefix is attached (so none of the
  // matched cached blocks is taken for storage first).
  for (const Admission& a : plan.admit) {
    Seq* s = find_running(a.id);
    cache_.reserve(s->id, static_cast<std::int64_t>(s->tokens.size()));
    if (!s->admitted_once) {
      s->admitted_once = true;
      s->client->on_admitted();
    }
  }
}

bool Scheduler::step() {
  drain_incoming();
  drop_cancelled();
  std::vector<kv_cache::PrefixMatch> matches;
  const StepPlan plan = plan_step(plan_input(matches));
  if (plan.empty()) {
    publish_stats(false);
    return false;
  }
  apply_preemptions(plan);
  apply_admissions(plan, matches);

  std::vector<model::BatchToken> batch;
  for (const Chunk& c : plan.chunks) {
    Seq* s = find_running(c.id);
    cache_.reserve(s->id, c.start + c.count);
    for (std::int64_t p = c.start; p < c.start + c.count; ++p) {
      batch.push_back({s->tokens[static_cast<std::size_t>(p)], p, s->id,
                       c.logits && p + 1 == c.start + c.count});
    }
  }
  std::span<const float> logits;
  std::exception_ptr failure;
  try {
    logits = eval_(batch);
  } catch (...) {
    failure = std::current_exception();
  }

  std::size_t row = 0;
  std::vector<std::int64_t> done;
  for (const Chunk& c : plan.chunks) {
    Seq* s = find_running(c.id);
    if (failure) {
      finish(*s, failure);
      done.push_back(c.id);
      continue;
    }
    s->n_computed = c.start + c.count;
    cache_.publish(s->id, s->tokens, s->n_computed);
    if (!c.logits) continue;
    const auto n = static_cast<std::size_t>(n_vocab_);
    std::optional<TokenId> token;
    std::exception_ptr error;
    try {
      token = s->client->next(logits.subspan(row * n, n));
    } catch (...) {
      error = std::current_exception();
    }
    ++row;
    if (!token || error) {
      finish(*s, error);
      done.push_back(c.id);
      continue;
    }
    s->tokens.push_back(*token);
    if (static_cast<std::int64_t>(s->tokens.size()) > cache_.max_positions()) {
      finish(*s, make_error(errc::context_length_exceeded,
                            "the sequence reached the end of the context"));
      done.push_back(c.id);
    }
  }
  std::erase_if(running_, [&](const Seq& s) {
    return std::find(done.begin(), done.end(), s.id) != done.end();
  });
  publish_stats(true);
  return true;
}

void Scheduler::publish_stats(bool stepped) {
  std::lock_guard lock(mutex_);
  if (stepped) ++stats_.steps;
  stats_.running = static_cast<std::int64_t>(running_.size());
  stats_.waiting = static_cast<std::int64_t>(waiting_.size());
  stats_.preemptions = preemptions_;
  stats_.prefix_positions_reused = prefix_reused_;
  stats_.kv_blocks_used = cache_.used_blocks();
}

void Scheduler::abandon(std::exception_ptr error) {
  drain_incoming();
  for (Seq& s : running_) finish(s, error);
  for (Seq& s : waiting_) finish(s, error);
  running_.clear();
  waiting_.clear();
  publish_stats(false);
}

}  // namespace llmux::engine::scheduler
