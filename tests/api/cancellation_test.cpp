// Cancellation of in-flight requests and streams: prompt, typed, with partial results, and
// without leaks (this suite also runs under ASan/LSan).
#include <future>
#include <thread>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
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

// 1 s to the first token: anything that finishes quickly was cancelled.
const std::map<std::string, std::string> kSlow = {{"ttft_ms", "1000"}};
// 10 ms to the first token, then 100 tokens/s.
const std::map<std::string, std::string> kStreaming = {
    {"ttft_ms", "10"}, {"tokens_per_second", "100"}, {"output_tokens", "200"}};

TEST(Cancellation, AwaitableOperatorCancelsTheRequestWithinMilliseconds) {
  using namespace asio::experimental::awaitable_operators;
  Runtime rt(1);
  auto p = make_fake(rt.get_executor(), kSlow);
  auto task = [p]() -> asio::awaitable<std::pair<double, std::string>> {
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
    const auto t0 = Clock::now();
    std::string outcome;
    try {
      auto result = co_await (p->async_generate(hello_request(), asio::use_awaitable) ||
                              timer.async_wait(asio::use_awaitable));
      outcome = result.index() == 0 ? "completed" : "timer";
    } catch (const CancelledError&) {
      outcome = "cancelled-error";
    }
    co_return std::pair{ms_since(t0), outcome};
  };
  auto [elapsed, outcome] = asio::co_spawn(rt.get_executor(), task, asio::use_future).get();
  EXPECT_EQ(outcome, "timer");
  EXPECT_LT(elapsed, 200.0);
}

TEST(Cancellation, SlotCancelCompletesAsCancelledWithPartialUsage) {
  Runtime rt(2);
  auto p = make_fake(rt.get_executor(), kStreaming);
  asio::cancellation_signal signal;
  std::promise<std::pair<std::exception_ptr, double>> done;
  Clock::time_point emitted;
  // The signal and the operation both live on one strand-free executor, as Asio requires.
  asio::post(rt.get_executor(), [&] {
    p->async_generate(hello_request(),
                      asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, Response) {
                        done.set_value({e, ms_since(emitted)});
                      }));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  asio::post(rt.get_executor(), [&] {
    emitted = Clock::now();
    signal.emit(asio::cancellation_type::terminal);
  });
  auto [error, latency] = done.get_future().get();
  EXPECT_LT(latency, 50.0);
  ASSERT_TRUE(error);
  try {
    std::rethrow_exception(error);
  } catch (const CancelledError& e) {
    ASSERT_NE(e.partial(), nullptr);
    EXPECT_EQ(e.partial()->finish_reason, FinishReason::cancelled);
    // ~60 ms in: the first token at 10 ms and then 100/s, so a handful were produced.
    EXPECT_GE(e.partial()->usage.output_tokens, 1);
    EXPECT_LT(e.partial()->usage.output_tokens, 50);
    EXPECT_FALSE(e.partial()->content.empty());
  } catch (...) {
    FAIL() << "not a CancelledError";
  }
}

TEST(Cancellation, StreamCancelStopsAPendingNext) {
  Runtime rt(2);
  auto p = make_fake(rt.get_executor(), kSlow);
  Stream s = p->async_stream(hello_request());
  std::promise<std::exception_ptr> done;
  s.async_next([&](std::exception_ptr e, std::optional<StreamEvent>) { done.set_value(e); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto t0 = Clock::now();
  s.cancel();
  auto future = done.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::milliseconds(500)), std::future_status::ready);
  EXPECT_LT(ms_since(t0), 50.0);
  EXPECT_EQ(error_code_of(future.get()), errc::cancelled);
  // Every later next() gives the same error; the stream holds no response.
  EXPECT_THROW(s.next(), CancelledError);
  EXPECT_EQ(s.response(), std::nullopt);
}

TEST(Cancellation, StreamAsyncNextSlotCancelsTheStream) {
  using namespace asio::experimental::awaitable_operators;
  Runtime rt(1);
  // The first token after 5 ms, the next one a second later.
  auto p = make_fake(rt.get_executor(), {{"ttft_ms", "5"}, {"tokens_per_second", "1"}});
  auto task = [p]() -> asio::awaitable<std::pair<int, std::string>> {
    Stream s = p->async_stream(hello_request());
    // Read the first event, then race next() against a short timer: the timer wins (the next
    // token is a second away), which cancels the stream.
    co_await s.async_next(asio::use_awaitable);
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
    auto r = co_await (s.async_next(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    std::string after;
    try {
      co_await s.async_next(asio::use_awaitable);
      after = "event";
    } catch (const CancelledError& e) {
      after = "cancelled:" + std::to_string(e.partial() ? e.partial()->content.size() : 0);
    }
    co_return std::pair{static_cast<int>(r.index()), after};
  };
  auto [winner, after] = asio::co_spawn(rt.get_executor(), task, asio::use_future).get();
  EXPECT_EQ(winner, 1);
  EXPECT_TRUE(after.starts_with("cancelled:")) << after;
  EXPECT_NE(after, "cancelled:0");  // the partial holds the delta read
}

TEST(Cancellation, DestroyingAStreamCancelsUpstream) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor(), kSlow);
  std::weak_ptr<Provider> weak = p;
  {
    Stream s = p->async_stream(hello_request());
  }
  // The upstream operation ends promptly and releases its reference to the provider.
  p.reset();
  const auto t0 = Clock::now();
  while (!weak.expired() && ms_since(t0) < 500) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(weak.expired());
  EXPECT_LT(ms_since(t0), 100.0);
}

TEST(Cancellation, ManyCancellationsFromOtherThreadsOnAMultiThreadedRuntime) {
  Runtime rt(4);
  auto p = make_fake(rt.get_executor(), kStreaming);
  std::vector<Stream> streams;
  for (int i = 0; i < 200; ++i) streams.push_back(p->async_stream(hello_request()));
  std::this_thread::sleep_for(std::chrono::milliseconds(15));
  std::thread a([&] {
    for (int i = 0; i < 100; ++i) streams[i].cancel();
  });
  std::thread b([&] {
    for (int i = 100; i < 200; ++i) streams[i].cancel();
  });
  a.join();
  b.join();
  for (auto& s : streams) EXPECT_THROW(s.next(), CancelledError);
}

TEST(Cancellation, AfterCompletionCancelIsHarmless) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor());
  Stream s = p->async_stream(hello_request());
  while (s.next()) {
  }
  s.cancel();
  EXPECT_EQ(s.next(), std::nullopt);
  EXPECT_TRUE(s.response().has_value());
}

}  // namespace
}  // namespace llmux
