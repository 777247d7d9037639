// The scheduler over a fake model (fake_model.hpp): batching never changes a sequence's
// tokens; cancellation, completion and preemption free blocks; a full cache makes requests
// wait; prompts that can never fit are rejected; shared prefixes give identical outputs.
#include <gtest/gtest.h>

#include <memory>

#include "fake_model.hpp"

namespace llmux::test {
namespace {

// Outputs of each prompt run alone on a fresh engine.
std::vector<std::vector<TokenId>> alone(const std::vector<std::vector<TokenId>>& prompts,
                                        std::int64_t max_new, std::int64_t n_ctx = 256) {
  std::vector<std::vector<TokenId>> out;
  for (const auto& p : prompts) {
    FakeEngine e(64, 16, n_ctx);
    auto c = std::make_shared<FakeClient>(p, max_new);
    e.scheduler.submit(c);
    e.run();
    EXPECT_EQ(c->finishes, 1);
    EXPECT_FALSE(c->error);
    out.push_back(c->out);
  }
  return out;
}

std::vector<std::vector<TokenId>> distinct_prompts(int n, std::int64_t base_len) {
  std::vector<std::vector<TokenId>> prompts;
  for (int i = 0; i < n; ++i) prompts.push_back(prompt_of(i, base_len + i % 7));
  return prompts;
}

TEST(Scheduler, SixteenTogetherGiveTheSameTokensAsEachAlone) {
  const auto prompts = distinct_prompts(16, 20);
  const auto expected = alone(prompts, 40);
  FakeEngine e(256, 16, 256, {.token_budget = 64, .max_running = 16});
  std::vector<std::shared_ptr<FakeClient>> clients;
  for (const auto& p : prompts) {
    clients.push_back(std::make_shared<FakeClient>(p, 40));
    e.scheduler.submit(clients.back());
  }
  e.run();
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(clients[i]->finishes, 1);
    EXPECT_FALSE(clients[i]->error);
    EXPECT_EQ(clients[i]->out, expected[i]) << "request " << i;
  }
  EXPECT_GE(e.model.max_batch, 16);  // decodes of all sixteen shared passes
  EXPECT_EQ(e.cache.used_blocks(), 0);
}

TEST(Scheduler, ChunkedPrefillSharesPassesWithDecodes) {
  // A long prompt arrives while another sequence decodes: the prompt is read in chunks of the
  // budget, and the decoding sequence gets a token in every one of those passes.
  FakeEngine e(256, 16, 512, {.token_budget = 32, .max_running = 8});
  auto first = std::make_shared<FakeClient>(prompt_of(1, 8), 100);
  e.scheduler.submit(first);
  e.scheduler.step();  // its prompt
  ASSERT_EQ(first->out.size(), 1u);
  auto longer = std::make_shared<FakeClient>(prompt_of(2, 300), 5);
  e.scheduler.submit(longer);
  for (int i = 0; i < 5; ++i) e.scheduler.step();
  EXPECT_EQ(first->out.size(), 6u) << "a decode in every pass during the chunked prefill";
  EXPECT_TRUE(longer->out.empty()) << "300 tokens at 31 per pass take ten passes";
  e.run();
  EXPECT_EQ(longer->out, alone({prompt_of(2, 300)}, 5, 512)[0]);
}

TEST(Scheduler, PromptChunksAreCappedWhileSequencesDecode) {
  // A 300-token prompt arrives while a sequence decodes: with a budget of 256 the passes would
  // read 255 prompt tokens and the decoding sequence would wait for them; capped at 20 while it
  // decodes, every pass reads one decode and 20 prompt tokens.
  FakeEngine e(256, 16, 512, {.token_budget = 256, .prefill_while_decoding = 20, .max_running = 8});
  auto first = std::make_shared<FakeClient>(prompt_of(1, 8), 100);
  e.scheduler.submit(first);
  e.scheduler.step();
  ASSERT_EQ(first->out.size(), 1u);
  EXPECT_EQ(e.model.max_batch, 8);
  auto longer = std::make_shared<FakeClient>(prompt_of(2, 300), 5);
  e.scheduler.submit(longer);
  for (int i = 0; i < 5; ++i) e.scheduler.step();
  EXPECT_EQ(first->out.size(), 6u);
  EXPECT_EQ(e.model.max_batch, 21);
  EXPECT_TRUE(longer->out.empty());
  e.run();
  EXPECT_EQ(first->out, alone({prompt_of(1, 8)}, 100, 512)[0]);
  EXPECT_EQ(longer->out, alone({prompt_of(2, 300)}, 5, 512)[0]);
}

TEST(Scheduler, ThousandQueuedRequestsCompleteAndFreeEverything) {
  FakeEngine e(24, 4, 64, {.token_budget = 48, .max_running = 16});
  std::vector<std::shared_ptr<FakeClient>> clients;
  for (int i = 0; i < 1000; ++i) {
    clients.push_back(std::make_shared<FakeClient>(prompt_of(i, 3 + i % 9), 1 + i % 11));
    e.scheduler.submit(clients.back());
  }
  e.run();
  std::size_t generated = 0;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(clients[i]->finishes, 1);
    ASSERT_FALSE(clients[i]->error);
    ASSERT_LE(clients[i]->out.size(), static_cast<std::size_t>(1 + i % 11));
    generated += clients[i]->out.size();
  }
  EXPECT_GT(generated, 3000u);
  EXPECT_EQ(e.cache.used_blocks(), 0);
  EXPECT_EQ(e.scheduler.stats().running, 0);
  EXPECT_EQ(e.scheduler.stats().waiting, 0);
}

TEST(Scheduler, CancellingARunningAndAQueuedRequestFreesTheirBlocks) {
  FakeEngine e(64, 4, 128, {.token_budget = 64, .max_running = 1});
  auto running = std::make_shared<FakeClient>(prompt_of(5, 10), 1000);
  auto queued = std::make_shared<FakeClient>(prompt_of(6, 10), 1000);
  e.scheduler.submit(running);
  e.scheduler.submit(queued);
  for (int i = 0; i < 5; ++i) e.scheduler.step();
  EXPECT_GT(e.cache.used_blocks(), 0);
  EXPECT_EQ(e.scheduler.stats().waiting, 1);  // max_running = 1
  const auto tokens_before = running->out.size();
  running->cancel = true;
  queued->cancel = true;
  e.scheduler.step();
  EXPECT_EQ(running->finishes, 1);
  EXPECT_EQ(queued->finishes, 1);
  EXPECT_EQ(running->error_code(), errc::cancelled);
  EXPECT_EQ(queued->error_code(), errc::cancelled);
  EXPECT_EQ(running->out.size(), tokens_before) << "no token after the cancel";
  EXPECT_TRUE(queued->out.empty());
  EXPECT_EQ(e.cache.used_blocks(), 0);
  EXPECT_FALSE(e.scheduler.step());
}

TEST(Scheduler, CancellationSeenAtTheNextStep) {
  FakeEngine e(64, 4, 128);
  auto c = std::make_shared<FakeClient>(prompt_of(7, 5), 1000);
  c->on_token = [](FakeClient& self) {
    if (self.out.size() == 3) self.cancel = true;
  };
  e.scheduler.submit(c);
  e.run();
  EXPECT_EQ(c->error_code(), errc::cancelled);
  EXPECT_EQ(c->out.size(), 3u);
}

TEST(Scheduler, PromptsThatCanNeverFitAreRejectedAtOnce) {
  FakeEngine e(64, 4, 32);
  auto too_long = std::make_shared<FakeClient>(prompt_of(1, 32), 4);
  auto empty = std::make_shared<FakeClient>(std::vector<TokenId>{}, 4);
  e.scheduler.submit(too_long);
  e.scheduler.submit(empty);
  EXPECT_EQ(too_long->finishes, 1);
  EXPECT_EQ(too_long->error_code(), errc::context_length_exceeded);
  EXPECT_EQ(empty->error_code(), errc::invalid_argument);
  EXPECT_FALSE(e.scheduler.step());
  auto fits = std::make_shared<FakeClient>(prompt_of(1, 31), 1);
  e.scheduler.submit(fits);
  e.run();
  EXPECT_FALSE(fits->error);
}

TEST(Scheduler, AFullCacheMakesRequestsWaitNotFail) {
  // 12 blocks of 4 positions = 48 positions for 8 requests of 10-16 + 26 tokens: they cannot all
  // run at once; some wait or are preempted and recomputed, and every one completes with the
  // tokens it has alone.
  const auto prompts = distinct_prompts(8, 10);
  std::vector<std::vector<TokenId>> expected;
  for (const auto& p : prompts) expected.push_back(alone({p}, 26, 44)[0]);
  FakeEngine e(12, 4, 44, {.token_budget = 64, .max_running = 8});
  std::vector<std::shared_ptr<FakeClient>> clients;
  for (const auto& p : prompts) {
    clients.push_back(std::make_shared<FakeClient>(p, 26));
    e.scheduler.submit(clients.back());
  }
  e.run();
  for (std::size_t i = 0; i < clients.size(); ++i) {
    EXPECT_FALSE(clients[i]->error) << i;
    EXPECT_EQ(clients[i]->out, expected[i]) << i;
    EXPECT_EQ(clients[i]->admissions, 1) << "on_admitted once, also when preempted";
  }
  EXPECT_GT(e.scheduler.stats().preemptions, 0) << "the cache was meant to run out";
  EXPECT_EQ(e.cache.used_blocks(), 0);
}

TEST(Scheduler, SharedPrefixesGiveTheSameOutputsAsNoSharing) {
  const auto system = prompt_of(42, 37);  // two whole blocks of 16 and a part
  std::vector<std::vector<TokenId>> prompts;
  for (int i = 0; i < 6; ++i) {
    auto p = system;
    const auto tail = prompt_of(100 + i, 3 + i);
    p.insert(p.end(), tail.begin(), tail.end());
    prompts.push_back(p);
  }
  prompts.push_back(std::vector<TokenId>(system.begin(), system.begin() + 32));  // whole blocks
  prompts.push_back(std::vector<TokenId>(system.begin(), system.begin() + 32));  // same again
  const auto expected = alone(prompts, 20);

  FakeEngine e(64, 16, 256, {.token_budget = 64, .max_running = 4});
  std::vector<std::shared_ptr<FakeClient>> clients;
  for (const auto& p : prompts) {
    clients.push_back(std::make_shared<FakeClient>(p, 20));
    e.scheduler.submit(clients.back());
  }
  e.run();
  for (std::size_t i = 0; i < clients.size(); ++i) {
    EXPECT_FALSE(clients[i]->error) << i;
    EXPECT_EQ(clients[i]->out, expected[i]) << i;
  }
  EXPECT_GE(e.scheduler.stats().prefix_positions_reused, 5 * 32);
  EXPECT_GT(e.cache.copies(), 0) << "a prompt found whole recomputes its last token in a copy";
  EXPECT_EQ(e.cache.used_blocks(), 0);
  EXPECT_GT(e.cache.cached_blocks(), 0) << "published blocks stay cached for later requests";
  // A later request with the same system prompt reuses the cached blocks.
  const auto reused = e.scheduler.stats().prefix_positions_reused;
  auto later = std::make_shared<FakeClient>(prompts[0], 20);
  e.scheduler.submit(later);
  e.run();
  EXPECT_EQ(later->out, expected[0]);
  EXPECT_GE(e.scheduler.stats().prefix_positions_reused, reused + 32);
}

TEST(Scheduler, AFailingForwardPassFailsItsSequencesOnly) {
  kvc::PagedKvCache cache(1, 1, 1, 64, kvc::KvType::f32, 4, 32);
  FakeModel model(cache);
  bool fail = false;
  sch::Scheduler s(
      cache,
      [&](std::span<const BatchToken> b) -> std::span<const float> {
        if (fail) throw_error(errc::server_error, "boom");
        return model.eval(b);
      },
      kFakeVocab);
  auto a = std::make_shared<FakeClient>(prompt_of(1, 4), 50);
  s.submit(a);
  s.step();
  fail = true;
  s.step();
  EXPECT_EQ(a->error_code(), errc::server_error);
  EXPECT_EQ(cache.used_blocks(), 0);
  fail = false;
  auto b = std::make_shared<FakeClient>(prompt_of(2, 4), 3);
  s.submit(b);
  while (s.step()) {
  }
  EXPECT_FALSE(b->error);
  EXPECT_EQ(b->out.size(), 3u);
}

TEST(Scheduler, AbandonFinishesEverything) {
  FakeEngine e(64, 4, 128, {.token_budget = 64, .max_running = 1});
  auto a = std::make_shared<FakeClient>(prompt_of(1, 4), 50);
  auto b = std::make_shared<FakeClient>(prompt_of(2, 4), 50);
  e.scheduler.submit(a);
  e.scheduler.step();
  e.scheduler.submit(b);
  e.scheduler.stop();
  e.scheduler.abandon(make_error(errc::cancelled, "unloaded"));
  EXPECT_EQ(a->error_code(), errc::cancelled);
  EXPECT_EQ(b->error_code(), errc::cancelled);
  EXPECT_EQ(e.cache.used_blocks(), 0);
  auto late = std::make_shared<FakeClient>(prompt_of(3, 4), 5);
  e.scheduler.submit(late);
  EXPECT_EQ(late->error_code(), errc::cancelled) << "submit after stop completes at once";
}

}  // namespace
}  // namespace llmux::test
