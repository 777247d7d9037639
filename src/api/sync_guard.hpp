// The check that makes the blocking API throw instead of deadlocking.
#pragma once

#include <string_view>

#include <llmux/provider.hpp>

namespace llmux::detail {

// Whether the calling thread is running `executor`'s event loop (io_context, strand of one, or
// thread pool), where a blocking wait for work on that executor could never return.
bool running_in_executor_thread(const Executor& executor) noexcept;

// Throws WouldDeadlockError naming `what` when running_in_executor_thread(executor).
void throw_if_would_deadlock(const Executor& executor, std::string_view what);

}  // namespace llmux::detail
