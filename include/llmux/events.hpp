// Request events: what a provider's pipeline reports to its subscribers (start, first token,
// retry, error, end), with timings and usage. Subscribers are attached per provider
// (ResilienceConfig::observers or Provider::subscribe); there is no global registry.
//
// Threading: callbacks run on the operation's strand of the provider's executor, one request's
// events in order (start, first token, retries, error, end), different requests' events
// concurrently on different threads when the runtime has several. A callback must not block and
// must be thread-safe if it is shared between requests. An exception thrown by a callback is
// caught and dropped: it never changes the request's outcome.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include <llmux/error.hpp>
#include <llmux/types.hpp>

namespace llmux {

// Identifies one logical request (all its attempts) to the subscribers.
struct RequestInfo {
  std::uint64_t id = 0;   // unique per provider, increasing
  std::string provider;   // Provider::name()
  std::string model;      // Request::model (empty: the provider's default model)
  bool stream = false;    // async_stream rather than async_generate
};

struct RequestStartEvent {
  RequestInfo request;
};

// Streams only: the first event of the stream reached the consumer's buffer.
struct FirstTokenEvent {
  RequestInfo request;
  int attempt = 1;                            // the attempt that produced it (1-based)
  std::chrono::microseconds time_to_first_token{0};  // since the request started, all attempts
};

// An attempt failed with a retryable error; the next attempt starts after `delay`.
struct RetryEvent {
  RequestInfo request;
  int attempt = 1;                  // the attempt that failed (1-based)
  std::chrono::milliseconds delay{0};
  bool server_delay = false;        // delay came from retry-after-ms / Retry-After
  errc code = errc::server_error;
  std::string message;
  std::exception_ptr error;
};

// The request failed (after its last attempt, or at once for a non-retryable error, an open
// circuit or cancellation). Followed by a RequestEndEvent.
struct ErrorEvent {
  RequestInfo request;
  std::optional<errc> code;  // nullopt for an exception that is not an llmux::Error
  std::string message;
  std::exception_ptr error;
  int attempts = 0;
  Usage usage;  // of the partial response, when the error carries one
};

struct RequestEndEvent {
  RequestInfo request;
  bool ok = false;
  std::optional<errc> error;  // set when !ok and the error is an llmux::Error
  int attempts = 0;           // attempts started (0 when rejected before the first)
  std::chrono::microseconds elapsed{0};  // on the provider's Clock, backoff waits included
  std::optional<std::chrono::microseconds> time_to_first_token;  // streams
  Usage usage;  // the response's usage, or the partial response's
};

// Override the events you need; the defaults do nothing.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void on_start(const RequestStartEvent&) {}
  virtual void on_first_token(const FirstTokenEvent&) {}
  virtual void on_retry(const RetryEvent&) {}
  virtual void on_error(const ErrorEvent&) {}
  virtual void on_end(const RequestEndEvent&) {}
};

}  // namespace llmux
