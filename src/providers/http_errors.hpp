// Mapping HTTP failures of any provider to llmux's typed errors, and reading the headers that
// carry retry hints, request ids and rate limits.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <llmux/error.hpp>

#include "http/client.hpp"

namespace llmux::providers {

// Retry-After in any of its forms: `retry-after-ms` (milliseconds), `Retry-After` as seconds or as
// an HTTP date (relative to `now`, never negative).
std::optional<std::chrono::milliseconds> parse_retry_after(
    const http::Headers& headers,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The instant of a `Retry-After` HTTP date, when that is the form in effect (no valid
// `retry-after-ms`, and `Retry-After` is not a number of seconds).
std::optional<std::chrono::system_clock::time_point> retry_after_date(const http::Headers& headers);

// `x-should-retry`: true or false as sent (case-insensitive), nullopt when absent or other.
std::optional<bool> should_retry_of(const http::Headers& headers);

// x-request-id, request-id, x-amzn-requestid …: the first one present.
std::string request_id_of(const http::Headers& headers);

// The rate-limit headers (x-ratelimit-*, anthropic-ratelimit-*, ratelimit-*), as sent.
std::vector<std::pair<std::string, std::string>> rate_limits_of(const http::Headers& headers);

// What a provider's error body says: message, type and code (OpenAI shape
// {"error":{"message","type","code"}}, {"error":"text"}, {"message": …} or {"detail": …}).
struct ErrorBody {
  std::string message;
  std::string type;
  std::string code;
};
ErrorBody parse_error_body(std::string_view body);

// The typed error for an HTTP status and body: 400 invalid request (or context length exceeded),
// 401 authentication, 403 permission, 404 model not found / invalid request, 408 timeout,
// 409 server error, 413/422 invalid request, 429 rate limited (insufficient quota: permission),
// 503/529 overloaded, other 5xx server error.
std::exception_ptr http_status_error(std::string_view provider, int status,
                                     const http::Headers& headers, std::string body);

// The errc for an error body with no HTTP status to go by (an error event after a 200).
errc errc_for_error_body(const ErrorBody& e, int status_hint = 0);

}  // namespace llmux::providers
