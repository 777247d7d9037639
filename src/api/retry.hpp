// The retry decision of the pipeline: which errors are retried, and after how long. Pure
// functions of the policy, the error, the attempt number and the time, so they test alone.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <optional>

#include <llmux/resilience.hpp>

namespace llmux::detail {

// What kind of failure an error is, for the retry loop and the circuit breaker.
enum class FailureKind {
  retryable,      // may succeed when resent (and counts against the breaker)
  not_retryable,  // the request itself is wrong, or the caller cancelled
};

// Classifies an exception: llmux errors by errc and x-should-retry (see RetryPolicy); any other
// exception is not retryable.
FailureKind classify_failure(const std::exception_ptr& error) noexcept;

struct RetryDecision {
  bool retry = false;
  std::chrono::milliseconds delay{0};
  bool server_delay = false;  // the delay is the server's retry-after
};

// Whether attempt `failed_attempt` (1-based) is followed by another, and the delay before it.
// `random` yields uniform values in [0, 1) for the jitter. `now` is the retry loop's clock.
RetryDecision decide_retry(const RetryPolicy& policy, const std::exception_ptr& error,
                           int failed_attempt, Clock::time_point now,
                           const std::function<double()>& random);

// The exponential backoff bound before retry n (1-based): min(max_backoff,
// initial_backoff * multiplier^(n-1)).
std::chrono::milliseconds backoff_cap(const RetryPolicy& policy, int retry_number);

// The server's requested delay carried by an llmux error: retry_at (an HTTP date) measured from
// `now`, else retry_after. nullopt when it sent none.
std::optional<std::chrono::milliseconds> server_delay_of(const std::exception_ptr& error,
                                                         Clock::time_point now) noexcept;

}  // namespace llmux::detail
