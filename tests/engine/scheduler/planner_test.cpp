// plan_step alone: decode first, prompt chunks from the remaining budget, FIFO admission with
// a watermark, preemption of the youngest when a decode needs a block.
#include <gtest/gtest.h>

#include "engine/scheduler/planner.hpp"

namespace llmux::engine::scheduler {
namespace {

TEST(Planner, DecodesFirstThenPromptChunksWithinTheBudget) {
  PlanInput in;
  in.block_size = 16;
  in.token_budget = 10;
  in.free_blocks = 100;
  in.running = {{1, 20, 19, 2, 2}, {2, 30, 29, 2, 2}};
  in.waiting = {{3, 50, 0, 0, 0}, {4, 5, 0, 0, 0}};
  const StepPlan p = plan_step(in);
  ASSERT_EQ(p.chunks.size(), 3u);
  EXPECT_EQ(p.chunks[0].id, 1);
  EXPECT_EQ(p.chunks[0].count, 1);
  EXPECT_TRUE(p.chunks[0].logits);
  EXPECT_EQ(p.chunks[1].id, 2);
  EXPECT_EQ(p.chunks[2].id, 3);
  EXPECT_EQ(p.chunks[2].start, 0);
  EXPECT_EQ(p.chunks[2].count, 8);  // what the budget leaves
  EXPECT_FALSE(p.chunks[2].logits);
  ASSERT_EQ(p.admit.size(), 1u);  // 4 waits: the budget is spent
  EXPECT_EQ(p.admit[0].id, 3);
}

TEST(Planner, PromptChunksAreCappedWhileSequencesDecode) {
  PlanInput in;
  in.block_size = 16;
  in.token_budget = 512;
  in.prefill_while_decoding = 100;
  in.free_blocks = 100;
  in.running = {{1, 20, 19, 2, 2}, {2, 300, 40, 19, 19}};  // 1 decodes, 2 reads its prompt
  in.waiting = {{3, 80, 0, 0, 0}};
  StepPlan p = plan_step(in);
  ASSERT_EQ(p.chunks.size(), 2u);
  EXPECT_EQ(p.chunks[0].id, 1);
  EXPECT_EQ(p.chunks[1].id, 2);
  EXPECT_EQ(p.chunks[1].count, 100);
  EXPECT_TRUE(p.admit.empty());  // the prompt tokens of this step are spent

  in.running[1].n_computed = 260;  // 40 left: the rest goes to the admitted request
  p = plan_step(in);
  ASSERT_EQ(p.chunks.size(), 3u);
  EXPECT_EQ(p.chunks[1].count, 40);
  EXPECT_EQ(p.chunks[2].id, 3);
  EXPECT_EQ(p.chunks[2].count, 60);
  ASSERT_EQ(p.admit.size(), 1u);

  // Nothing decodes: the whole token budget.
  in.running = {{2, 300, 40, 19, 19}};
  p = plan_step(in);
  ASSERT_EQ(p.chunks.size(), 2u);
  EXPECT_EQ(p.chunks[0].count, 260);
  EXPECT_EQ(p.chunks[1].count, 80);

  // 0: no cap.
  in.running = {{1, 20, 19, 2, 2}, {2, 300, 40, 19, 19}};
  in.prefill_while_decoding = 0;
  p = plan_step(in);
  ASSERT_EQ(p.chunks.size(), 3u);
  EXPECT_EQ(p.chunks[1].count, 260);
  EXPECT_EQ(p.chunks[2].count, 80);
}

TEST(Planner, TheHeadOfTheQueueIsNeverOvertaken) {
  PlanInput in;
  in.block_size = 16;
  in.free_blocks = 5;
  in.running = {{1, 20, 19, 2, 2}};
  in.waiting = {{2, 200, 0, 0, 0}, {3, 10, 0, 0, 0}};  // 2 needs 13 blocks; 3 would fit
  const StepPlan p = plan_step(in);
  EXPECT_TRUE(p.admit.empty());
  ASSERT_EQ(p.chunks.size(), 1u);
}

TEST(Planner, AdmissionKeepsAWatermarkForRunningSequences) {
  PlanInput in;
  in.block_size = 16;
  in.free_blocks = 3;
  in.running = {{1, 17, 16, 2, 2}, {2, 17, 16, 2, 2}};
  in.waiting = {{3, 16, 0, 0, 0}};  // one block, plus two of watermark = 3: fits exactly
  EXPECT_EQ(plan_step(in).admit.size(), 1u);
  in.free_blocks = 2;
  EXPECT_TRUE(plan_step(in).admit.empty());
  in.running.clear();  // alone it is admitted whenever its blocks are free
  in.free_blocks = 1;
  EXPECT_EQ(plan_step(in).admit.size(), 1u);
}

TEST(Planner, ADecodeWithoutAFreeBlockPreemptsTheYoungest) {
  PlanInput in;
  in.block_size = 4;
  in.free_blocks = 0;
  // Sequence 1 crosses into a new block; 3 is the youngest.
  in.running = {{1, 9, 8, 2, 2}, {2, 6, 5, 2, 2}, {3, 7, 6, 2, 2}};
  const StepPlan p = plan_step(in);
  ASSERT_EQ(p.preempt.size(), 1u);
  EXPECT_EQ(p.preempt[0], 3);
  ASSERT_EQ(p.chunks.size(), 2u);
  EXPECT_EQ(p.chunks[0].id, 1);
  EXPECT_EQ(p.chunks[1].id, 2);
}

TEST(Planner, TheYoungestPreemptsItselfWhenNothingElseIsLeft) {
  PlanInput in;
  in.block_size = 4;
  in.free_blocks = 0;
  in.running = {{1, 6, 5, 2, 2}, {2, 9, 8, 2, 2}};  // 2 needs a block and is the youngest
  const StepPlan p = plan_step(in);
  ASSERT_EQ(p.preempt.size(), 1u);
  EXPECT_EQ(p.preempt[0], 2);
  ASSERT_EQ(p.chunks.size(), 1u);
  EXPECT_EQ(p.chunks[0].id, 1);
}

TEST(Planner, SharedPrefixesStartAfterTheSharedBlocks) {
  PlanInput in;
  in.block_size = 16;
  in.free_blocks = 10;
  in.waiting = {{1, 40, 32, 2, 0}, {2, 32, 32, 2, 2}};
  const StepPlan p = plan_step(in);
  ASSERT_EQ(p.admit.size(), 2u);
  EXPECT_TRUE(p.admit[0].use_prefix);
  EXPECT_EQ(p.admit[0].start, 32);
  EXPECT_EQ(p.chunks[0].count, 8);
  EXPECT_EQ(p.admit[1].start, 31) << "a whole-prompt match recomputes the last token";
  EXPECT_EQ(p.chunks[1].count, 1);
  EXPECT_TRUE(p.chunks[1].logits);
}

TEST(Planner, MaxRunningLimitsAdmissions) {
  PlanInput in;
  in.free_blocks = 100;
  in.max_running = 2;
  in.running = {{1, 5, 4, 1, 1}};
  in.waiting = {{2, 5, 0, 0, 0}, {3, 5, 0, 0, 0}};
  const StepPlan p = plan_step(in);
  ASSERT_EQ(p.admit.size(), 1u);
  EXPECT_EQ(p.admit[0].id, 2);
}

}  // namespace
}  // namespace llmux::engine::scheduler
