// llmux::Runtime: a user-owned io_context and the threads that run it. No global state: every
// provider is created on a runtime or on an executor the caller supplies.
#pragma once

#include <cstddef>
#include <memory>

#include <boost/asio/any_io_executor.hpp>

namespace boost::asio {
class io_context;
}

namespace llmux {

// Thread safety: get_executor(), context() and running_in_this_thread() may be called from any
// thread. The destructor stops the io_context and joins its threads; operations still in flight
// are abandoned (their handlers are destroyed without being called), so finish or cancel them
// first. Never destroy a Runtime from one of its own threads.
class Runtime {
 public:
  explicit Runtime(std::size_t threads = 1);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  boost::asio::any_io_executor get_executor() const noexcept;
  boost::asio::io_context& context() noexcept;
  std::size_t thread_count() const noexcept;

  // Whether the calling thread is one of this runtime's threads.
  bool running_in_this_thread() const noexcept;

  // Stops the io_context (pending handlers stay queued) and joins the threads. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmux
