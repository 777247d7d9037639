// The provider interface: one asynchronous pipeline for every backend, with a synchronous API
// that runs the same code and waits.
//
// Completion signature of generation: void(std::exception_ptr, Response). The exception_ptr is
// null on success, otherwise it holds an llmux::Error subclass (see error.hpp), so the type of an
// error survives every completion token:
//   co_await p->async_generate(req, asio::use_awaitable);   // throws llmux::RateLimitError …
//   p->async_generate(req, asio::use_future).get();         // rethrows it
//   p->async_generate(req, [](std::exception_ptr e, llmux::Response r) { … });
//   auto op = p->async_generate(req, asio::deferred);       // runs when op(token) is called
//
// Cancellation: Asio per-operation cancellation slots (asio::bind_cancellation_slot, the
// awaitable operators, `cancel_after` helpers) are honoured. Terminal, partial and total
// cancellation all stop the request; it completes with llmux::CancelledError whose partial()
// holds what was produced so far. The slot may be emitted from any thread.
//
// Thread safety: a Provider may be used from any number of threads at once. Completion handlers
// run on their associated executor (for callbacks without one: the provider's executor).
//
// Resilience (include/llmux/resilience.hpp, docs/resilience.md): every request — async, sync
// and streaming — goes through one pipeline: the circuit breaker of its model, the provider's
// concurrency limit, the retry loop, and the request events of the provider's observers.
//
// Lifetime: providers are owned by std::shared_ptr (create_llm returns one). Operations in flight
// keep the provider alive; the executor (its io_context) must outlive them.
#pragma once

#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <llmux/error.hpp>
#include <llmux/events.hpp>
#include <llmux/resilience.hpp>
#include <llmux/types.hpp>

namespace llmux {

namespace asio = boost::asio;

using Executor = asio::any_io_executor;
using ResponseSignature = void(std::exception_ptr, Response);
using ResponseHandler = asio::any_completion_handler<ResponseSignature>;
using EventSignature = void(std::exception_ptr, std::optional<StreamEvent>);
using EventHandler = asio::any_completion_handler<EventSignature>;
using ModelsSignature = void(std::exception_ptr, std::vector<ModelInfo>);
using ModelsHandler = asio::any_completion_handler<ModelsSignature>;

namespace detail {
class StreamState;
class AttemptGate;
class Resilience;
class ObserverList;
struct ProviderAccess;
}

// Where a provider's streaming implementation writes its events. Cheap to copy; thread-safe.
class EventSink {
 public:
  EventSink() = default;  // a sink that discards everything
  explicit EventSink(std::shared_ptr<detail::StreamState> state) : state_(std::move(state)) {}
  // A sink of one attempt of a retried stream (see src/api/pipeline.hpp).
  EventSink(std::shared_ptr<detail::StreamState> state, std::shared_ptr<detail::AttemptGate> gate)
      : state_(std::move(state)), gate_(std::move(gate)) {}

  void emit(StreamEvent event) const;
  // Whether anyone is listening (false for a discarding sink).
  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  std::shared_ptr<detail::StreamState> state_;
  std::shared_ptr<detail::AttemptGate> gate_;
};

// An in-flight streaming request. Events are buffered from the moment the request starts, so no
// event is lost between async_stream() and the first async_next().
//
// async_next completes with void(std::exception_ptr, std::optional<StreamEvent>): an event, then
// std::nullopt once the stream has ended (after its Finish event), or an llmux::Error. After an
// error every further async_next gives the same error. Cancelling an async_next (its slot), or
// calling cancel(), or destroying the Stream cancels the upstream request: the HTTP connection is
// closed, a local sequence leaves its batch. At most one async_next may be outstanding.
class Stream {
 public:
  explicit Stream(std::shared_ptr<detail::StreamState> state);
  Stream(Stream&&) noexcept;
  Stream& operator=(Stream&&) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  Executor get_executor() const noexcept;

  template <class Token = asio::default_completion_token_t<Executor>>
  auto async_next(Token&& token = asio::default_completion_token_t<Executor>()) {
    return asio::async_initiate<Token, EventSignature>(
        [](auto handler, std::shared_ptr<detail::StreamState> state) {
          initiate_next(std::move(state), EventHandler(std::move(handler)));
        },
        token, state_);
  }

  // Blocking: the next event, or std::nullopt at the end. Throws the stream's llmux::Error.
  // Throws WouldDeadlockError when called on a thread running the stream's executor.
  std::optional<StreamEvent> next();

  // Cancels the upstream request. Idempotent; thread-safe.
  void cancel();

  // The complete response (content, tool calls, usage, timings — what async_generate would give)
  // once the stream has ended successfully; std::nullopt before that or after an error.
  std::optional<Response> response() const;

  // Blocking iteration: for (const StreamEvent& e : stream) { … }
  class iterator {
   public:
    using value_type = StreamEvent;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(Stream* s) : stream_(s) { ++*this; }
    const StreamEvent& operator*() const { return *current_; }
    const StreamEvent* operator->() const { return &*current_; }
    iterator& operator++() {
      current_ = stream_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) {
      return !it.current_.has_value();
    }

   private:
    Stream* stream_ = nullptr;
    std::optional<StreamEvent> current_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  static void initiate_next(std::shared_ptr<detail::StreamState> state, EventHandler handler);
  std::shared_ptr<detail::StreamState> state_;
};

class Provider : public std::enable_shared_from_this<Provider> {
 public:
  virtual ~Provider();
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;

  // The registry name of this provider ("openai", "fake", …).
  virtual std::string_view name() const noexcept = 0;
  Executor get_executor() const noexcept { return executor_; }

  template <class Token = asio::default_completion_token_t<Executor>>
  auto async_generate(Request request,
                      Token&& token = asio::default_completion_token_t<Executor>()) {
    return asio::async_initiate<Token, ResponseSignature>(
        [](auto handler, std::shared_ptr<Provider> self, Request req) {
          self->start_generate(std::move(req), ResponseHandler(std::move(handler)));
        },
        token, shared_from_this(), std::move(request));
  }

  // Starts a streaming request at once and returns its stream. Failed attempts are retried (per
  // the RetryPolicy) only while no event has reached the stream; a failure after that ends the
  // stream with the error, whose partial() holds the content, tool calls and usage delivered.
  Stream async_stream(Request request);

  // The models the provider offers. Completion: void(std::exception_ptr, std::vector<ModelInfo>).
  template <class Token = asio::default_completion_token_t<Executor>>
  auto async_list_models(Token&& token = asio::default_completion_token_t<Executor>()) {
    return asio::async_initiate<Token, ModelsSignature>(
        [](auto handler, std::shared_ptr<Provider> self) {
          self->do_list_models(ModelsHandler(std::move(handler)));
        },
        token, shared_from_this());
  }
  std::vector<ModelInfo> list_models();

  // Blocking: runs async_generate and waits. Throws the operation's llmux::Error, or
  // WouldDeadlockError when called on a thread that runs this provider's executor.
  Response generate(Request request);

  // Replaces the retry policy, circuit breakers (their state resets), concurrency limit and
  // clock, and subscribes config.observers. ProviderRegistry::create applies
  // ProviderConfig::resilience this way. Thread-safe; requests already started keep the
  // settings they started with.
  void configure_resilience(ResilienceConfig config);
  // Adds or removes a request observer (include/llmux/events.hpp). Thread-safe; a request sees
  // the observers present when each of its events fires.
  void subscribe(std::shared_ptr<RequestObserver> observer);
  void unsubscribe(const std::shared_ptr<RequestObserver>& observer);

 protected:
  explicit Provider(Executor executor);

  // Implementations. The handler must be completed exactly once (never from inside this call:
  // post or run the work asynchronously); its cancellation slot is honoured.
  virtual void do_generate(Request request, ResponseHandler handler) = 0;
  // Streaming: events go to `sink` as they arrive; the handler completes with the final response
  // (as do_generate would give it) or the error. Cancellation comes through the handler's slot.
  virtual void do_stream(Request request, EventSink sink, ResponseHandler handler) = 0;
  // Model listing; the default completes with InvalidRequestError ("cannot list models").
  virtual void do_list_models(ModelsHandler handler);

 private:
  friend struct detail::ProviderAccess;
  void start_generate(Request request, ResponseHandler handler);
  Executor executor_;
  mutable std::mutex resilience_mu_;
  std::shared_ptr<detail::Resilience> resilience_;
  std::shared_ptr<detail::ObserverList> observers_;
};

}  // namespace llmux
