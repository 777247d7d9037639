// Resilience settings of a provider: the retry policy, the circuit breaker, the concurrency limit,
// the clock they run on, and the request observers. They apply identically to async_generate,
// generate (which runs it) and async_stream (before its first event); see docs/resilience.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <llmux/events.hpp>

namespace llmux {

// Time as the retry loop and the circuit breaker see it. Injectable, so tests run backoff and
// cool-downs on a ManualClock without sleeping.
//
// now(): wall-clock time (Retry-After HTTP dates are relative to it; durations are differences
// of it). async_wait(executor, delay, token): completes with void(boost::system::error_code)
// after `delay`: success, or asio::error::operation_aborted when the token's cancellation slot
// is emitted (any cancellation type). Never completes inside the initiating call. Thread-safe.
class Clock {
 public:
  using time_point = std::chrono::system_clock::time_point;
  using WaitSignature = void(boost::system::error_code);
  using WaitHandler = boost::asio::any_completion_handler<WaitSignature>;

  virtual ~Clock() = default;
  virtual time_point now() const = 0;

  template <class Token>
  auto async_wait(boost::asio::any_io_executor executor, std::chrono::milliseconds delay,
                  Token&& token) {
    return boost::asio::async_initiate<Token, WaitSignature>(
        [this](auto handler, boost::asio::any_io_executor ex, std::chrono::milliseconds d) {
          do_wait(std::move(ex), d, WaitHandler(std::move(handler)));
        },
        token, std::move(executor), delay);
  }

 protected:
  // `executor` runs the handler when it has no associated executor of its own.
  virtual void do_wait(boost::asio::any_io_executor executor, std::chrono::milliseconds delay,
                       WaitHandler handler) = 0;
};

// The real clock: std::chrono::system_clock for now(), an Asio steady_timer for waits.
std::shared_ptr<Clock> make_system_clock();

// A clock that moves only when told to: advance() completes the waits that fall due. With
// auto_advance, every wait moves the clock forward by its delay and completes at once (posted),
// so code under test runs its backoff instantly while requested_waits() records the delays.
class ManualClock final : public Clock {
 public:
  // Starts at `start` (default: 2026-01-01T00:00:00Z).
  explicit ManualClock(bool auto_advance = false, time_point start = default_start());
  ~ManualClock() override;

  time_point now() const override;
  void advance(std::chrono::milliseconds by);
  // Waits registered and not yet completed or cancelled.
  std::size_t pending() const;
  // Blocks the calling thread until pending() >= n or the real-time `timeout` passes; returns
  // whether it got there. For tests that must act while an operation is in its backoff.
  bool wait_for_pending(std::size_t n, std::chrono::milliseconds timeout) const;
  // Every delay ever passed to async_wait, in order.
  std::vector<std::chrono::milliseconds> requested_waits() const;

  static time_point default_start();

 protected:
  void do_wait(boost::asio::any_io_executor executor, std::chrono::milliseconds delay,
               WaitHandler handler) override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Retries of one request. An attempt is retried when its error is retryable (errc rate_limited,
// timeout (HTTP 408 or a deadline), overloaded, server_error (HTTP 409 and 5xx),
// connection_error) and the server did not send `x-should-retry: false`; `x-should-retry: true`
// also makes other errors retryable, except authentication, permission_denied, invalid_request,
// context_length_exceeded, invalid_argument, would_deadlock and cancelled, which are never
// retried. A stream is retried only while none of its events has reached the consumer.
//
// Delay before retry n (n = 1, 2, …): the server's `retry-after-ms` or `Retry-After` (seconds
// or an HTTP date, relative to Clock::now()) when present and at most max_retry_after (a longer
// one ends the retries: the error surfaces with its retry_after()); otherwise full jitter:
// uniform in [0, min(max_backoff, initial_backoff * multiplier^(n-1))].
struct RetryPolicy {
  // Attempts in all, the first included. 1 (the default) never resends: retries are opt-in,
  // since a resent request is billed again. 3 is a common choice.
  int max_attempts = 1;
  std::chrono::milliseconds initial_backoff{500};
  double multiplier = 2.0;
  std::chrono::milliseconds max_backoff{8000};
  std::chrono::milliseconds max_retry_after{60000};
  // The jitter's random source: a uniform value in [0, 1). Empty: a generator private to the
  // provider, seeded with `seed` (0: from std::random_device). Called under a lock.
  std::function<double()> random;
  std::uint64_t seed = 0;
};

// One breaker per (provider, model): after `failure_threshold` consecutive retryable failures
// (attempts, not requests) it opens, and requests for that model fail fast with OverloadedError
// (errc::overloaded, retry_after = the time left of the cool-down, message "circuit open …")
// without reaching the provider; a fail-fast error is not retried. After `cool_down` it
// half-opens: one request (the probe) goes through while the others still fail fast; the
// probe's success closes the breaker, a retryable failure opens it for another cool-down, any
// other outcome (cancellation, a non-retryable error) leaves it half-open for the next probe.
struct CircuitBreakerPolicy {
  int failure_threshold = 0;  // 0: no breaker
  std::chrono::milliseconds cool_down{30000};
};

struct ResilienceConfig {
  RetryPolicy retry;
  CircuitBreakerPolicy breaker;
  // Requests (attempts) of this provider running at once; further ones wait in FIFO order
  // without blocking a thread, cancellable while they wait. A permit is held for one attempt
  // (for a stream: until the stream's upstream request ends), not during backoff. 0: no limit.
  std::size_t max_concurrent_requests = 0;
  std::shared_ptr<Clock> clock;  // null: make_system_clock()
  std::vector<std::shared_ptr<RequestObserver>> observers;
};

}  // namespace llmux
