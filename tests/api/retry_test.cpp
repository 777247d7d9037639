// The retry loop on a ManualClock: decisions, backoff, server delays, x-should-retry, attempt
// caps, cancellation during a backoff wait — on the sync, async and streaming paths.
#include <future>
#include <random>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "api/resilience_support.hpp"
#include "api/retry.hpp"
#include "api/test_support.hpp"

namespace llmux {
namespace {

using namespace std::chrono_literals;
using detail::decide_retry;
using test::http_like_error;
using ms = std::chrono::milliseconds;

RetryPolicy policy(int attempts) {
  RetryPolicy p;
  p.max_attempts = attempts;
  p.initial_backoff = 100ms;
  p.multiplier = 2;
  p.max_backoff = 1000ms;
  return p;
}

const Clock::time_point kNow = ManualClock::default_start();
std::function<double()> fixed(double u) {
  return [u] { return u; };
}

TEST(RetryDecision, FullJitterStaysUnderAnExponentialCap) {
  auto p = policy(10);
  auto e = http_like_error(errc::server_error, 500);
  std::vector<ms> caps;
  for (int n = 1; n <= 6; ++n) caps.push_back(detail::backoff_cap(p, n));
  EXPECT_EQ(caps, (std::vector<ms>{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms}));
  for (int n = 1; n <= 6; ++n) {
    EXPECT_EQ(decide_retry(p, e, n, kNow, fixed(0.0)).delay, 0ms);
    EXPECT_EQ(decide_retry(p, e, n, kNow, fixed(0.5)).delay, caps[n - 1] / 2);
    EXPECT_EQ(decide_retry(p, e, n, kNow, fixed(0.999999)).delay, caps[n - 1]);
  }
  // A seeded generator spreads delays over the whole range.
  std::mt19937_64 g(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::function<double()> random = [&] { return u(g); };
  ms lo = 1000ms, hi = 0ms;
  for (int i = 0; i < 200; ++i) {
    auto d = decide_retry(p, e, 4, kNow, random);
    ASSERT_TRUE(d.retry);
    ASSERT_FALSE(d.server_delay);
    lo = std::min(lo, d.delay);
    hi = std::max(hi, d.delay);
    ASSERT_LE(d.delay, 800ms);
  }
  EXPECT_LT(lo, 100ms);
  EXPECT_GT(hi, 700ms);
}

TEST(RetryDecision, RetryableErrorsAndNeverRetriedOnes) {
  auto p = policy(3);
  for (errc c : {errc::rate_limited, errc::timeout, errc::overloaded, errc::server_error,
                 errc::connection_error}) {
    EXPECT_TRUE(decide_retry(p, make_error(c, "x"), 1, kNow, fixed(0.5)).retry) << to_string(c);
  }
  for (errc c : {errc::authentication, errc::permission_denied, errc::invalid_request,
                 errc::context_length_exceeded, errc::cancelled, errc::model_not_found,
                 errc::invalid_output, errc::protocol_error, errc::invalid_argument}) {
    EXPECT_FALSE(decide_retry(p, make_error(c, "x"), 1, kNow, fixed(0.5)).retry) << to_string(c);
  }
  EXPECT_FALSE(decide_retry(p, std::make_exception_ptr(std::runtime_error("x")), 1, kNow, fixed(0.5)).retry);
}

TEST(RetryDecision, AttemptsCap) {
  auto e = http_like_error(errc::rate_limited, 429);
  EXPECT_TRUE(decide_retry(policy(3), e, 2, kNow, fixed(0.5)).retry);
  EXPECT_FALSE(decide_retry(policy(3), e, 3, kNow, fixed(0.5)).retry);
  EXPECT_FALSE(decide_retry(policy(1), e, 1, kNow, fixed(0.5)).retry);
}

TEST(RetryDecision, XShouldRetryOverridesTheStatusButNotTheNeverList) {
  auto p = policy(3);
  EXPECT_FALSE(decide_retry(p, http_like_error(errc::overloaded, 503, {}, false), 1, kNow, fixed(0.5)).retry);
  EXPECT_TRUE(decide_retry(p, http_like_error(errc::model_not_found, 404, {}, true), 1, kNow, fixed(0.5)).retry);
  EXPECT_TRUE(decide_retry(p, http_like_error(errc::server_error, 500, {}, true), 1, kNow, fixed(0.5)).retry);
  EXPECT_FALSE(decide_retry(p, http_like_error(errc::authentication, 401, {}, true), 1, kNow, fixed(0.5)).retry);
  EXPECT_FALSE(decide_retry(p, http_like_error(errc::invalid_request, 400, {}, true), 1, kNow, fixed(0.5)).retry);
  EXPECT_FALSE(decide_retry(p, http_like_error(errc::cancelled, 0, {}, true), 1, kNow, fixed(0.5)).retry);
}

TEST(RetryDecision, ServerDelaysBothFormsAndTheirLimit) {
  auto p = policy(3);
  p.max_retry_after = 30s;
  auto d = decide_retry(p, http_like_error(errc::rate_limited, 429, 2500ms), 1, kNow, fixed(0.0));
  EXPECT_TRUE(d.retry);
  EXPECT_TRUE(d.server_delay);
  EXPECT_EQ(d.delay, 2500ms);  // exact, no jitter, above max_backoff

  ErrorInfo info;
  info.retry_after = 999s;                // computed from the system clock at parse time: ignored
  info.retry_at = kNow + 7s;              // the HTTP date, measured from the loop's clock
  d = decide_retry(p, make_error(errc::overloaded, "x", info), 1, kNow, fixed(0.0));
  EXPECT_TRUE(d.server_delay);
  EXPECT_EQ(d.delay, 7000ms);
  info.retry_at = kNow - 5s;  // a date in the past: retry at once
  d = decide_retry(p, make_error(errc::overloaded, "x", info), 1, kNow, fixed(0.9));
  EXPECT_EQ(d.delay, 0ms);

  d = decide_retry(p, http_like_error(errc::rate_limited, 429, 31s), 1, kNow, fixed(0.5));
  EXPECT_FALSE(d.retry);  // longer than max_retry_after: the error surfaces
}

// ---- The pipeline ------------------------------------------------------------------------------

struct Fixture {
  Runtime rt{2};
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(true);
  std::shared_ptr<test::Recorder> recorder = std::make_shared<test::Recorder>();

  ResilienceConfig config(int attempts) {
    ResilienceConfig c;
    c.retry = policy(attempts);
    c.retry.random = fixed(0.5);
    c.clock = clock;
    c.observers = {recorder};
    return c;
  }
  std::shared_ptr<Provider> fake(std::map<std::string, std::string> options, int attempts) {
    ProviderConfig pc;
    // The fake fails after streaming its whole answer unless told otherwise: fail before it.
    if (options.count("fail") && !options.count("fail_after_tokens")) options["fail_after_tokens"] = "0";
    pc.options = std::move(options);
    pc.resilience = config(attempts);
    return create_llm("fake", std::move(pc), rt.get_executor());
  }
};

enum class Path { sync, async, stream };
const Path kPaths[] = {Path::sync, Path::async, Path::stream};
const char* path_name(Path p) { return p == Path::sync ? "sync" : p == Path::async ? "async" : "stream"; }

// Runs the request on one path; returns the response or rethrows the error.
Response run_on(Path path, const std::shared_ptr<Provider>& p, Request req) {
  switch (path) {
    case Path::sync: return p->generate(std::move(req));
    case Path::async: {
      auto task = [p, req]() -> asio::awaitable<Response> {
        co_return co_await p->async_generate(req, asio::use_awaitable);
      };
      return asio::co_spawn(p->get_executor(), task, asio::use_future).get();
    }
    case Path::stream: {
      Stream s = p->async_stream(std::move(req));
      while (s.next()) {
      }
      return *s.response();
    }
  }
  return {};
}

TEST(RetryPipeline, RetryableFailuresAreRetriedWithBackoffOnEveryPath) {
  for (Path path : kPaths) {
    Fixture f;
    auto p = f.fake({{"fail", "overloaded"}, {"fail_first", "2"}}, 3);
    Response r = run_on(path, p, test::hello_request());
    EXPECT_FALSE(r.content.empty()) << path_name(path);
    // Full jitter with u = 0.5: half of 100 ms, then half of 200 ms.
    EXPECT_EQ(f.clock->requested_waits(), (std::vector<ms>{50ms, 100ms})) << path_name(path);
    auto lines = f.recorder->lines();
    std::vector<std::string> expected = {"start", "retry 1 50ms overloaded", "retry 2 100ms overloaded"};
    if (path == Path::stream) expected.push_back("first_token 3");
    expected.push_back("end ok 3");
    EXPECT_EQ(lines, expected) << path_name(path);
    EXPECT_EQ(f.recorder->last_end().elapsed, 150ms) << path_name(path);  // backoff on the clock
    EXPECT_EQ(f.recorder->infos().front().stream, path == Path::stream);
  }
}

TEST(RetryPipeline, AttemptsCapSurfacesTheLastError) {
  for (Path path : kPaths) {
    Fixture f;
    auto p = f.fake({{"fail", "server_error"}, {"fail_first", "10"}}, 3);
    EXPECT_THROW(run_on(path, p, test::hello_request()), ServerError) << path_name(path);
    EXPECT_EQ(f.clock->requested_waits().size(), 2u) << path_name(path);
    auto lines = f.recorder->lines();
    ASSERT_GE(lines.size(), 2u);
    EXPECT_EQ(lines[lines.size() - 2], "error server_error 3") << path_name(path);
    EXPECT_EQ(lines.back(), "end fail server_error 3") << path_name(path);
  }
}

TEST(RetryPipeline, NonRetryableErrorsAreNotRetried) {
  for (Path path : kPaths) {
    for (const char* code : {"invalid_request", "authentication", "permission_denied",
                             "context_length_exceeded"}) {
      Fixture f;
      auto p = f.fake({{"fail", code}, {"fail_first", "1"}}, 5);
      try {
        run_on(path, p, test::hello_request());
        ADD_FAILURE() << "no error";
      } catch (const Error& e) {
        EXPECT_EQ(to_string(e.code()), code);
      }
      EXPECT_TRUE(f.clock->requested_waits().empty()) << code << " " << path_name(path);
      EXPECT_EQ(f.recorder->lines().back(), std::string("end fail ") + code + " 1");
    }
  }
}

TEST(RetryPipeline, ServerRetryAfterIsWaitedExactly) {
  for (Path path : kPaths) {
    Fixture f;
    auto p = f.fake({{"fail", "rate_limited"}, {"fail_first", "1"}, {"retry_after_ms", "1200"}}, 2);
    run_on(path, p, test::hello_request());
    EXPECT_EQ(f.clock->requested_waits(), std::vector<ms>{1200ms}) << path_name(path);
  }
}

TEST(RetryPipeline, StreamFailingAfterItsFirstEventIsNeverRestarted) {
  Fixture f;
  auto p = f.fake({{"fail", "server_error"}, {"fail_first", "1"}, {"fail_after_tokens", "3"}}, 5);
  Stream s = p->async_stream(test::hello_request());
  std::string seen;
  try {
    while (auto e = s.next()) seen += std::get<TextDelta>(*e).text;
    FAIL() << "no error";
  } catch (const ServerError& e) {
    ASSERT_NE(e.partial(), nullptr);
    EXPECT_EQ(e.partial()->content, seen);
    EXPECT_EQ(e.partial()->usage.output_tokens, 3);
    EXPECT_EQ(e.partial()->finish_reason, FinishReason::error);
  }
  EXPECT_FALSE(seen.empty());
  EXPECT_TRUE(f.clock->requested_waits().empty());
  EXPECT_EQ(f.recorder->lines(),
            (std::vector<std::string>{"start", "first_token 1", "error server_error 1", "end fail server_error 1"}));
}

TEST(RetryPipeline, CancellationDuringBackoffCompletesPromptly) {
  Runtime rt(1);
  auto clock = std::make_shared<ManualClock>(false);  // waits never end unless advanced
  ProviderConfig pc;
  pc.options = {{"fail", "rate_limited"}, {"fail_first", "100"}, {"fail_after_tokens", "0"}};
  pc.resilience.retry = policy(5);
  pc.resilience.retry.random = fixed(0.5);  // 50 ms: never a zero delay
  pc.resilience.clock = clock;
  auto p = create_llm("fake", pc, rt.get_executor());

  // async_generate through a cancellation slot
  asio::cancellation_signal signal;
  std::promise<std::exception_ptr> done;
  auto t0 = test::Clock::now();
  p->async_generate(test::hello_request(),
                    asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, Response) {
                      done.set_value(e);
                    }));
  ASSERT_TRUE(clock->wait_for_pending(1, 5s));
  asio::post(rt.get_executor(), [&] { signal.emit(asio::cancellation_type::terminal); });
  auto fut = done.get_future();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(error_code_of(fut.get()), errc::cancelled);
  EXPECT_EQ(clock->pending(), 0u);
  EXPECT_LT(test::ms_since(t0), 4000);

  // a stream cancelled while it waits to retry
  Stream s = p->async_stream(test::hello_request());
  ASSERT_TRUE(clock->wait_for_pending(1, 5s));
  s.cancel();
  EXPECT_THROW(s.next(), CancelledError);
  for (int i = 0; i < 200 && clock->pending() != 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(clock->pending(), 0u);  // the upstream wait was cancelled too

  // the sync path: the wait completes when the clock is advanced
  auto fut2 = std::async(std::launch::async, [&] {
    ProviderConfig pc2 = pc;
    pc2.options = {{"fail", "rate_limited"}, {"fail_first", "1"}};
    return create_llm("fake", pc2, rt.get_executor())->generate(test::hello_request());
  });
  if (!clock->wait_for_pending(1, 5s)) {
    ASSERT_EQ(fut2.wait_for(0s), std::future_status::ready);
    fut2.get();
    FAIL() << "no wait and no error";
  }
  EXPECT_EQ(fut2.wait_for(50ms), std::future_status::timeout);  // really waiting for the clock
  clock->advance(10s);
  ASSERT_EQ(fut2.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(fut2.get().content.empty());
}

}  // namespace
}  // namespace llmux
