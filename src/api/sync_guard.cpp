#include "api/sync_guard.hpp"

#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

namespace llmux::detail {

bool running_in_executor_thread(const Executor& executor) noexcept {
  using IoEx = asio::io_context::executor_type;
  using PoolEx = asio::thread_pool::executor_type;
  if (auto* ex = executor.target<IoEx>()) return ex->running_in_this_thread();
  if (auto* ex = executor.target<asio::strand<IoEx>>()) {
    return ex->get_inner_executor().running_in_this_thread();
  }
  if (auto* ex = executor.target<PoolEx>()) return ex->running_in_this_thread();
  if (auto* ex = executor.target<asio::strand<PoolEx>>()) {
    return ex->get_inner_executor().running_in_this_thread();
  }
  if (auto* ex = executor.target<asio::strand<Executor>>()) {
    return running_in_executor_thread(ex->get_inner_executor());
  }
  return false;
}

void throw_if_would_deadlock(const Executor& executor, std::string_view what) {
  if (running_in_executor_thread(executor)) {
    throw_error(errc::would_deadlock,
                std::string(what) +
                    " is a blocking call and was made on a thread that runs the executor it "
                    "waits for; use the async API (async_generate / async_next) there");
  }
}

}  // namespace llmux::detail
