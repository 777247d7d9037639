#include <llmux/provider.hpp>

#include <future>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include "api/operation.hpp"
#include "api/pipeline.hpp"
#include "api/stream_state.hpp"
#include "api/structured_output.hpp"
#include "api/sync_guard.hpp"

namespace llmux {

namespace {

// The generate pipeline. A structured-output layer (validation with a feedback retry) wraps the
// call below: each model request it makes is one call of generate_with_retries, so every one of
// them gets the breaker, the limit, the retries and the events.
asio::awaitable<Response> run_generate(std::shared_ptr<Provider> self, Request request) {
  detail::AttemptFn attempt = [self](Request r) { return detail::generate_with_retries(self, std::move(r)); };
  auto structured = detail::run_structured(self, std::move(request), std::move(attempt));
  co_return co_await std::move(structured);
}

}  // namespace

Provider::Provider(Executor executor)
    : executor_(std::move(executor)),
      resilience_(std::make_shared<detail::Resilience>(ResilienceConfig{})),
      observers_(std::make_shared<detail::ObserverList>()) {}

Provider::~Provider() = default;

void Provider::configure_resilience(ResilienceConfig config) {
  auto observers = std::move(config.observers);
  auto next = std::make_shared<detail::Resilience>(std::move(config));
  {
    std::lock_guard lock(resilience_mu_);
    resilience_ = std::move(next);
  }
  for (auto& o : observers) observers_->add(std::move(o));
}

void Provider::subscribe(std::shared_ptr<RequestObserver> observer) {
  observers_->add(std::move(observer));
}

void Provider::unsubscribe(const std::shared_ptr<RequestObserver>& observer) {
  observers_->remove(observer);
}

namespace detail {
std::shared_ptr<Resilience> ProviderAccess::resilience(const Provider& p) {
  std::lock_guard lock(p.resilience_mu_);
  return p.resilience_;
}
}  // namespace detail

void Provider::start_generate(Request request, ResponseHandler handler) {
  auto self = shared_from_this();
  detail::spawn_operation(
      executor_,
      [self = std::move(self), request = std::move(request)] { return run_generate(self, request); },
      std::move(handler));
}

Stream Provider::async_stream(Request request) {
  auto state = std::make_shared<detail::StreamState>(executor_);
  // Cancellation of the upstream operation is emitted on this strand, which is also the
  // executor its completion handler runs on: emit and the operation's final slot clear never race.
  auto strand = asio::make_strand(executor_);
  auto signal = std::make_shared<asio::cancellation_signal>();
  state->set_upstream_cancel([strand, signal](asio::cancellation_type type) {
    asio::post(strand, [signal, type] { signal->emit(type); });
  });
  auto on_done = [state, signal](std::exception_ptr error, Response response) {
    state->complete(std::move(error), std::move(response));
  };
  auto self = shared_from_this();
  detail::spawn_operation(
      executor_,
      [self = std::move(self), request = std::move(request), state] {
        detail::AttemptFn attempt = [self, state](Request r) {
          return detail::stream_with_retries(self, std::move(r), state);
        };
        return detail::run_structured_stream(self, request, std::move(attempt));
      },
      ResponseHandler(asio::bind_cancellation_slot(
          signal->slot(), asio::bind_executor(strand, std::move(on_done)))));
  return Stream(std::move(state));
}

void Provider::do_list_models(ModelsHandler handler) {
  auto ex = asio::get_associated_executor(handler, executor_);
  auto error = make_error(errc::invalid_request,
                          std::string("provider '") + std::string(name()) + "' cannot list models");
  asio::post(executor_, [ex, error, handler = std::move(handler)]() mutable {
    asio::dispatch(ex, [error, handler = std::move(handler)]() mutable {
      std::move(handler)(error, std::vector<ModelInfo>{});
    });
  });
}

std::vector<ModelInfo> Provider::list_models() {
  detail::throw_if_would_deadlock(executor_, "Provider::list_models");
  return async_list_models(asio::use_future).get();
}

Response Provider::generate(Request request) {
  detail::throw_if_would_deadlock(executor_, "Provider::generate");
  return async_generate(std::move(request), asio::use_future).get();
}

}  // namespace llmux
