// Parked asynchronous waits (clock waits, semaphore acquisitions): a handler, its cancellation
// slot and the work it keeps alive, completed exactly once. Used under the owner's mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/system/error_code.hpp>

namespace llmux::detail {

using WaitHandler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

class ParkedWait {
 public:
  ParkedWait(std::uint64_t id, boost::asio::any_io_executor fallback, WaitHandler handler)
      : id_(id),
        fallback_(std::move(fallback)),
        work_(boost::asio::prefer(boost::asio::get_associated_executor(handler, fallback_),
                                  boost::asio::execution::outstanding_work.tracked)),
        slot_(boost::asio::get_associated_cancellation_slot(handler)),
        handler_(std::move(handler)) {}

  std::uint64_t id() const noexcept { return id_; }

  // Routes the handler's cancellation to `on_cancel(id)` (called on the emitting thread).
  void connect_cancellation(std::function<void(std::uint64_t)> on_cancel) {
    if (!slot_.is_connected()) return;
    slot_.assign([on_cancel = std::move(on_cancel), id = id_](boost::asio::cancellation_type) {
      on_cancel(id);
    });
  }

  // Never completes inline: posts to the fallback executor, then dispatches to the handler's
  // own, where the slot is cleared just before the handler runs.
  void complete(boost::system::error_code ec) && {
    auto work = std::move(work_);
    boost::asio::post(fallback_, [work = std::move(work), slot = slot_, ec,
                                  handler = std::move(handler_)]() mutable {
      boost::asio::dispatch(work, [slot, ec, handler = std::move(handler)]() mutable {
        if (slot.is_connected()) slot.clear();
        std::move(handler)(ec);
      });
    });
  }

 private:
  std::uint64_t id_;
  boost::asio::any_io_executor fallback_;
  boost::asio::any_completion_executor work_;
  boost::asio::cancellation_slot slot_;
  WaitHandler handler_;
};

}  // namespace llmux::detail
