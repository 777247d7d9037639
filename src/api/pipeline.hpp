// The pipeline every request of every provider goes through: circuit breaker, concurrency
// limit, retries with backoff and request events, around one attempt of the provider's
// do_generate or do_stream. async_generate, generate (which runs it) and async_stream share it.
//
//   Provider::start_generate ─► [structured-output layer] ─► generate_with_retries ─► do_generate
//   Provider::async_stream   ─► stream_with_retries ─► do_stream (retried before the first event)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <llmux/provider.hpp>
#include <llmux/resilience.hpp>

#include "api/async_semaphore.hpp"
#include "api/circuit_breaker.hpp"

namespace llmux::detail {

class StreamState;

// The request observers of one provider. Thread-safe; notify() copies the list under the lock
// and calls each observer outside it, dropping whatever a callback throws.
class ObserverList {
 public:
  void add(std::shared_ptr<RequestObserver> observer);
  void remove(const std::shared_ptr<RequestObserver>& observer);
  bool empty() const;
  std::uint64_t next_request_id() noexcept { return next_id_.fetch_add(1) + 1; }

  template <class F>
  void notify(F&& f) const noexcept {
    auto list = snapshot();
    if (!list) return;
    for (const auto& o : *list) {
      try {
        f(*o);
      } catch (...) {
        // A subscriber's failure never changes the request's outcome.
      }
    }
  }

 private:
  using List = std::vector<std::shared_ptr<RequestObserver>>;
  std::shared_ptr<const List> snapshot() const;

  mutable std::mutex mu_;
  std::shared_ptr<const List> list_;
  std::atomic<std::uint64_t> next_id_{0};
};

// A provider's resilience settings and state (breakers, limit, jitter source). Thread-safe.
class Resilience {
 public:
  explicit Resilience(ResilienceConfig config);

  const RetryPolicy& retry() const noexcept { return config_.retry; }
  Clock& clock() const noexcept { return *config_.clock; }
  CircuitBreakers& breakers() noexcept { return breakers_; }
  const std::shared_ptr<AsyncSemaphore>& limit() const noexcept { return limit_; }
  // A uniform value in [0, 1) from the policy's source or the private generator.
  double random();

 private:
  ResilienceConfig config_;
  CircuitBreakers breakers_;
  std::shared_ptr<AsyncSemaphore> limit_;
  std::mutex random_mu_;
  std::mt19937_64 generator_;
};

// The one door to a provider's protected implementation and settings.
struct ProviderAccess {
  static void generate(Provider& p, Request request, ResponseHandler handler) {
    p.do_generate(std::move(request), std::move(handler));
  }
  static void stream(Provider& p, Request request, EventSink sink, ResponseHandler handler) {
    p.do_stream(std::move(request), std::move(sink), std::move(handler));
  }
  static std::shared_ptr<Resilience> resilience(const Provider& p);
  static const std::shared_ptr<ObserverList>& observers(const Provider& p) { return p.observers_; }
};

// Gate between one stream attempt and the consumer's buffer: records whether an event got
// through (then the attempt is never retried) and drops events arriving after the attempt ended.
class AttemptGate;
// Pushes `event` to `state` unless the gate is closed (EventSink::emit).
void emit_through(AttemptGate& gate, StreamState& state, StreamEvent event);

// The generate path: every attempt through breaker, limit and retries, with events. Cancelled
// operations end with CancelledError. A structured-output layer that validates and re-asks calls
// this once per model request it makes.
asio::awaitable<Response> generate_with_retries(std::shared_ptr<Provider> provider, Request request);

// The streaming path: as generate_with_retries, with events written to `state`; an attempt is
// retried only while none of its events has reached `state`. A failure after that rethrows the
// error with ErrorInfo::partial set to what the consumer was given (content, tool calls, usage).
asio::awaitable<Response> stream_with_retries(std::shared_ptr<Provider> provider, Request request,
                                              std::shared_ptr<StreamState> state);

}  // namespace llmux::detail
