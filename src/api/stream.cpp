#include "api/stream_state.hpp"

#include <future>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_future.hpp>

#include "api/pipeline.hpp"
#include "api/sync_guard.hpp"

namespace llmux {
namespace detail {
namespace {

// Adds an event to a response being assembled from a stream.
void accumulate(Response& r, const StreamEvent& event) {
  if (auto* t = std::get_if<TextDelta>(&event)) {
    r.content += t->text;
  } else if (auto* rd = std::get_if<ReasoningDelta>(&event)) {
    r.reasoning += rd->text;
  } else if (auto* done = std::get_if<ToolCallDone>(&event)) {
    r.tool_calls.push_back(done->call);
  } else if (auto* u = std::get_if<UsageEvent>(&event)) {
    r.usage = u->usage;
  } else if (auto* f = std::get_if<Finish>(&event)) {
    r.finish_reason = f->reason;
  }
}

}  // namespace

void StreamState::push(StreamEvent event) {
  std::unique_lock lock(mu_);
  if (finished_ || cancelled_) return;
  accumulate(partial_, event);
  events_.push_back(std::move(event));
  wake_waiter(lock);
}

void StreamState::complete(std::exception_ptr error, Response response) {
  std::unique_lock lock(mu_);
  if (finished_) return;
  finished_ = true;
  upstream_cancel_ = nullptr;
  if (cancelled_) return;  // the consumer already has its CancelledError
  if (error) {
    error_ = std::move(error);
  } else {
    response_ = std::move(response);
  }
  wake_waiter(lock);
}

void StreamState::set_upstream_cancel(UpstreamCancel cancel) {
  std::lock_guard lock(mu_);
  upstream_cancel_ = std::move(cancel);
}

std::optional<StreamState::Result> StreamState::ready_result_locked() {
  if (cancelled_) return Result{error_, std::nullopt};
  if (!events_.empty()) {
    Result r{nullptr, std::move(events_.front())};
    events_.pop_front();
    return r;
  }
  if (error_) return Result{error_, std::nullopt};
  if (finished_) return Result{nullptr, std::nullopt};
  return std::nullopt;
}

void StreamState::post_completion(EventHandler handler, asio::cancellation_slot slot,
                                  Result result) {
  // Never completes inside the initiating call: post to the stream's executor, then dispatch to
  // the handler's own executor.
  auto ex = asio::prefer(asio::get_associated_executor(handler, executor_),
                         asio::execution::outstanding_work.tracked);
  asio::post(executor_, [ex, handler = std::move(handler), slot,
                         result = std::move(result)]() mutable {
    asio::dispatch(ex, [handler = std::move(handler), slot, result = std::move(result)]() mutable {
      // Cleared here, on the handler's executor, never inside the slot's own handler.
      if (slot.is_connected()) slot.clear();
      std::move(handler)(result.first, std::move(result.second));
    });
  });
}

void StreamState::wake_waiter(std::unique_lock<std::mutex>& lock) {
  if (!waiter_) return;
  auto result = ready_result_locked();
  if (!result) return;
  EventHandler handler = std::move(*waiter_);
  waiter_.reset();
  waiter_work_ = {};  // post_completion tracks work from here on
  auto slot = std::exchange(waiter_slot_, {});
  lock.unlock();
  post_completion(std::move(handler), slot, std::move(*result));
}

void StreamState::next(EventHandler handler) {
  std::unique_lock lock(mu_);
  if (waiter_) {
    lock.unlock();
    post_completion(std::move(handler), {},
                    Result{make_error(errc::invalid_argument,
                                      "Stream::async_next called while another is pending"),
                           std::nullopt});
    return;
  }
  if (auto result = ready_result_locked()) {
    lock.unlock();
    post_completion(std::move(handler), {}, std::move(*result));
    return;
  }
  auto slot = asio::get_associated_cancellation_slot(handler);
  waiter_work_ = asio::prefer(asio::get_associated_executor(handler, executor_),
                              asio::execution::outstanding_work.tracked);
  waiter_.emplace(std::move(handler));
  if (slot.is_connected()) {
    waiter_slot_ = slot;
    slot.assign([weak = weak_from_this()](asio::cancellation_type) {
      if (auto self = weak.lock()) self->cancel();
    });
  }
}

void StreamState::cancel() {
  std::unique_lock lock(mu_);
  if (cancelled_) return;
  bool upstream_running = !finished_;
  if (finished_ && !waiter_ && events_.empty()) return;  // nothing left to cancel
  cancelled_ = true;
  events_.clear();
  ErrorInfo info;
  info.partial = std::make_shared<const Response>(partial_);
  error_ = make_error(errc::cancelled, "stream cancelled", std::move(info));
  response_.reset();
  UpstreamCancel upstream = upstream_running ? std::move(upstream_cancel_) : nullptr;
  upstream_cancel_ = nullptr;
  wake_waiter(lock);
  if (lock.owns_lock()) lock.unlock();
  if (upstream) upstream(asio::cancellation_type::terminal);
}

std::optional<Response> StreamState::response() const {
  std::lock_guard lock(mu_);
  return response_;
}

Response StreamState::partial() const {
  std::lock_guard lock(mu_);
  return partial_;
}

}  // namespace detail

void EventSink::emit(StreamEvent event) const {
  if (!state_) return;
  if (gate_) {
    detail::emit_through(*gate_, *state_, std::move(event));
  } else {
    state_->push(std::move(event));
  }
}

Stream::Stream(std::shared_ptr<detail::StreamState> state) : state_(std::move(state)) {}
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    if (state_) state_->cancel();
    state_ = std::move(other.state_);
  }
  return *this;
}
Stream::~Stream() {
  if (state_) state_->cancel();
}

Executor Stream::get_executor() const noexcept { return state_->executor(); }

void Stream::initiate_next(std::shared_ptr<detail::StreamState> state, EventHandler handler) {
  state->next(std::move(handler));
}

std::optional<StreamEvent> Stream::next() {
  detail::throw_if_would_deadlock(state_->executor(), "Stream::next");
  return async_next(asio::use_future).get();
}

void Stream::cancel() { state_->cancel(); }

std::optional<Response> Stream::response() const { return state_->response(); }

}  // namespace llmux
