#include "api/async_semaphore.hpp"

#include <boost/asio/error.hpp>

namespace llmux::detail {

void AsyncSemaphore::acquire(boost::asio::any_io_executor executor, WaitHandler handler) {
  std::unique_lock lock(mu_);
  ParkedWait wait(next_id_++, std::move(executor), std::move(handler));
  if (available_ > 0 && queue_.empty()) {
    --available_;
    lock.unlock();
    std::move(wait).complete({});
    return;
  }
  wait.connect_cancellation([weak = weak_from_this()](std::uint64_t id) {
    if (auto self = weak.lock()) self->cancel_waiter(id);
  });
  queue_.push_back(std::move(wait));
}

void AsyncSemaphore::release() {
  std::unique_lock lock(mu_);
  if (queue_.empty()) {
    ++available_;
    return;
  }
  ParkedWait next = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  std::move(next).complete({});  // the permit passes straight to the next in line
}

void AsyncSemaphore::cancel_waiter(std::uint64_t id) {
  std::unique_lock lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->id() != id) continue;
    ParkedWait wait = std::move(*it);
    queue_.erase(it);
    lock.unlock();
    std::move(wait).complete(boost::asio::error::operation_aborted);
    return;
  }
}

std::size_t AsyncSemaphore::available() const {
  std::lock_guard lock(mu_);
  return available_;
}

std::size_t AsyncSemaphore::waiting() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace llmux::detail
