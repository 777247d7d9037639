// Running a provider operation as a C++20 coroutine: the one place that connects a caller's
// completion handler (any token, any thread) to a coroutine on a strand of the provider.
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>

#include <llmux/provider.hpp>

namespace llmux::detail {

template <class T>
using OperationBodyOf = std::function<asio::awaitable<T>()>;
using OperationBody = OperationBodyOf<Response>;

template <class T>
asio::awaitable<T> run_operation_body(OperationBodyOf<T> body) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  co_return co_await body();
}

// Runs body() on a new strand of `executor` and completes `handler` with its result (an
// exception thrown by the body becomes the exception_ptr) on the handler's executor, keeping
// outstanding work there meanwhile, as Asio's own composed operations do. Cancellation emitted
// on the handler's slot, from any thread, reaches the coroutine as terminal/partial/total
// cancellation of its current co_await.
template <class T>
void spawn_operation(const Executor& executor, OperationBodyOf<T> body,
                     asio::any_completion_handler<void(std::exception_ptr, T)> handler) {
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
  auto handler_ex = asio::prefer(asio::get_associated_executor(handler, executor),
                                 asio::execution::outstanding_work.tracked);
  auto on_done = [signal, user_slot, handler_ex, handler = std::move(handler)](
                     std::exception_ptr error, T result) mutable {
    asio::dispatch(handler_ex, [signal, user_slot, handler = std::move(handler), error,
                                result = std::move(result)]() mutable {
      if (user_slot.is_connected()) user_slot.clear();
      std::move(handler)(error, std::move(result));
    });
  };
  asio::co_spawn(strand, run_operation_body<T>(std::move(body)),
                 asio::bind_cancellation_slot(signal->slot(), std::move(on_done)));
}

inline void spawn_operation(const Executor& executor, OperationBody body, ResponseHandler handler) {
  spawn_operation<Response>(executor, std::move(body), std::move(handler));
}

// Inside an operation: whether the coroutine was asked to stop.
asio::awaitable<bool> cancellation_requested();

}  // namespace llmux::detail
