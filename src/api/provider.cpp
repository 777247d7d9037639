#include <llmux/provider.hpp>

#include <future>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include "api/stream_state.hpp"
#include "api/sync_guard.hpp"

namespace llmux {

Provider::~Provider() = default;

void Provider::start_generate(Request request, ResponseHandler handler) {
  do_generate(std::move(request), std::move(handler));
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
  do_stream(std::move(request), EventSink(state),
            asio::bind_cancellation_slot(signal->slot(),
                                         asio::bind_executor(strand, std::move(on_done))));
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
