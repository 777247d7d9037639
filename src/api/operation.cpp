#include "api/operation.hpp"

#include <memory>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>

namespace llmux::detail {
namespace {

asio::awaitable<Response> run_body(OperationBody body) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  co_return co_await body();
}

}  // namespace

void spawn_operation(const Executor& executor, OperationBody body, ResponseHandler handler) {
  auto strand = asio::make_strand(executor);
  auto signal = std::make_shared<asio::cancellation_signal>();
  auto user_slot = asio::get_associated_cancellation_slot(handler);
  if (user_slot.is_connected()) {
    // The caller may emit from its own thread; the coroutine's signal is only touched on its
    // strand.
    user_slot.assign([signal, strand](asio::cancellation_type type) {
      asio::post(strand, [signal, type] { signal->emit(type); });
    });
  }
  // Outstanding work on the handler's executor while the operation runs, as Asio's own
  // composed operations do: an io_context that only waits for this completion keeps running.
  auto handler_ex = asio::prefer(asio::get_associated_executor(handler, executor),
                                 asio::execution::outstanding_work.tracked);
  auto on_done = [signal, user_slot, handler_ex, handler = std::move(handler)](
                     std::exception_ptr error, Response response) mutable {
    asio::dispatch(handler_ex, [signal, user_slot, handler = std::move(handler), error,
                                response = std::move(response)]() mutable {
      if (user_slot.is_connected()) user_slot.clear();
      std::move(handler)(error, std::move(response));
    });
  };
  asio::co_spawn(strand, run_body(std::move(body)),
                 asio::bind_cancellation_slot(signal->slot(), std::move(on_done)));
}

asio::awaitable<bool> cancellation_requested() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

}  // namespace llmux::detail
