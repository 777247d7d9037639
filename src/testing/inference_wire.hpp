// The wire side of the simulated inference server: parsing chat requests of the OpenAI
// chat-completions and Ollama /api/chat protocols, and rendering a planned generation as the
// HTTP response each protocol sends (JSON body, SSE or NDJSON stream) with its timing.
// Pure functions: no I/O, no clocks except where a time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "testing/test_server.hpp"

namespace llmux::testing {

enum class ChatProtocol { openai, ollama };

// What a chat request asks for, as far as the simulator cares.
struct ChatCall {
  ChatProtocol protocol = ChatProtocol::openai;
  bool stream = false;
  bool include_usage = false;            // OpenAI stream_options.include_usage
  std::optional<std::int64_t> max_tokens;  // max_tokens / max_completion_tokens / num_predict
  std::string model;                     // as sent; may be empty
  std::int64_t prompt_tokens = 0;        // estimate: 1 token per 4 bytes of message text, >= 1
};

// Parses a request body. Returns the error message for a malformed body (HTTP 400) through
// `error` and std::nullopt. Ollama's `stream` defaults to true, OpenAI's to false.
std::optional<ChatCall> parse_chat_call(ChatProtocol protocol, std::string_view body,
                                        std::string& error);

// One generation as the simulator planned it.
struct Generation {
  std::vector<std::string> tokens;  // the text of each output token
  bool truncated = false;           // stopped by the request's token limit ("length")
  std::string model;                // the model that answers
  std::string id;                   // response id, e.g. "chatcmpl-mock-7"
  std::int64_t created = 0;         // Unix seconds
  std::chrono::microseconds ttft{0};            // slot granted -> first token
  std::chrono::microseconds token_interval{0};  // between tokens; 0: all at once
  std::chrono::microseconds queued{0};          // time spent waiting for a slot (Ollama stats)
};

// Deterministic token texts: the n tokens of the answer to request number `sequence`.
std::vector<std::string> plan_tokens(std::uint64_t sequence, std::int64_t n);

// When token i (0-based) is emitted, relative to the slot grant.
std::chrono::microseconds token_time(const Generation& g, std::size_t i);

// The response to `call`: headers and body as the protocol sends them. Streaming responses
// write each token at its time (tokens due in the same millisecond go out in one write); a
// non-streaming response is written whole when the last token is due.
Transcript render_generation(const ChatCall& call, const Generation& g, std::int64_t prompt_tokens);

// An error response in the protocol's shape: OpenAI {"error":{"message","type","code"}},
// Ollama {"error":"…"}; 429 and 503 carry Retry-After: 1.
Transcript render_error(ChatProtocol protocol, int status, std::string_view message);

// GET /v1/models (OpenAI list) and GET /api/tags (Ollama) naming one model.
Transcript render_openai_models(const std::string& model, std::int64_t created);
Transcript render_ollama_tags(const std::string& model);

}  // namespace llmux::testing
