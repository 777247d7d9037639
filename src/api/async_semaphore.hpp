// An asynchronous counting semaphore: acquirers wait in FIFO order without blocking a thread,
// and a waiting acquisition can be cancelled through its handler's slot. Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

#include <boost/asio/async_result.hpp>

#include "api/wait_queue.hpp"

namespace llmux::detail {

class AsyncSemaphore : public std::enable_shared_from_this<AsyncSemaphore> {
 public:
  explicit AsyncSemaphore(std::size_t permits) : available_(permits) {}

  // Completes with success once a permit is held (release() gives it back), or with
  // asio::error::operation_aborted when cancelled while waiting (no permit held then).
  template <class Token>
  auto async_acquire(boost::asio::any_io_executor executor, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [self = shared_from_this()](auto handler, boost::asio::any_io_executor ex) {
          self->acquire(std::move(ex), WaitHandler(std::move(handler)));
        },
        token, std::move(executor));
  }
  void release();

  std::size_t available() const;
  std::size_t waiting() const;

 private:
  void acquire(boost::asio::any_io_executor executor, WaitHandler handler);
  void cancel_waiter(std::uint64_t id);

  mutable std::mutex mu_;
  std::size_t available_;
  std::deque<ParkedWait> queue_;
  std::uint64_t next_id_ = 0;
};

// Holds one permit of a semaphore (or none) and releases it once.
class Permit {
 public:
  Permit() = default;
  explicit Permit(std::shared_ptr<AsyncSemaphore> s) : sem_(std::move(s)) {}
  Permit(Permit&& o) noexcept : sem_(std::move(o.sem_)) {}
  Permit& operator=(Permit&& o) noexcept {
    if (this != &o) {
      release();
      sem_ = std::move(o.sem_);
    }
    return *this;
  }
  ~Permit() { release(); }
  void release() {
    if (auto s = std::move(sem_)) s->release();
  }

 private:
  std::shared_ptr<AsyncSemaphore> sem_;
};

}  // namespace llmux::detail
