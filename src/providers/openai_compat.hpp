// The OpenAI chat-completions protocol, shared by the `openai`, `lmstudio`, `vllm`,
// `llamacpp`, `openrouter` and `openai-compatible` providers: request encoding, response and
// stream-chunk decoding, and the provider itself.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <llmux/factory.hpp>

namespace llmux::providers {

// The per-provider differences of one wire protocol.
struct OpenAIDialect {
  std::string name;                           // registry name, used in errors and responses
  bool include_usage = true;                  // stream_options.include_usage
  bool max_completion_tokens = false;         // OpenAI's field name instead of max_tokens
  bool sampling_extensions = true;            // top_k and min_p accepted
  bool reasoning_object = false;              // OpenRouter: {"reasoning":{"effort":…}}
  std::vector<std::pair<std::string, std::string>> extra_headers;  // e.g. OpenRouter attribution
};

// Builds the JSON body of POST /chat/completions. Throws InvalidArgumentError for options the
// dialect cannot express (top_k for OpenAI) and for malformed JSON text in the request.
std::string encode_chat_request(const Request& request, const std::string& default_model,
                                const OpenAIDialect& dialect, bool stream);

// Decodes a non-streaming response body. Throws the typed error of an error object, or
// ProtocolError for a body that is not a chat completion.
Response decode_chat_response(std::string_view body, const OpenAIDialect& dialect);

// Assembles a streamed response from its chunks; emits the events of each chunk.
class OpenAIStreamAssembler {
 public:
  explicit OpenAIStreamAssembler(std::string provider) { response_.provider = std::move(provider); }

  // Applies one `data:` payload; returns the events to emit. "[DONE]" ends the stream. Throws
  // the typed error of an error chunk (with the partial response) or ProtocolError.
  std::vector<StreamEvent> feed(std::string_view data);
  // Events that close the stream (completed tool calls, usage, finish); throws ProtocolError
  // when the stream ended without a finish reason.
  std::vector<StreamEvent> finish();

  bool done() const noexcept { return done_; }
  bool started() const noexcept { return started_; }
  const Response& response() const noexcept { return response_; }
  Response& response() noexcept { return response_; }

 private:
  struct PendingCall {
    std::string id, name, arguments;
  };
  void apply_tool_call_delta(const void* delta_object, std::vector<StreamEvent>& out);

  Response response_;
  std::vector<PendingCall> calls_;
  std::optional<FinishReason> finish_;
  bool usage_seen_ = false;
  bool done_ = false;
  bool started_ = false;  // any content, reasoning or tool-call delta seen
};

FinishReason map_finish_reason(std::string_view reason);

// Registry entries of the six providers.
std::vector<ProviderInfo> openai_compatible_provider_infos();

}  // namespace llmux::providers
