// llmux::Session (include/llmux/session.hpp): turns serialized by an asynchronous FIFO lock,
// history appended atomically when a turn succeeds.
#include <llmux/session.hpp>

#include <mutex>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "api/async_semaphore.hpp"
#include "api/operation.hpp"
#include "api/session_codec.hpp"
#include "api/sync_guard.hpp"

namespace llmux {

struct Session::State {
  std::shared_ptr<Provider> provider;
  SessionOptions options;
  std::shared_ptr<detail::AsyncSemaphore> turn_lock = std::make_shared<detail::AsyncSemaphore>(1);
  mutable std::mutex mu;  // guards system_prompt and history
  std::string system_prompt;
  std::vector<Message> history;

  std::vector<Message> conversation() const {
    std::lock_guard lock(mu);
    std::vector<Message> out;
    out.reserve(history.size() + 1);
    if (!system_prompt.empty()) out.push_back(Message::system(system_prompt));
    out.insert(out.end(), history.begin(), history.end());
    return out;
  }
};

namespace {

[[noreturn]] void throw_cancelled(const Provider& p) {
  ErrorInfo info;
  info.provider = std::string(p.name());
  throw_error(errc::cancelled, "session turn cancelled", std::move(info));
}

asio::awaitable<Response> run_turn(std::shared_ptr<Session::State> state, Message message) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const Executor ex = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  co_await state->turn_lock->async_acquire(ex, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw_cancelled(*state->provider);
  detail::Permit permit(state->turn_lock);
  if (co_await detail::cancellation_requested()) throw_cancelled(*state->provider);

  Request request = state->options.request_template;
  request.messages = state->conversation();
  const std::size_t prefix = request.messages.size();
  request.messages.push_back(message);
  std::vector<Message> added;
  Response response;
  if (state->options.tools) {
    ToolLoopResult result = co_await async_run_tools(state->provider, std::move(request),
                                                     *state->options.tools,
                                                     state->options.tool_options, asio::use_awaitable);
    added.assign(result.messages.begin() + static_cast<std::ptrdiff_t>(prefix), result.messages.end());
    response = std::move(result.response);
  } else {
    response = co_await state->provider->async_generate(std::move(request), asio::use_awaitable);
    added.push_back(std::move(message));
    added.push_back(assistant_message(response));
  }
  {
    std::lock_guard lock(state->mu);
    state->history.insert(state->history.end(), std::make_move_iterator(added.begin()),
                          std::make_move_iterator(added.end()));
  }
  co_return response;
}

// Asio reports a cancelled co_await as system_error(operation_aborted): make it llmux's error.
asio::awaitable<Response> run_turn_guarded(std::shared_ptr<Session::State> state, Message message) {
  try {
    co_return co_await run_turn(state, std::move(message));
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted) throw;
  }
  throw_cancelled(*state->provider);
}

}  // namespace

Session::Session(std::shared_ptr<Provider> provider, SessionOptions options)
    : state_(std::make_shared<State>()) {
  if (!provider) throw_error(errc::invalid_argument, "Session: no provider");
  state_->provider = std::move(provider);
  state_->system_prompt = options.system_prompt;
  state_->options = std::move(options);
  state_->options.request_template.messages.clear();
}

void Session::start_turn(std::shared_ptr<State> state, Message message, ResponseHandler handler) {
  Executor ex = state->provider->get_executor();
  detail::spawn_operation(
      ex, [state = std::move(state), message = std::move(message)] { return run_turn_guarded(state, message); },
      std::move(handler));
}

Response Session::send(Message message) {
  detail::throw_if_would_deadlock(state_->provider->get_executor(), "Session::send");
  return async_send(std::move(message), asio::use_future).get();
}

std::vector<Message> Session::messages() const { return state_->conversation(); }

std::vector<Message> Session::history() const {
  std::lock_guard lock(state_->mu);
  return state_->history;
}

std::string Session::system_prompt() const {
  std::lock_guard lock(state_->mu);
  return state_->system_prompt;
}

void Session::set_system_prompt(std::string prompt) {
  std::lock_guard lock(state_->mu);
  state_->system_prompt = std::move(prompt);
}

void Session::clear() {
  std::lock_guard lock(state_->mu);
  state_->history.clear();
}

std::string Session::to_json() const {
  std::lock_guard lock(state_->mu);
  return detail::session_to_json(state_->system_prompt, state_->history);
}

void Session::load_json(std::string_view json) {
  detail::SessionDocument doc = detail::session_from_json(json);
  std::lock_guard lock(state_->mu);
  state_->system_prompt = std::move(doc.system);
  state_->history = std::move(doc.messages);
}

const std::shared_ptr<Provider>& Session::provider() const noexcept { return state_->provider; }

}  // namespace llmux
