#include "api/retry.hpp"

#include <algorithm>
#include <cmath>

namespace llmux::detail {
namespace {

const Error* as_llmux_error(const std::exception_ptr& error) noexcept {
  if (!error) return nullptr;
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return &e;  // the exception object lives as long as `error`
  } catch (...) {
    return nullptr;
  }
}

bool never_retried(errc code) noexcept {
  switch (code) {
    case errc::authentication:
    case errc::permission_denied:
    case errc::invalid_request:
    case errc::context_length_exceeded:
    case errc::invalid_argument:
    case errc::would_deadlock:
    case errc::cancelled:
      return true;
    default:
      return false;
  }
}

}  // namespace

FailureKind classify_failure(const std::exception_ptr& error) noexcept {
  const Error* e = as_llmux_error(error);
  if (!e || never_retried(e->code())) return FailureKind::not_retryable;
  if (auto hint = e->info().should_retry) {
    return *hint ? FailureKind::retryable : FailureKind::not_retryable;
  }
  return is_retryable(e->code()) ? FailureKind::retryable : FailureKind::not_retryable;
}

std::chrono::milliseconds backoff_cap(const RetryPolicy& policy, int retry_number) {
  const double initial = static_cast<double>(std::max<std::int64_t>(policy.initial_backoff.count(), 0));
  const double cap = static_cast<double>(std::max<std::int64_t>(policy.max_backoff.count(), 0));
  const double multiplier = std::max(policy.multiplier, 1.0);
  double bound = initial * std::pow(multiplier, std::max(retry_number - 1, 0));
  if (!std::isfinite(bound) || bound > cap) bound = cap;
  return std::chrono::milliseconds(static_cast<std::int64_t>(bound));
}

std::optional<std::chrono::milliseconds> server_delay_of(const std::exception_ptr& error,
                                                         Clock::time_point now) noexcept {
  const Error* e = as_llmux_error(error);
  if (!e) return std::nullopt;
  if (auto at = e->info().retry_at) {
    auto delta = std::chrono::duration_cast<std::chrono::milliseconds>(*at - now);
    return std::max(delta, std::chrono::milliseconds(0));
  }
  return e->retry_after();
}

RetryDecision decide_retry(const RetryPolicy& policy, const std::exception_ptr& error,
                           int failed_attempt, Clock::time_point now,
                           const std::function<double()>& random) {
  RetryDecision d;
  if (failed_attempt >= policy.max_attempts) return d;
  if (classify_failure(error) != FailureKind::retryable) return d;
  if (auto server = server_delay_of(error, now)) {
    if (*server > policy.max_retry_after) return d;
    d.retry = true;
    d.delay = *server;
    d.server_delay = true;
    return d;
  }
  auto cap = backoff_cap(policy, failed_attempt);
  double u = random ? random() : 0.0;
  if (!(u >= 0.0)) u = 0.0;  // NaN or negative from a user's source
  if (u >= 1.0) u = std::nextafter(1.0, 0.0);
  d.retry = true;
  d.delay = std::chrono::milliseconds(
      static_cast<std::int64_t>(std::floor(u * static_cast<double>(cap.count() + 1))));
  d.delay = std::min(d.delay, cap);
  return d;
}

}  // namespace llmux::detail
