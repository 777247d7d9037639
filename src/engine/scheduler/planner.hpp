// The planning half of continuous batching: a pure function from the state of the sequences
// and the KV cache's free capacity to what one forward pass does. The scheduler applies the plan
// (scheduler.hpp); tests drive the planner alone.
//
// Rules, in order:
//  1. Every running sequence whose prompt is done decodes one token (its pending token), oldest
//     first. When it needs a new cache block and none is free, the youngest running sequence
//     (possibly itself) is preempted: its blocks are freed and it goes back to the head of the
//     waiting queue, to be recomputed later (its generated tokens are kept).
//  2. Running sequences still reading their prompt get prompt chunks from the remaining token
//     budget (their blocks were reserved when they were admitted). While some sequence decodes
//     in this step, prompt chunks (rules 2 and 3 together) take at most prefill_while_decoding
//     tokens: a step is as long as the tokens it reads, and the decoding sequences wait for it,
//     so this bounds their inter-token latency while long prompts are read.
//  3. Waiting sequences are admitted strictly first-in first-out (a large request at the head
//     is never overtaken, so it cannot starve) while the token budget, the running limit and
//     the free blocks allow: the blocks of its whole prompt (minus a shared prefix) plus a
//     watermark of one block per running sequence, so admitting does not force a preemption
//     at the next decode. With nothing running, the head is admitted whenever its prompt fits.
#pragma once

#include <cstdint>
#include <vector>

namespace llmux::engine::scheduler {

struct RunningView {
  std::int64_t id = 0;
  std::int64_t n_tokens = 0;    // tokens known: prompt plus generated
  std::int64_t n_computed = 0;  // positions already in the cache
  std::int64_t blocks_held = 0;
  std::int64_t blocks_exclusive = 0;  // held blocks nobody else holds (freed by a preemption)
};

struct WaitingView {
  std::int64_t id = 0;
  std::int64_t n_tokens = 0;
  // A prefix found in the cache: positions and blocks it covers, and how many of those blocks
  // nobody holds now (attaching them uses free capacity).
  std::int64_t shared_positions = 0;
  std::int64_t shared_blocks = 0;
  std::int64_t shared_unheld = 0;
};

struct PlanInput {
  std::vector<RunningView> running;  // admission order, oldest first
  std::vector<WaitingView> waiting;  // queue order
  std::int64_t free_blocks = 0;
  std::int64_t block_size = 16;
  std::int64_t token_budget = 512;  // tokens per forward pass
  // Prompt tokens per forward pass while some sequence decodes in it (0: token_budget's rest).
  std::int64_t prefill_while_decoding = 0;
  std::int64_t max_running = 64;
};

struct Chunk {
  std::int64_t id = 0;
  std::int64_t start = 0;  // first position evaluated
  std::int64_t count = 0;
  bool logits = false;  // the chunk ends at the sequence's last token: sample after it
};

struct Admission {
  std::int64_t id = 0;
  std::int64_t start = 0;  // where computation starts (after the shared prefix)
  bool use_prefix = false;
};

struct StepPlan {
  std::vector<std::int64_t> preempt;  // running ids, youngest first
  std::vector<Admission> admit;       // waiting ids, queue order
  std::vector<Chunk> chunks;          // the batch, in order
  bool empty() const noexcept { return chunks.empty(); }
};

StepPlan plan_step(const PlanInput& in);

}  // namespace llmux::engine::scheduler
