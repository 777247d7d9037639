// The system clock and ManualClock (include/llmux/resilience.hpp).
#include <llmux/resilience.hpp>

#include <condition_variable>
#include <map>
#include <mutex>

#include <boost/asio/consign.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api/wait_queue.hpp"

namespace llmux {
namespace {

class SystemClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::system_clock::now(); }

 protected:
  void do_wait(boost::asio::any_io_executor executor, std::chrono::milliseconds delay,
               WaitHandler handler) override {
    // The timer's per-operation cancellation follows the handler's slot.
    auto timer = std::make_shared<boost::asio::steady_timer>(std::move(executor), delay);
    timer->async_wait(boost::asio::consign(std::move(handler), timer));
  }
};

}  // namespace

std::shared_ptr<Clock> make_system_clock() { return std::make_shared<SystemClock>(); }

struct ManualClock::Impl : std::enable_shared_from_this<Impl> {
  bool auto_advance;
  mutable std::mutex mu;
  mutable std::condition_variable changed;
  time_point now;
  std::multimap<time_point, detail::ParkedWait> waits;
  std::vector<std::chrono::milliseconds> requested;
  std::uint64_t next_id = 0;

  Impl(bool auto_adv, time_point start) : auto_advance(auto_adv), now(start) {}

  void cancel(std::uint64_t id) {
    std::unique_lock lock(mu);
    for (auto it = waits.begin(); it != waits.end(); ++it) {
      if (it->second.id() != id) continue;
      detail::ParkedWait w = std::move(it->second);
      waits.erase(it);
      lock.unlock();
      changed.notify_all();
      std::move(w).complete(boost::asio::error::operation_aborted);
      return;
    }
  }
};

ManualClock::ManualClock(bool auto_advance, time_point start)
    : impl_(std::make_shared<Impl>(auto_advance, start)) {}

ManualClock::~ManualClock() = default;

ManualClock::time_point ManualClock::default_start() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1767225600));  // 2026-01-01
}

ManualClock::time_point ManualClock::now() const {
  std::lock_guard lock(impl_->mu);
  return impl_->now;
}

void ManualClock::do_wait(boost::asio::any_io_executor executor, std::chrono::milliseconds delay,
                          WaitHandler handler) {
  std::unique_lock lock(impl_->mu);
  impl_->requested.push_back(delay);
  detail::ParkedWait wait(impl_->next_id++, std::move(executor), std::move(handler));
  if (impl_->auto_advance || delay <= std::chrono::milliseconds(0)) {
    if (delay > std::chrono::milliseconds(0)) impl_->now += delay;
    lock.unlock();
    impl_->changed.notify_all();
    std::move(wait).complete({});
    return;
  }
  wait.connect_cancellation([weak = std::weak_ptr<Impl>(impl_)](std::uint64_t id) {
    if (auto impl = weak.lock()) impl->cancel(id);
  });
  impl_->waits.emplace(impl_->now + delay, std::move(wait));
  lock.unlock();
  impl_->changed.notify_all();
}

void ManualClock::advance(std::chrono::milliseconds by) {
  std::vector<detail::ParkedWait> due;
  {
    std::lock_guard lock(impl_->mu);
    impl_->now += by;
    auto end = impl_->waits.upper_bound(impl_->now);
    for (auto it = impl_->waits.begin(); it != end; ++it) due.push_back(std::move(it->second));
    impl_->waits.erase(impl_->waits.begin(), end);
  }
  impl_->changed.notify_all();
  for (auto& w : due) std::move(w).complete({});
}

std::size_t ManualClock::pending() const {
  std::lock_guard lock(impl_->mu);
  return impl_->waits.size();
}

bool ManualClock::wait_for_pending(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->waits.size() >= n; });
}

std::vector<std::chrono::milliseconds> ManualClock::requested_waits() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requested;
}

}  // namespace llmux
