#include "engine/scheduler/planner.hpp"

#include <algorithm>

namespace llmux::engine::scheduler {
namespace {

std::int64_t blocks_for(std::int64_t n, std::int64_t block_size) {
  return (n + block_size - 1) / block_size;
}

}  // namespace

StepPlan plan_step(const PlanInput& in) {
  StepPlan plan;
  const std::int64_t bs = std::max<std::int64_t>(1, in.block_size);
  std::int64_t free = in.free_blocks;
  std::int64_t budget = std::max<std::int64_t>(1, in.token_budget);

  // Running sequences still in the batch (preempted ones are removed), oldest first.
  std::vector<RunningView> running = in.running;
  std::vector<bool> planned(running.size(), false);
  const auto preempt_youngest = [&](std::size_t self) {
    // The youngest sequence not planned yet; `self` is not planned yet either.
    std::size_t victim = running.size();
    while (victim-- > 0) {
      if (!planned[victim] || victim == self) break;
    }
    plan.preempt.push_back(running[victim].id);
    free += running[victim].blocks_exclusive;
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(victim));
    planned.erase(planned.begin() + static_cast<std::ptrdiff_t>(victim));
    return victim;
  };

  // 1. Decodes.
  for (std::size_t i = 0; i < running.size(); ++i) {
    RunningView& r = running[i];
    if (r.n_computed + 1 != r.n_tokens) continue;  // still reading its prompt
    if (budget == 0) break;
    const std::int64_t need = blocks_for(r.n_computed + 1, bs) - r.blocks_held;
    bool self_preempted = false;
    while (need > free) {
      if (preempt_youngest(i) == i) {
        self_preempted = true;
        break;
      }
    }
    if (self_preempted) {
      --i;  // the next sequence moved into slot i
      continue;
    }
    free -= std::max<std::int64_t>(0, need);
    planned[i] = true;
    plan.chunks.push_back({r.id, r.n_computed, 1, true});
    --budget;
  }

  // Prompt chunks take what the decodes leave, capped while there are decodes.
  const bool decoding = !plan.chunks.empty();
  if (decoding && in.prefill_while_decoding > 0) budget = std::min(budget, in.prefill_while_decoding);

  // 2. Prompt chunks of running sequences.
  for (std::size_t i = 0; i < running.size() && budget > 0; ++i) {
    const RunningView& r = running[i];
    if (planned[i] || r.n_computed + 1 >= r.n_tokens) continue;
    const std::int64_t count = std::min(r.n_tokens - r.n_computed, budget);
    plan.chunks.push_back({r.id, r.n_computed, count, r.n_computed + count == r.n_tokens});
    planned[i] = true;
    budget -= count;
  }

  // 3. Admissions, strictly in queue order.
  auto n_running = static_cast<std::int64_t>(running.size());
  for (const WaitingView& w : in.waiting) {
    if (budget == 0 || n_running >= in.max_running) break;
    bool use_prefix = w.shared_blocks > 0;
    const auto blocks_needed = [&] {
      // A prompt found whole in the cache still evaluates its last token (for its logits),
      // writing into a shared block: one more block for the copy.
      const bool whole = use_prefix && w.shared_positions >= w.n_tokens;
      return blocks_for(w.n_tokens, bs) -
             (use_prefix ? w.shared_blocks - w.shared_unheld - (whole ? 1 : 0) : 0);
    };
    std::int64_t need = blocks_needed();
    if (n_running == 0 && need > free && use_prefix) {
      use_prefix = false;  // alone it always fits without sharing
      need = blocks_needed();
    }
    const std::int64_t watermark = n_running;
    if (need + watermark > free && !(n_running == 0 && need <= free)) break;
    const bool whole = use_prefix && w.shared_positions >= w.n_tokens;
    const std::int64_t start = !use_prefix ? 0 : whole ? w.n_tokens - 1 : w.shared_positions;
    free -= need;
    plan.admit.push_back({w.id, start, use_prefix});
    const std::int64_t count = std::min(w.n_tokens - start, budget);
    plan.chunks.push_back({w.id, start, count, start + count == w.n_tokens});
    budget -= count;
    ++n_running;
  }
  return plan;
}

}  // namespace llmux::engine::scheduler
