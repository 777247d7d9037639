// The circuit breaker (alone and in the pipeline) and the per-provider concurrency limit.
#include <future>
#include <thread>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "api/circuit_breaker.hpp"
#include "api/resilience_support.hpp"
#include "api/test_support.hpp"

namespace llmux {
namespace {

using namespace std::chrono_literals;
using detail::CircuitBreakers;
using State = CircuitBreakers::State;
using Outcome = CircuitBreakers::Outcome;

TEST(CircuitBreaker, OpensFailsFastHalfOpensWithOneProbeAndCloses) {
  CircuitBreakers b({3, 10s});
  auto t = ManualClock::default_start();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b.admit("m", t).allowed);
    b.record("m", Outcome::retryable_failure, false, t);
  }
  b.record("m", Outcome::success, false, t);  // a success resets the count
  for (int i = 0; i < 2; ++i) b.record("m", Outcome::retryable_failure, false, t);
  EXPECT_EQ(b.state("m", t), State::closed);
  b.record("m", Outcome::other, false, t);  // non-retryable failures do not count
  EXPECT_EQ(b.state("m", t), State::closed);
  b.record("m", Outcome::retryable_failure, false, t);
  EXPECT_EQ(b.state("m", t), State::open);
  EXPECT_TRUE(b.admit("other-model", t).allowed);  // one breaker per model

  auto a = b.admit("m", t + 4s);
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.retry_in, 6000ms);
  auto probe = b.admit("m", t + 10s);
  EXPECT_TRUE(probe.allowed);
  EXPECT_TRUE(probe.probe);
  EXPECT_FALSE(b.admit("m", t + 10s).allowed);  // only one probe at a time
  b.record("m", Outcome::retryable_failure, true, t + 11s);  // the probe failed: open again
  EXPECT_EQ(b.state("m", t + 11s), State::open);
  EXPECT_FALSE(b.admit("m", t + 20s).allowed);
  probe = b.admit("m", t + 21s);
  ASSERT_TRUE(probe.probe);
  b.record("m", Outcome::other, true, t + 21s);  // e.g. cancelled: still half-open
  EXPECT_EQ(b.state("m", t + 21s), State::half_open);
  probe = b.admit("m", t + 22s);
  ASSERT_TRUE(probe.probe);
  b.record("m", Outcome::success, true, t + 22s);
  EXPECT_EQ(b.state("m", t + 22s), State::closed);
  EXPECT_TRUE(b.admit("m", t + 22s).allowed);
  EXPECT_FALSE(b.admit("m", t + 22s).probe);
}

TEST(CircuitBreaker, ThreadSafeUnderConcurrentUse) {
  CircuitBreakers b({5, 1s});
  auto t = ManualClock::default_start();
  std::vector<std::thread> threads;
  std::atomic<int> probes{0};
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 2000; ++i) {
        auto now = t + std::chrono::milliseconds(i);
        auto a = b.admit("m", now);
        if (a.probe) ++probes;
        if (a.allowed) {
          b.record("m", (i + k) % 50 ? Outcome::retryable_failure : Outcome::success, a.probe, now);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GT(probes.load(), 0);
}

std::shared_ptr<Provider> fake_with_breaker(Runtime& rt, std::shared_ptr<ManualClock> clock,
                                            std::map<std::string, std::string> options) {
  ProviderConfig pc;
  pc.options = std::move(options);
  pc.resilience.breaker = {2, 10s};
  pc.resilience.clock = std::move(clock);
  return create_llm("fake", std::move(pc), rt.get_executor());
}

TEST(CircuitBreakerPipeline, OpensAfterFailuresFailsFastThenRecoversThroughAProbe) {
  Runtime rt(1);
  auto clock = std::make_shared<ManualClock>(false);
  // The fake provider fails its first 3 requests: a request that fails fast never reaches it.
  auto p = fake_with_breaker(rt, clock, {{"fail", "overloaded"}, {"fail_first", "3"}});
  Request r = test::hello_request();
  EXPECT_THROW(p->generate(r), OverloadedError);  // provider request 0
  EXPECT_THROW(p->generate(r), OverloadedError);  // provider request 1: opens
  for (int i = 0; i < 3; ++i) {
    try {
      p->generate(r);
      FAIL() << "open circuit let a request through";
    } catch (const OverloadedError& e) {
      EXPECT_NE(std::string(e.what()).find("circuit open"), std::string::npos) << e.what();
      EXPECT_EQ(e.retry_after(), 10000ms);
      EXPECT_FALSE(e.http_status());
    }
  }
  Stream s = p->async_stream(r);  // the stream path fails fast too
  EXPECT_THROW(s.next(), OverloadedError);
  clock->advance(10s);
  EXPECT_THROW(p->generate(r), OverloadedError);  // the probe: provider request 2 fails
  clock->advance(4s);
  try {
    p->generate(r);
    FAIL();
  } catch (const OverloadedError& e) {
    EXPECT_EQ(e.retry_after(), 6000ms);  // open again for a full cool-down
  }
  clock->advance(6s);
  EXPECT_FALSE(p->generate(r).content.empty());  // the probe succeeds: closed
  EXPECT_FALSE(p->generate(r).content.empty());
  Request other = r;
  other.model = "another";
  EXPECT_FALSE(p->generate(other).content.empty());
}

TEST(CircuitBreakerPipeline, RetriesStopWhenTheCircuitOpens) {
  Runtime rt(1);
  auto clock = std::make_shared<ManualClock>(true);
  ProviderConfig pc;
  pc.options = {{"fail", "server_error"}, {"fail_first", "100"}};
  pc.resilience.breaker = {3, 30s};
  pc.resilience.retry.max_attempts = 10;
  pc.resilience.clock = clock;
  auto recorder = std::make_shared<test::Recorder>();
  pc.resilience.observers = {recorder};
  auto p = create_llm("fake", pc, rt.get_executor());
  try {
    p->generate(test::hello_request());
    FAIL();
  } catch (const OverloadedError& e) {
    EXPECT_NE(std::string(e.what()).find("circuit open"), std::string::npos);
  }
  EXPECT_EQ(clock->requested_waits().size(), 3u);  // three failures, then the fail-fast
  EXPECT_EQ(recorder->lines().back(), "end fail overloaded 3");
}

// ---- Concurrency limit ------------------------------------------------------------------------

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

TEST(ConcurrencyLimit, AtMostNInFlightServedInFifoOrder) {
  Runtime rt(1);
  std::atomic<int> in_flight{0}, peak{0};
  std::mutex mu;
  std::vector<std::string> order;
  auto script = [&](int, Request req, EventSink) -> asio::awaitable<Response> {
    int now = ++in_flight;
    int prev = peak.load();
    while (now > prev && !peak.compare_exchange_weak(prev, now)) {
    }
    {
      std::lock_guard lock(mu);
      order.push_back(req.messages.back().text());
    }
    co_await sleep_for(20ms);
    --in_flight;
    Response r;
    r.content = req.messages.back().text();
    co_return r;
  };
  auto p = std::make_shared<test::ScriptedProvider>(rt.get_executor(), script);
  ResilienceConfig c;
  c.max_concurrent_requests = 2;
  p->configure_resilience(c);
  std::vector<std::future<Response>> futures;
  std::vector<std::string> sent;
  for (int i = 0; i < 8; ++i) {
    Request r;
    r.messages = {Message::user("q" + std::to_string(i))};
    sent.push_back("q" + std::to_string(i));
    futures.push_back(p->async_generate(r, asio::use_future));
  }
  for (int i = 0; i < 8; ++i) EXPECT_EQ(futures[i].get().content, sent[i]);
  EXPECT_EQ(peak.load(), 2);
  EXPECT_EQ(order, sent);
}

TEST(ConcurrencyLimit, AWaitingRequestCanBeCancelledAndOthersProceed) {
  Runtime rt(1);
  std::promise<void> release_first;
  auto first_released = release_first.get_future().share();
  auto script = [&, first_released](int call, Request, EventSink) -> asio::awaitable<Response> {
    if (call == 0) {
      while (first_released.wait_for(0s) != std::future_status::ready) co_await sleep_for(2ms);
    }
    Response r;
    r.content = "call " + std::to_string(call);
    co_return r;
  };
  auto p = std::make_shared<test::ScriptedProvider>(rt.get_executor(), script);
  ResilienceConfig c;
  c.max_concurrent_requests = 1;
  p->configure_resilience(c);
  auto f1 = p->async_generate(test::hello_request(), asio::use_future);
  asio::cancellation_signal signal;
  std::promise<std::exception_ptr> second;
  p->async_generate(test::hello_request(),
                    asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, Response) {
                      second.set_value(e);
                    }));
  auto f3 = p->async_generate(test::hello_request(), asio::use_future);
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(p->calls(), 1);  // the others wait for the permit
  asio::post(rt.get_executor(), [&] { signal.emit(asio::cancellation_type::terminal); });
  auto f2 = second.get_future();
  ASSERT_EQ(f2.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(error_code_of(f2.get()), errc::cancelled);  // while the first still runs
  EXPECT_EQ(p->calls(), 1);
  release_first.set_value();
  EXPECT_EQ(f1.get().content, "call 0");
  EXPECT_EQ(f3.get().content, "call 1");  // the cancelled one never reached the provider
}

}  // namespace
}  // namespace llmux
