// llmux::Session: a conversation with one provider — a system prompt, the history of turns, and
// async_send() which adds a turn. Optionally runs the tool loop (tools.hpp) for each turn.
//
// A turn: async_send(message) sends [system prompt, history…, message] (with the session's
// request template: model and options) through the provider's pipeline (retries, breaker,
// events) — or through async_run_tools when the session has a ToolSet — and, on success,
// appends to the history the message, then the assistant turn(s): content, reasoning and its
// signature, tool calls, and each tool result. A failed or cancelled turn leaves the history as
// it was (the message is not appended), so the conversation never holds a question without its
// answer. Completion signature: void(std::exception_ptr, Response) — the last model response.
//
// Thread safety: every member may be called from any thread and any number of coroutines at
// once. Turns are serialized in FIFO order by an asynchronous lock (no thread blocks while a
// turn waits): each turn sees the history with every earlier turn complete, and its user message
// is immediately followed by its replies. history() returns a consistent snapshot.
// Cancellation: the handler's slot cancels a turn while it waits for its predecessors or while
// the model request runs; it completes with CancelledError.
//
// Lifetime: a Session is a cheap handle (copies share the conversation); turns in flight keep
// it alive. The provider's executor must outlive them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/async_result.hpp>

#include <llmux/provider.hpp>
#include <llmux/tools.hpp>

namespace llmux {

struct SessionOptions {
  std::string system_prompt;  // empty: no system message
  // The model and generation options of every turn (its messages are ignored).
  Request request_template;
  // When set, each turn runs the tool loop with these tools and options.
  std::optional<ToolSet> tools;
  ToolLoopOptions tool_options;
};

class Session {
 public:
  Session(std::shared_ptr<Provider> provider, SessionOptions options = {});

  template <class Token = asio::default_completion_token_t<Executor>>
  auto async_send(Message message, Token&& token = asio::default_completion_token_t<Executor>()) {
    return asio::async_initiate<Token, ResponseSignature>(
        [](auto handler, std::shared_ptr<State> state, Message m) {
          start_turn(std::move(state), std::move(m), ResponseHandler(std::move(handler)));
        },
        token, state_, std::move(message));
  }
  template <class Token = asio::default_completion_token_t<Executor>>
  auto async_send(std::string user_text, Token&& token = asio::default_completion_token_t<Executor>()) {
    return async_send(Message::user(std::move(user_text)), std::forward<Token>(token));
  }

  // Blocking: runs async_send and waits. Throws the turn's llmux::Error, or WouldDeadlockError on
  // a thread that runs the provider's executor.
  Response send(Message message);
  Response send(std::string user_text) { return send(Message::user(std::move(user_text))); }

  // The conversation as sent to the model: the system message (if any), then the history.
  std::vector<Message> messages() const;
  // The turns only (no system message).
  std::vector<Message> history() const;
  std::string system_prompt() const;
  void set_system_prompt(std::string prompt);
  // Empties the history (the system prompt stays). Waits for no turn: a turn in flight still
  // appends its messages when it completes.
  void clear();

  // The conversation as JSON text: {"format":"llmux-session","version":1,"system":"…",
  // "messages":[{"role","content":[{"type":"text","text","cache_control":{"ttl"}}],
  // "tool_calls":[{"id","name","arguments"}],"tool_call_id","name","reasoning",
  // "reasoning_signature"}]}. Every Message field round-trips.
  std::string to_json() const;
  // Replaces the system prompt and history with those of `json` (as to_json writes it). Throws
  // InvalidArgumentError for text that is not such a document; the session is unchanged then.
  void load_json(std::string_view json);

  const std::shared_ptr<Provider>& provider() const noexcept;

  struct State;

 private:
  static void start_turn(std::shared_ptr<State> state, Message message, ResponseHandler handler);
  std::shared_ptr<State> state_;
};

// The JSON codec Session uses, for storing conversations elsewhere.
std::string messages_to_json(const std::vector<Message>& messages);
std::vector<Message> messages_from_json(std::string_view json);  // throws InvalidArgumentError

}  // namespace llmux
