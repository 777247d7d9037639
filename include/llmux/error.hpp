// llmux errors: an `errc` enum registered as an std::error_category, and an exception hierarchy
// rooted at `llmux::Error`. Every asynchronous operation completes with an std::exception_ptr
// that holds one of these, so the error type survives every completion token.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <llmux/types.hpp>

namespace llmux {

enum class errc {
  authentication = 1,       // bad or missing credentials (HTTP 401)
  permission_denied,        // credentials lack access (HTTP 403)
  rate_limited,             // HTTP 429; retry_after may be set
  invalid_request,          // the provider rejected the request (HTTP 400, 404 on a route, 422)
  model_not_found,          // the model does not exist or is not available
  context_length_exceeded,  // prompt plus output exceed the model's context
  timeout,                  // a connect, first-token, idle or total deadline passed
  cancelled,                // the caller cancelled the operation
  overloaded,               // the provider is overloaded or unavailable (503, 529)
  server_error,             // other 5xx
  connection_error,         // DNS, TCP, TLS or a connection closed mid-response
  protocol_error,           // the peer's bytes do not follow the protocol
  invalid_argument,         // llmux was called with an invalid argument or configuration
  unknown_provider,         // no provider of that name is registered
  would_deadlock,           // a blocking call made on a thread of the runtime it waits for
  invalid_output,           // model output failed validation (structured output, tool args)
};

const std::error_category& error_category() noexcept;
std::error_code make_error_code(errc e) noexcept;

// Whether retrying the same request may succeed (rate limits, timeouts, 5xx, connections).
bool is_retryable(errc e) noexcept;

// Details carried by every llmux exception.
struct ErrorInfo {
  std::string provider;
  std::optional<int> http_status;
  std::optional<std::chrono::milliseconds> retry_after;
  std::string body;                          // the raw response body, when there was one
  std::string request_id;                    // the provider's request id, if sent
  std::vector<std::pair<std::string, std::string>> rate_limits;  // rate-limit headers
  std::shared_ptr<const Response> partial;   // content and usage received before the failure
  // Retry hints of the HTTP response beyond retry_after: `x-should-retry: true|false` as sent,
  // and the instant a `Retry-After` HTTP date names (retry_after then holds the delay from the
  // system clock at parse time; the retry loop measures from its own Clock instead).
  std::optional<bool> should_retry{};
  std::optional<std::chrono::system_clock::time_point> retry_at{};
};

class Error : public std::runtime_error {
 public:
  Error(errc code, const std::string& message, ErrorInfo info = {});

  errc code() const noexcept { return code_; }
  std::error_code error_code() const noexcept { return make_error_code(code_); }
  const std::string& provider() const noexcept { return info_.provider; }
  std::optional<int> http_status() const noexcept { return info_.http_status; }
  std::optional<std::chrono::milliseconds> retry_after() const noexcept {
    return info_.retry_after;
  }
  const std::string& body() const noexcept { return info_.body; }
  const std::string& request_id() const noexcept { return info_.request_id; }
  // The partial response (content, tool calls, usage so far), or nullptr.
  const Response* partial() const noexcept { return info_.partial.get(); }
  const ErrorInfo& info() const noexcept { return info_; }

 private:
  errc code_;
  ErrorInfo info_;
};

#define LLMUX_DECLARE_ERROR(Name)              \
  class Name : public Error {                  \
   public:                                     \
    using Error::Error;                        \
  }

LLMUX_DECLARE_ERROR(AuthenticationError);
LLMUX_DECLARE_ERROR(PermissionDeniedError);
LLMUX_DECLARE_ERROR(RateLimitError);
LLMUX_DECLARE_ERROR(InvalidRequestError);
LLMUX_DECLARE_ERROR(ModelNotFoundError);
LLMUX_DECLARE_ERROR(ContextLengthExceededError);
LLMUX_DECLARE_ERROR(TimeoutError);
LLMUX_DECLARE_ERROR(CancelledError);
LLMUX_DECLARE_ERROR(OverloadedError);
LLMUX_DECLARE_ERROR(ServerError);
LLMUX_DECLARE_ERROR(ConnectionError);
LLMUX_DECLARE_ERROR(ProtocolError);
LLMUX_DECLARE_ERROR(InvalidArgumentError);
LLMUX_DECLARE_ERROR(UnknownProviderError);
LLMUX_DECLARE_ERROR(WouldDeadlockError);
LLMUX_DECLARE_ERROR(InvalidOutputError);

#undef LLMUX_DECLARE_ERROR

// The exception of the class matching `code`, as an exception_ptr (for completion handlers).
std::exception_ptr make_error(errc code, const std::string& message, ErrorInfo info = {});
// Throws the exception of the class matching `code`.
[[noreturn]] void throw_error(errc code, const std::string& message, ErrorInfo info = {});

// The llmux error code of an exception_ptr: its errc for an llmux::Error, nullopt otherwise.
std::optional<errc> error_code_of(const std::exception_ptr& e) noexcept;

// The name of an errc ("rate_limited"), and the reverse for configuration and CLI input.
std::string_view to_string(errc e) noexcept;
std::optional<errc> errc_from_string(std::string_view name) noexcept;

}  // namespace llmux

namespace std {
template <>
struct is_error_code_enum<llmux::errc> : true_type {};
}  // namespace std
