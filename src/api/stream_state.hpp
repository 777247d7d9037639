// The shared state behind llmux::Stream: a buffer of events written by a provider (EventSink)
// and read by the consumer (async_next), plus the way back to cancel the upstream request.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <llmux/provider.hpp>

namespace llmux::detail {

class StreamState : public std::enable_shared_from_this<StreamState> {
 public:
  using UpstreamCancel = std::function<void(asio::cancellation_type)>;

  explicit StreamState(Executor executor) : executor_(std::move(executor)) {}

  // Producer side (any thread).
  void push(StreamEvent event);
  void complete(std::exception_ptr error, Response response);
  void set_upstream_cancel(UpstreamCancel cancel);

  // Consumer side (any thread).
  void next(EventHandler handler);
  void cancel();
  std::optional<Response> response() const;
  // What the events pushed so far add up to (content, reasoning, tool calls, usage).
  Response partial() const;
  const Executor& executor() const noexcept { return executor_; }

 private:
  using Result = std::pair<std::exception_ptr, std::optional<StreamEvent>>;
  // The result a consumer gets now, or nullopt when it must wait. Requires mu_ held.
  std::optional<Result> ready_result_locked();
  // Posts `result` to `handler` on the handler's executor.
  void post_completion(EventHandler handler, asio::cancellation_slot slot, Result result);
  // Completes the parked waiter if a result is ready. Requires mu_ held; releases it.
  void wake_waiter(std::unique_lock<std::mutex>& lock);

  mutable std::mutex mu_;
  Executor executor_;
  std::deque<StreamEvent> events_;
  bool finished_ = false;
  bool cancelled_ = false;
  std::exception_ptr error_;
  std::optional<Response> response_;
  Response partial_;  // what the events so far add up to, for the error of a cancelled stream
  std::optional<EventHandler> waiter_;
  asio::cancellation_slot waiter_slot_;
  asio::any_completion_executor waiter_work_;  // keeps the waiter's executor from running dry
  UpstreamCancel upstream_cancel_;
};

}  // namespace llmux::detail
