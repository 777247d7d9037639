// Many requests in flight on one thread, and the blocking API's deadlock guard.
#include <atomic>
#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "api/test_support.hpp"

namespace llmux {
namespace {

using test::Clock;
using test::hello_request;
using test::make_fake;
using test::ms_since;

TEST(Concurrency, ThousandRequestsOf100msOnOneThreadFinishTogether) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor(), {{"latency_ms", "100"}});
  constexpr int kRequests = 1000;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::promise<void> all_done;
  std::atomic<int> remaining{kRequests};
  const auto t0 = Clock::now();
  for (int i = 0; i < kRequests; ++i) {
    Request req = hello_request();
    req.messages.back() = Message::user("request number " + std::to_string(i));
    p->async_generate(std::move(req), [&](std::exception_ptr e, Response r) {
      (e || r.content.empty() ? failed : ok).fetch_add(1);
      if (remaining.fetch_sub(1) == 1) all_done.set_value();
    });
  }
  all_done.get_future().wait();
  const double elapsed = ms_since(t0);
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(elapsed, 100.0);
#ifndef LLMUX_SANITIZED
  EXPECT_LT(elapsed, 300.0) << "1000 requests of 100 ms each did not overlap";
#else
  // Instrumented debug code costs ~0.5 ms per request; one after another would take 100 s.
  EXPECT_LT(elapsed, 3000.0) << "1000 requests of 100 ms each did not overlap";
#endif
  EXPECT_EQ(rt.thread_count(), 1u);
}

TEST(Concurrency, SyncGenerateOnTheRuntimeThreadThrowsInsteadOfDeadlocking) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor());
  std::promise<std::string> outcome;
  asio::post(rt.get_executor(), [&] {
    EXPECT_TRUE(rt.running_in_this_thread());
    try {
      p->generate(hello_request());
      outcome.set_value("returned");
    } catch (const WouldDeadlockError& e) {
      outcome.set_value(std::string("threw:") + std::string(to_string(e.code())));
    } catch (...) {
      outcome.set_value("other exception");
    }
  });
  auto f = outcome.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready) << "deadlocked";
  EXPECT_EQ(f.get(), "threw:would_deadlock");
  EXPECT_FALSE(rt.running_in_this_thread());
}

TEST(Concurrency, BlockingStreamNextOnTheRuntimeThreadThrows) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor(), {{"ttft_ms", "50"}});
  auto task = [p]() -> asio::awaitable<bool> {
    Stream s = p->async_stream(hello_request());
    try {
      s.next();
    } catch (const WouldDeadlockError&) {
      co_return true;
    }
    co_return false;
  };
  auto f = asio::co_spawn(rt.get_executor(), task, asio::use_future);
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready) << "deadlocked";
  EXPECT_TRUE(f.get());
}

TEST(Concurrency, ProviderOnAUserIoContextThreadIsDetectedToo) {
  asio::io_context ctx;
  auto p = make_fake(ctx.get_executor());
  std::string outcome;
  asio::post(ctx, [&] {
    try {
      p->generate(hello_request());
      outcome = "returned";
    } catch (const WouldDeadlockError&) {
      outcome = "threw";
    }
  });
  ctx.run_for(std::chrono::seconds(5));
  EXPECT_EQ(outcome, "threw");
}

TEST(Concurrency, StreamsInterleaveOnOneThread) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor(), {{"ttft_ms", "20"}, {"tokens_per_second", "200"},
                                         {"output_tokens", "10"}});
  // 50 streams of 20 ms + 9 × 5 ms each: ~65 ms together, 3 s one after another.
  const auto t0 = Clock::now();
  std::vector<Stream> streams;
  for (int i = 0; i < 50; ++i) streams.push_back(p->async_stream(hello_request()));
  int deltas = 0;
  for (auto& s : streams) {
    for (const StreamEvent& e : s) deltas += std::holds_alternative<TextDelta>(e);
  }
  EXPECT_EQ(deltas, 50 * 10);
  EXPECT_LT(ms_since(t0), 1000.0);
}

}  // namespace
}  // namespace llmux
