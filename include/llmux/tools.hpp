// Running tools for a model: a ToolSet (definitions plus the C++ callables behind them) and the
// tool loop, which asks the model, runs the tools it calls, feeds their results back, and
// repeats until the model answers without calling a tool or the step limit is reached.
//
// The loop works the same on every provider: it uses only Provider::async_generate and the
// normalized tool calls {id, name, arguments}, and keeps the whole conversation as llmux
// messages, so it can be continued on any provider.
//
// Completion signature: void(std::exception_ptr, ToolLoopResult). Errors of the model requests
// (llmux::Error) end the loop; errors of the tools never do: an exception thrown by a tool, an
// unknown tool name, arguments that are not JSON, or a tool that exceeds its timeout become the
// tool's result text ("error: …"), which the model sees and can react to.
//
// Cancellation: the handler's cancellation slot stops the loop (the model request in flight is
// cancelled; awaitable tools get terminal cancellation); it completes with CancelledError.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>

#include <llmux/provider.hpp>

namespace llmux {

// A blocking tool: gets the call's arguments (JSON text, an object) and returns the result text
// (any text; JSON is customary). Runs on the ToolSet's own threads, never on the runtime's, so
// it may block. Throwing reports the exception's message to the model.
using SyncToolFunction = std::function<std::string(std::string_view arguments_json)>;
// An asynchronous tool: a coroutine run on the loop's executor. It must not block; it receives
// terminal cancellation when it exceeds its timeout or the loop is cancelled.
using AsyncToolFunction = std::function<asio::awaitable<std::string>(std::string arguments_json)>;

// Tool definitions and their implementations. A cheap handle: copies share the same tools and
// threads. Add tools before starting loops with it (adding is not synchronized with running
// loops). Destroying the last copy waits for blocking tools still running (for example ones the
// loop gave up on after their timeout); destroy it before the Runtime the loops ran on.
class ToolSet {
 public:
  // `blocking_threads`: threads that run SyncToolFunction tools (at least 1).
  explicit ToolSet(std::size_t blocking_threads = 2);

  // Adds a tool (replacing one of the same name). Throws InvalidArgumentError for an empty name,
  // an empty function, or parameters that are not a JSON object.
  ToolSet& add(ToolDefinition definition, SyncToolFunction function);
  ToolSet& add_async(ToolDefinition definition, AsyncToolFunction function);

  std::vector<ToolDefinition> definitions() const;
  bool contains(std::string_view name) const;

  struct Impl;
  const std::shared_ptr<Impl>& impl() const noexcept { return impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

struct ToolLoopOptions {
  // Model requests at most. When the model still calls tools in the last one, the loop stops
  // without running them and reports step_limit_reached.
  std::size_t max_steps = 8;
  // Per tool call; unset means no limit. A tool that exceeds it gets the result
  // "error: tool 'NAME' timed out after N ms".
  std::optional<std::chrono::milliseconds> tool_timeout = std::chrono::seconds(60);
};

// One tool call the loop ran.
struct ToolRun {
  ToolCall call;
  std::string result;  // what the model was given
  bool error = false;  // the tool threw, was unknown, got bad arguments, or timed out
  std::chrono::microseconds elapsed{0};
  friend bool operator==(const ToolRun&, const ToolRun&) = default;
};

struct ToolLoopResult {
  Response response;              // the last model response
  std::vector<Message> messages;  // the request's messages, then every turn the loop added
  std::vector<ToolRun> runs;      // every tool call run, in order
  std::size_t steps = 0;          // model requests made
  bool step_limit_reached = false;
};

// The assistant turn of a response (content, tool calls, reasoning and its signature), as it
// goes into the history of a later request on any provider.
Message assistant_message(const Response& response);

using ToolLoopSignature = void(std::exception_ptr, ToolLoopResult);
using ToolLoopHandler = asio::any_completion_handler<ToolLoopSignature>;

namespace detail {
void start_tool_loop(std::shared_ptr<Provider> provider, Request request, ToolSet tools,
                     ToolLoopOptions options, ToolLoopHandler handler);
}

// Runs the tool loop. The request's own tools are kept; the ToolSet's definitions are added
// (replacing same-named ones). A tool_choice of `required` or a specific tool applies to the
// first step only (afterwards: automatic), so the model can finish.
template <class Token = asio::default_completion_token_t<Executor>>
auto async_run_tools(std::shared_ptr<Provider> provider, Request request, ToolSet tools,
                     ToolLoopOptions options = {},
                     Token&& token = asio::default_completion_token_t<Executor>()) {
  return asio::async_initiate<Token, ToolLoopSignature>(
      [](auto handler, std::shared_ptr<Provider> p, Request req, ToolSet t, ToolLoopOptions o) {
        detail::start_tool_loop(std::move(p), std::move(req), std::move(t), o,
                                ToolLoopHandler(std::move(handler)));
      },
      token, std::move(provider), std::move(request), std::move(tools), options);
}

// Blocking: runs async_run_tools and waits. Throws the loop's llmux::Error, or
// WouldDeadlockError on a thread that runs the provider's executor.
ToolLoopResult run_tools(std::shared_ptr<Provider> provider, Request request, ToolSet tools,
                         ToolLoopOptions options = {});

}  // namespace llmux
