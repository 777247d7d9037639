// Continuous batching on the fixture models through the model's Worker: a request's greedy
// tokens are the same alone and batched with fifteen others, shared prefixes change nothing,
// cancelled requests free their blocks.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <future>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include <llmux/error.hpp>

#include "engine/generation/worker.hpp"
#include "local_test_support.hpp"

namespace llmux::test {
namespace {

namespace gen = engine::generation;

std::string model_path(const std::string& file) { return fixture_model(file); }

struct Submitted {
  std::shared_ptr<gen::Job> job;
  std::shared_ptr<std::promise<void>> done = std::make_shared<std::promise<void>>();
  std::future<void> future = done->get_future();
};

Submitted submit(gen::Worker& w, Request r) {
  Submitted s;
  s.job = std::make_shared<gen::Job>();
  s.job->request = std::move(r);
  s.job->notify = [p = s.done] { p->set_value(); };
  w.submit(s.job);
  return s;
}

Response wait(Submitted& s) {
  s.future.wait();
  if (s.job->error) std::rethrow_exception(s.job->error);
  return s.job->response;
}

// The worker's counters are published after each step, a moment after the last request
// completed: the counters once every request has left the scheduler (or after 5 s).
engine::scheduler::SchedulerStats settled(const gen::Worker& w) {
  for (int i = 0; i < 5000; ++i) {
    const auto s = w.stats();
    if (s.running + s.waiting == 0 && s.kv_blocks_used == 0) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return w.stats();
}

std::vector<std::string> prompts(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(fmt::format("Request {} asks about {} and {}", i, i * 7 % 13, "x" + std::string(i % 5, 'y')));
  }
  return out;
}

class Batching : public ::testing::TestWithParam<std::string> {};

TEST_P(Batching, AloneAndWithFifteenOthersGiveTheSameTokens) {
  auto model = gen::LoadedModel::load(model_path(GetParam()));
  const auto texts = prompts(16);
  std::vector<Response> alone;
  {
    gen::Worker w(model, {.n_threads = 2, .n_ctx = 256});
    for (const auto& t : texts) {
      auto s = submit(w, raw_request(t, 24));
      alone.push_back(wait(s));
    }
  }
  gen::Worker w(model, {.n_threads = 2, .n_ctx = 256},
                {.scheduler = {.token_budget = 128, .max_running = 16}});
  std::vector<Submitted> together;
  for (const auto& t : texts) together.push_back(submit(w, raw_request(t, 24)));
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Response r = wait(together[i]);
    EXPECT_EQ(r.content, alone[i].content) << "request " << i;
    EXPECT_EQ(r.usage.output_tokens, alone[i].usage.output_tokens) << "request " << i;
    EXPECT_EQ(r.finish_reason, alone[i].finish_reason) << "request " << i;
  }
  const auto stats = settled(w);
  EXPECT_GT(stats.steps, 0);
  EXPECT_LT(stats.steps, 16 * 25) << "requests shared forward passes";
  EXPECT_EQ(stats.kv_blocks_used, 0);
}

TEST_P(Batching, SharedPrefixesGiveTheSameTokensAsNoSharing) {
  auto model = gen::LoadedModel::load(model_path(GetParam()));
  const std::string system =
      "You are a careful assistant. Answer briefly, cite sources, and never invent facts. "
      "The document follows: the quick brown fox jumps over the lazy dog again and again. ";
  std::vector<std::string> texts;
  for (int i = 0; i < 5; ++i) texts.push_back(system + fmt::format("Question {}?", i));
  texts.push_back(system);  // the whole prompt is cached
  std::vector<Response> fresh;
  for (const auto& t : texts) {
    gen::Worker w(model, {.n_threads = 2, .n_ctx = 256});
    auto s = submit(w, raw_request(t, 16));
    fresh.push_back(wait(s));
  }
  gen::Worker w(model, {.n_threads = 2, .n_ctx = 256});
  auto first = submit(w, raw_request(system, 4));  // publishes the system prompt's blocks
  wait(first);
  std::vector<Submitted> shared;
  for (const auto& t : texts) shared.push_back(submit(w, raw_request(t, 16)));
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Response r = wait(shared[i]);
    EXPECT_EQ(r.content, fresh[i].content) << "request " << i;
    EXPECT_EQ(r.usage.output_tokens, fresh[i].usage.output_tokens) << "request " << i;
  }
  const auto stats = settled(w);
  EXPECT_GE(stats.prefix_positions_reused, 6 * 16);
  EXPECT_EQ(stats.kv_blocks_used, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Batching,
                         ::testing::Values("llama-f16.gguf", "qwen2-q8_0.gguf"));

TEST(BatchingWorker, CancellingRunningAndQueuedRequestsFreesTheirBlocks) {
  auto model = gen::LoadedModel::load(model_path("llama-f16.gguf"));
  gen::Worker w(model, {.n_threads = 1, .n_ctx = 512}, {.scheduler = {.max_running = 1}});
  auto running = submit(w, raw_request("a long story", 400));
  auto queued = submit(w, raw_request("another story", 400));
  while (w.stats().steps < 3) std::this_thread::yield();
  w.cancel(*running.job);
  w.cancel(*queued.job);
  for (auto* s : {&running, &queued}) {
    try {
      wait(*s);
      FAIL() << "a cancelled request completed";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::cancelled);
      ASSERT_TRUE(e.partial());
      EXPECT_EQ(e.partial()->finish_reason, FinishReason::cancelled);
    }
  }
  const auto stats = settled(w);
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_EQ(stats.running + stats.waiting, 0);
}

TEST(BatchingWorker, AThousandQueuedRequestsCompleteWithNothingLeft) {
  auto model = gen::LoadedModel::load(model_path("llama-f16.gguf"));
  // A cache of 8 blocks of 16 for up to 64 sequences: most requests wait for blocks.
  gen::Worker w(model, {.n_threads = 1, .n_ctx = 96}, {.kv_size = 128, .block_size = 16});
  std::vector<Submitted> all;
  for (int i = 0; i < 1000; ++i) {
    all.push_back(submit(w, raw_request(fmt::format("q{} {}", i, std::string(i % 13, 'z')),
                                        1 + i % 3)));
  }
  std::int64_t tokens = 0;
  for (auto& s : all) {
    const Response r = wait(s);
    EXPECT_GE(r.usage.output_tokens, 0);
    tokens += r.usage.output_tokens;
  }
  EXPECT_GT(tokens, 1000);
  const auto stats = settled(w);
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_EQ(stats.running + stats.waiting, 0);
}

TEST(BatchingWorker, APromptLongerThanTheContextIsRejectedAtSubmit) {
  auto model = gen::LoadedModel::load(model_path("llama-f16.gguf"));
  gen::Worker w(model, {.n_threads = 1, .n_ctx = 32});
  auto s = submit(w, raw_request(std::string(400, 'a') + " b c d e f g h", 4));
  ASSERT_EQ(s.future.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "rejected before submit returned";
  EXPECT_THROW(wait(s), ContextLengthExceededError);
  EXPECT_THROW(gen::Worker(model, {.n_ctx = 64}, {.kv_size = 64}), InvalidArgumentError);
}

}  // namespace
}  // namespace llmux::test
