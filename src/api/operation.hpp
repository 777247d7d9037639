// Running a provider operation as a C++20 coroutine: the one place that connects a caller's
// completion handler (any token, any thread) to a coroutine on a strand of the provider.
#pragma once

#include <functional>

#include <boost/asio/awaitable.hpp>

#include <llmux/provider.hpp>

namespace llmux::detail {

using OperationBody = std::function<asio::awaitable<Response>()>;

// Runs body() on a new strand of `executor` and completes `handler` with its result (an
// exception thrown by the body becomes the exception_ptr) on the handler's executor.
// Cancellation emitted on the handler's slot, from any thread, reaches the coroutine as
// terminal/partial/total cancellation of its current co_await.
void spawn_operation(const Executor& executor, OperationBody body, ResponseHandler handler);

// Inside an operation: whether the coroutine was asked to stop.
asio::awaitable<bool> cancellation_requested();

}  // namespace llmux::detail
