// The tool loop: model request, tool calls run concurrently (blocking ones on the ToolSet's
// threads, awaitable ones on the loop's strand), results fed back, until an answer or the limit.
#include <llmux/tools.hpp>

#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include "api/operation.hpp"
#include "api/sync_guard.hpp"

namespace llmux {

struct ToolSet::Impl {
  struct Tool {
    ToolDefinition definition;
    SyncToolFunction sync;
    AsyncToolFunction async;
  };
  explicit Impl(std::size_t threads) : pool(threads == 0 ? 1 : threads) {}
  ~Impl() { pool.join(); }  // lets blocking tools still running finish

  std::map<std::string, Tool, std::less<>> tools;
  std::vector<std::string> order;  // definitions in the order they were added
  asio::thread_pool pool;
};

namespace {

using Clock = std::chrono::steady_clock;

void check_definition(const ToolDefinition& d, bool has_function) {
  if (d.name.empty()) throw_error(errc::invalid_argument, "ToolSet::add: a tool needs a name");
  if (!has_function) {
    throw_error(errc::invalid_argument, fmt::format("ToolSet::add: tool '{}' has no function", d.name));
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(d.parameters.empty() ? "{}" : d.parameters, ec);
  if (ec || !v.is_object()) {
    throw_error(errc::invalid_argument,
                fmt::format("ToolSet::add: the parameters of tool '{}' are not a JSON object", d.name));
  }
}

// One tool call in flight: its result arrives on the loop's strand, which wakes the timer.
struct PendingCall {
  explicit PendingCall(const Executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  asio::cancellation_signal cancel;  // awaitable tools
  std::optional<ToolRun> done;
  Clock::time_point started = Clock::now();
};

void deliver(const std::shared_ptr<PendingCall>& p, std::string text, bool error) {
  if (p->done) return;
  p->done = ToolRun{{}, std::move(text), error,
                    std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - p->started)};
  p->timer.cancel();
}

std::string error_text(std::exception_ptr e) {
  try {
    std::rethrow_exception(std::move(e));
  } catch (const std::exception& x) {
    return fmt::format("error: {}", x.what());
  } catch (...) {
    return "error: the tool failed";
  }
}

asio::awaitable<std::string> run_async_tool(AsyncToolFunction fn, std::string arguments) {
  co_return co_await fn(std::move(arguments));
}

// Starts `call`; its result is delivered to the returned PendingCall on `strand`.
std::shared_ptr<PendingCall> start_call(ToolSet::Impl& set, const ToolCall& call, const Executor& strand) {
  auto p = std::make_shared<PendingCall>(strand);
  auto it = set.tools.find(call.name);
  boost::system::error_code ec;
  auto args = boost::json::parse(call.arguments.empty() ? "{}" : call.arguments, ec);
  if (it == set.tools.end()) {
    deliver(p, fmt::format("error: unknown tool '{}'", call.name), true);
  } else if (ec || !args.is_object()) {
    deliver(p, fmt::format("error: the arguments are not a JSON object: {}", call.arguments), true);
  } else if (it->second.sync) {
    asio::post(set.pool, [fn = it->second.sync, arguments = call.arguments, p, strand]() mutable {
      std::string text;
      bool error = false;
      try {
        text = fn(arguments);
      } catch (...) {
        text = error_text(std::current_exception());
        error = true;
      }
      asio::post(strand, [p = std::move(p), text = std::move(text), error]() mutable {
        deliver(p, std::move(text), error);
      });
    });
  } else {
    auto on_done = [p](std::exception_ptr e, std::string text) {
      if (e) {
        deliver(p, error_text(e), true);
      } else {
        deliver(p, std::move(text), false);
      }
    };
    asio::co_spawn(strand, run_async_tool(it->second.async, call.arguments),
                   asio::bind_cancellation_slot(p->cancel.slot(), std::move(on_done)));
  }
  return p;
}

asio::awaitable<void> throw_if_cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    throw_error(errc::cancelled, "the tool loop was cancelled");
  }
}

// Waits for the result of `p` until its deadline.
asio::awaitable<ToolRun> await_call(std::shared_ptr<PendingCall> p, const ToolCall& call,
                                    const ToolLoopOptions& options) {
  if (!p->done) {
    p->timer.expires_at(options.tool_timeout ? p->started + *options.tool_timeout
                                             : Clock::time_point::max());
    boost::system::error_code ec;
    co_await p->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!p->done) {
      p->cancel.emit(asio::cancellation_type::terminal);
      co_await throw_if_cancelled();
      deliver(p, fmt::format("error: tool '{}' timed out after {} ms", call.name,
                             options.tool_timeout ? options.tool_timeout->count() : 0),
              true);
    }
  }
  ToolRun run = std::move(*p->done);
  run.call = call;
  co_return run;
}

void add_definitions(Request& request, const ToolSet::Impl& set) {
  auto& tools = request.options.tools;
  for (const auto& name : set.order) {
    const ToolDefinition& d = set.tools.at(name).definition;
    std::erase_if(tools, [&](const ToolDefinition& t) { return t.name == d.name; });
    tools.push_back(d);
  }
}

asio::awaitable<ToolLoopResult> run_loop(std::shared_ptr<Provider> provider, Request request,
                                         ToolSet tools, ToolLoopOptions options) {
  ToolSet::Impl& set = *tools.impl();
  add_definitions(request, set);
  const Executor strand = co_await asio::this_coro::executor;
  ToolLoopResult result;
  while (true) {
    Response response = co_await provider->async_generate(request, asio::use_awaitable);
    ++result.steps;
    request.messages.push_back(assistant_message(response));
    result.response = std::move(response);
    const std::vector<ToolCall>& calls = result.response.tool_calls;
    if (calls.empty()) break;
    if (result.steps >= options.max_steps) {
      result.step_limit_reached = true;
      break;
    }
    std::vector<std::shared_ptr<PendingCall>> pending;
    for (const auto& call : calls) pending.push_back(start_call(set, call, strand));
    try {
      for (std::size_t i = 0; i < calls.size(); ++i) {
        ToolRun run = co_await await_call(pending[i], calls[i], options);
        request.messages.push_back(Message::tool_result(calls[i].id, run.result, calls[i].name));
        result.runs.push_back(std::move(run));
      }
    } catch (...) {
      // Cancelled: every awaitable tool still running is told so.
      for (auto& p : pending) {
        if (!p->done) p->cancel.emit(asio::cancellation_type::terminal);
      }
      throw;
    }
    co_await throw_if_cancelled();
    if (auto& choice = request.options.tool_choice;
        choice && (choice->mode == ToolChoice::Mode::required || choice->mode == ToolChoice::Mode::tool)) {
      choice = ToolChoice{};
    }
  }
  result.messages = std::move(request.messages);
  co_return result;
}

// Asio reports a cancelled co_await as system_error(operation_aborted): make it llmux's error.
asio::awaitable<ToolLoopResult> run_loop_guarded(std::shared_ptr<Provider> provider, Request request,
                                                 ToolSet tools, ToolLoopOptions options) {
  try {
    co_return co_await run_loop(std::move(provider), std::move(request), std::move(tools), options);
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted) throw;
    throw_error(errc::cancelled, "the tool loop was cancelled");
  }
}

}  // namespace

ToolSet::ToolSet(std::size_t blocking_threads)
    : impl_(std::make_shared<Impl>(blocking_threads)) {}

ToolSet& ToolSet::add(ToolDefinition definition, SyncToolFunction function) {
  check_definition(definition, static_cast<bool>(function));
  std::string name = definition.name;
  if (!impl_->tools.contains(name)) impl_->order.push_back(name);
  impl_->tools.insert_or_assign(name, Impl::Tool{std::move(definition), std::move(function), {}});
  return *this;
}

ToolSet& ToolSet::add_async(ToolDefinition definition, AsyncToolFunction function) {
  check_definition(definition, static_cast<bool>(function));
  std::string name = definition.name;
  if (!impl_->tools.contains(name)) impl_->order.push_back(name);
  impl_->tools.insert_or_assign(name, Impl::Tool{std::move(definition), {}, std::move(function)});
  return *this;
}

std::vector<ToolDefinition> ToolSet::definitions() const {
  std::vector<ToolDefinition> out;
  for (const auto& name : impl_->order) out.push_back(impl_->tools.at(name).definition);
  return out;
}

bool ToolSet::contains(std::string_view name) const { return impl_->tools.find(name) != impl_->tools.end(); }

Message assistant_message(const Response& response) {
  Message m = Message::assistant(response.content, response.tool_calls);
  m.reasoning = response.reasoning;
  m.reasoning_signature = response.reasoning_signature;
  return m;
}

namespace detail {

void start_tool_loop(std::shared_ptr<Provider> provider, Request request, ToolSet tools,
                     ToolLoopOptions options, ToolLoopHandler handler) {
  if (!provider) throw_error(errc::invalid_argument, "run_tools: no provider");
  if (options.max_steps == 0) throw_error(errc::invalid_argument, "run_tools: max_steps must be >= 1");
  Executor ex = provider->get_executor();
  spawn_operation<ToolLoopResult>(
      ex,
      [provider = std::move(provider), request = std::move(request), tools = std::move(tools),
       options] { return run_loop_guarded(provider, request, tools, options); },
      std::move(handler));
}

}  // namespace detail

ToolLoopResult run_tools(std::shared_ptr<Provider> provider, Request request, ToolSet tools,
                         ToolLoopOptions options) {
  if (!provider) throw_error(errc::invalid_argument, "run_tools: no provider");
  detail::throw_if_would_deadlock(provider->get_executor(), "run_tools");
  return async_run_tools(std::move(provider), std::move(request), std::move(tools), options,
                         asio::use_future)
      .get();
}

}  // namespace llmux
