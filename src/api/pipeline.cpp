// The retry loop shared by every path (see pipeline.hpp).
#include "api/pipeline.hpp"

#include <algorithm>
#include <functional>
#include <optional>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "api/operation.hpp"
#include "api/retry.hpp"
#include "api/stream_state.hpp"

namespace llmux::detail {

// ---- ObserverList, Resilience ----------------------------------------------------------------

void ObserverList::add(std::shared_ptr<RequestObserver> observer) {
  if (!observer) return;
  std::lock_guard lock(mu_);
  auto next = list_ ? std::make_shared<List>(*list_) : std::make_shared<List>();
  next->push_back(std::move(observer));
  list_ = std::move(next);
}

void ObserverList::remove(const std::shared_ptr<RequestObserver>& observer) {
  std::lock_guard lock(mu_);
  if (!list_) return;
  auto next = std::make_shared<List>(*list_);
  std::erase(*next, observer);
  list_ = std::move(next);
}

bool ObserverList::empty() const {
  std::lock_guard lock(mu_);
  return !list_ || list_->empty();
}

std::shared_ptr<const ObserverList::List> ObserverList::snapshot() const {
  std::lock_guard lock(mu_);
  return list_;
}

namespace {

ResilienceConfig validated(ResilienceConfig c) {
  const RetryPolicy& r = c.retry;
  if (r.max_attempts < 1) throw_error(errc::invalid_argument, "RetryPolicy: max_attempts must be >= 1");
  if (r.initial_backoff.count() < 0 || r.max_backoff.count() < 0 || r.max_retry_after.count() < 0) {
    throw_error(errc::invalid_argument, "RetryPolicy: delays must not be negative");
  }
  if (!(r.multiplier >= 1.0)) throw_error(errc::invalid_argument, "RetryPolicy: multiplier must be >= 1");
  if (c.breaker.failure_threshold < 0 || c.breaker.cool_down.count() < 0) {
    throw_error(errc::invalid_argument, "CircuitBreakerPolicy: threshold and cool-down must not be negative");
  }
  if (!c.clock) c.clock = make_system_clock();
  c.observers.clear();  // subscribed to the provider's ObserverList instead
  return c;
}

std::uint64_t seed_of(const RetryPolicy& r) {
  if (r.seed != 0) return r.seed;
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

}  // namespace

Resilience::Resilience(ResilienceConfig config)
    : config_(validated(std::move(config))),
      breakers_(config_.breaker),
      limit_(config_.max_concurrent_requests
                 ? std::make_shared<AsyncSemaphore>(config_.max_concurrent_requests)
                 : nullptr),
      generator_(seed_of(config_.retry)) {}

double Resilience::random() {
  std::lock_guard lock(random_mu_);
  if (config_.retry.random) return config_.retry.random();
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator_);
}

// ---- One request's run: its events -----------------------------------------------------------

namespace {

using Micro = std::chrono::microseconds;

struct RequestRun {
  std::shared_ptr<Provider> provider;
  std::shared_ptr<Resilience> res;
  std::shared_ptr<ObserverList> observers;
  RequestInfo info;
  Clock::time_point started;
  int attempts = 0;
  bool delivered = false;  // a stream attempt's event reached the consumer: never retry
  std::atomic<std::int64_t> ttft_us{-1};

  Micro since_start() const {
    return std::max(Micro(0), std::chrono::duration_cast<Micro>(res->clock().now() - started));
  }

  void finish_ok(const Response& r) {
    observers->notify([&](RequestObserver& o) {
      RequestEndEvent e{info, true, std::nullopt, attempts, since_start(), ttft(), r.usage};
      o.on_end(e);
    });
  }

  void finish_error(const std::exception_ptr& error) {
    if (observers->empty()) return;
    std::optional<errc> code = error_code_of(error);
    std::string message = "unknown error";
    Usage usage;
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      message = e.what();
      if (e.partial()) usage = e.partial()->usage;
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    observers->notify([&](RequestObserver& o) {
      ErrorEvent e{info, code, message, error, attempts, usage};
      o.on_error(e);
    });
    observers->notify([&](RequestObserver& o) {
      RequestEndEvent e{info, false, code, attempts, since_start(), ttft(), usage};
      o.on_end(e);
    });
  }

  void notify_retry(const std::exception_ptr& error, const RetryDecision& d) {
    if (observers->empty()) return;
    errc code = error_code_of(error).value_or(errc::server_error);
    std::string message;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    observers->notify([&](RequestObserver& o) {
      RetryEvent e{info, attempts, d.delay, d.server_delay, code, message, error};
      o.on_retry(e);
    });
  }

  std::optional<Micro> ttft() const {
    auto v = ttft_us.load();
    if (v < 0) return std::nullopt;
    return Micro(v);
  }
};

std::shared_ptr<RequestRun> make_run(std::shared_ptr<Provider> provider, const Request& request,
                                     bool stream) {
  auto run = std::make_shared<RequestRun>();
  run->res = ProviderAccess::resilience(*provider);
  run->observers = ProviderAccess::observers(*provider);
  run->info = RequestInfo{run->observers->next_request_id(), std::string(provider->name()),
                          request.model, stream};
  run->provider = std::move(provider);
  run->started = run->res->clock().now();
  run->observers->notify([&](RequestObserver& o) { o.on_start(RequestStartEvent{run->info}); });
  return run;
}

ErrorInfo info_for(const RequestRun& run) {
  ErrorInfo info;
  info.provider = run.info.provider;
  return info;
}

// Asio reports a cancelled co_await as system_error(operation_aborted): make it llmux's error.
std::exception_ptr normalized(std::exception_ptr error, const RequestRun& run) {
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::operation_aborted) {
      return make_error(errc::cancelled, run.info.provider + ": request cancelled", info_for(run));
    }
  } catch (...) {
  }
  return error;
}

std::exception_ptr circuit_open_error(const RequestRun& run, const CircuitBreakers::Admission& a) {
  ErrorInfo info = info_for(run);
  info.retry_after = a.retry_in;
  std::string model = run.info.model.empty() ? "(default model)" : run.info.model;
  std::string message =
      a.retry_in.count() > 0
          ? fmt::format("{}: circuit open for model {} after repeated failures; retry in {} ms",
                        run.info.provider, model, a.retry_in.count())
          : fmt::format("{}: circuit half-open for model {}: a probe request is in flight",
                        run.info.provider, model);
  return make_error(errc::overloaded, message, std::move(info));
}

using AttemptFn = std::function<asio::awaitable<Response>(int attempt)>;

// Ends the run with `error`: error and end events, then throws it.
[[noreturn]] void fail(RequestRun& run, const std::exception_ptr& error) {
  run.finish_error(error);
  std::rethrow_exception(error);
}

asio::awaitable<Response> retry_loop(std::shared_ptr<RequestRun> run, AttemptFn attempt_fn) {
  // Cancellation is checked explicitly: a wait started after it must not throw Asio's error.
  co_await asio::this_coro::throw_if_cancelled(false);
  const Executor ex = co_await asio::this_coro::executor;
  Resilience& res = *run->res;
  const std::string& model = run->info.model;
  const std::exception_ptr cancelled =
      make_error(errc::cancelled, run->info.provider + ": request cancelled", info_for(*run));
  while (true) {
    if (co_await cancellation_requested()) fail(*run, cancelled);
    const auto admission = res.breakers().admit(model, res.clock().now());
    if (!admission.allowed) fail(*run, circuit_open_error(*run, admission));
    ++run->attempts;
    Permit permit;
    if (const auto& limit = res.limit()) {
      boost::system::error_code ec;
      co_await limit->async_acquire(ex, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        res.breakers().record(model, CircuitBreakers::Outcome::other, admission.probe, res.clock().now());
        fail(*run, cancelled);
      }
      permit = Permit(limit);
    }
    std::optional<Response> response;
    std::exception_ptr error;
    try {
      response = co_await attempt_fn(run->attempts);
    } catch (...) {
      error = normalized(std::current_exception(), *run);
    }
    permit.release();
    const auto now = res.clock().now();
    if (response) {
      res.breakers().record(model, CircuitBreakers::Outcome::success, admission.probe, now);
      run->finish_ok(*response);
      co_return std::move(*response);
    }
    const bool retryable = classify_failure(error) == FailureKind::retryable;
    res.breakers().record(model,
                          retryable ? CircuitBreakers::Outcome::retryable_failure
                                    : CircuitBreakers::Outcome::other,
                          admission.probe, now);
    const std::function<double()> random = [&res] { return res.random(); };
    RetryDecision d = decide_retry(res.retry(), error, run->attempts, now, random);
    // (g++ 12 mis-evaluates a co_await inside `||`: keep it a statement of its own.)
    const bool cancel_asked = co_await cancellation_requested();
    if (run->delivered || cancel_asked) d.retry = false;
    if (!d.retry) fail(*run, error);
    run->notify_retry(error, d);
    boost::system::error_code ec;
    co_await res.clock().async_wait(ex, d.delay, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) fail(*run, cancelled);
  }
}

asio::awaitable<Response> generate_attempt(std::shared_ptr<RequestRun> run, Request request) {
  auto init = [provider = run->provider](auto handler, Request r) {
    ProviderAccess::generate(*provider, std::move(r), ResponseHandler(std::move(handler)));
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, ResponseSignature>(
      init, asio::use_awaitable, std::move(request));
}

}  // namespace

// ---- Streams: the gate of an attempt ---------------------------------------------------------

class AttemptGate {
 public:
  AttemptGate(std::shared_ptr<RequestRun> run, int attempt) : run_(std::move(run)), attempt_(attempt) {}

  void emit(StreamState& state, StreamEvent event) {
    bool first = false;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      first = !delivered_;
      delivered_ = true;
      state.push(std::move(event));
    }
    if (first) on_first_event();
  }

  // Ends the attempt: later events are dropped. Returns whether any event got through.
  bool close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    return delivered_;
  }

 private:
  void on_first_event() {
    RequestRun& run = *run_;
    auto ttft = run.since_start();
    run.ttft_us.store(ttft.count());
    run.observers->notify([&](RequestObserver& o) {
      FirstTokenEvent e{run.info, attempt_, ttft};
      o.on_first_token(e);
    });
  }

  std::shared_ptr<RequestRun> run_;
  int attempt_;
  std::mutex mu_;
  bool closed_ = false;
  bool delivered_ = false;
};

void emit_through(AttemptGate& gate, StreamState& state, StreamEvent event) {
  gate.emit(state, std::move(event));
}

namespace {

// The error of a stream that failed after delivering events, carrying what was delivered.
std::exception_ptr with_partial(const std::exception_ptr& error, const StreamState& state) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    ErrorInfo info = e.info();
    Response partial = state.partial();
    if (info.partial) {
      // Keep the provider's own partial (model, timings, request id) but the delivered content.
      Response merged = *info.partial;
      merged.content = partial.content;
      merged.reasoning = partial.reasoning;
      merged.tool_calls = partial.tool_calls;
      if (partial.usage != Usage{}) merged.usage = partial.usage;
      partial = std::move(merged);
    }
    partial.finish_reason = e.code() == errc::cancelled ? FinishReason::cancelled : FinishReason::error;
    info.partial = std::make_shared<const Response>(std::move(partial));
    return make_error(e.code(), e.what(), std::move(info));
  } catch (...) {
    return error;
  }
}

asio::awaitable<Response> stream_attempt(std::shared_ptr<RequestRun> run, Request request,
                                         std::shared_ptr<StreamState> state, int attempt) {
  auto gate = std::make_shared<AttemptGate>(run, attempt);
  EventSink sink(state, gate);
  auto init = [provider = run->provider](auto handler, Request r, EventSink s) {
    ProviderAccess::stream(*provider, std::move(r), std::move(s), ResponseHandler(std::move(handler)));
  };
  std::exception_ptr error;
  Response response;
  try {
    response = co_await asio::async_initiate<const asio::use_awaitable_t<>&, ResponseSignature>(
        init, asio::use_awaitable, std::move(request), std::move(sink));
  } catch (...) {
    error = std::current_exception();
  }
  const bool delivered = gate->close();
  if (!error) co_return response;
  if (delivered) {
    run->delivered = true;
    error = with_partial(normalized(error, *run), *state);
  }
  std::rethrow_exception(error);
}

}  // namespace

asio::awaitable<Response> generate_with_retries(std::shared_ptr<Provider> provider, Request request) {
  auto run = make_run(std::move(provider), request, false);
  AttemptFn attempt = [run, request = std::move(request)](int) { return generate_attempt(run, request); };
  co_return co_await retry_loop(run, std::move(attempt));
}

asio::awaitable<Response> stream_with_retries(std::shared_ptr<Provider> provider, Request request,
                                              std::shared_ptr<StreamState> state) {
  auto run = make_run(std::move(provider), request, true);
  AttemptFn attempt = [run, request = std::move(request), state](int n) {
    return stream_attempt(run, request, state, n);
  };
  co_return co_await retry_loop(run, std::move(attempt));
}

}  // namespace llmux::detail
