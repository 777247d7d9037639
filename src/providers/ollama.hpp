// Ollama's native API: request encoding and response / NDJSON stream decoding of POST /api/chat,
// model listing (GET /api/tags), and the `ollama` provider.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <llmux/factory.hpp>

namespace llmux::providers {

struct OllamaSettings {
  std::string name = "ollama";  // registry name, used in errors and responses
  std::string keep_alive;       // `keep_alive` ("5m", "-1", "0"…); empty: not sent
  std::optional<std::int64_t> num_ctx;  // options.num_ctx; unset: not sent
};

// Builds the JSON body of POST /api/chat. Tool calls are sent with object arguments, tool results
// with the `tool_name` they answer (looked up by id when the message names none). `format` comes
// from the response format, `think` from reasoning options, `options` from the sampling options
// (num_predict = max_output_tokens). Throws InvalidArgumentError for what Ollama cannot express
// (forcing a tool call, penalties are fine) and malformed JSON text in the request.
std::string encode_ollama_request(const Request& request, const std::string& default_model,
                                  const OllamaSettings& settings, bool stream);

// Decodes a non-streaming /api/chat body (one object with done: true). Throws the typed error of
// an {"error": …} body, or ProtocolError.
Response decode_ollama_response(std::string_view body, std::string_view provider);

FinishReason map_ollama_done_reason(std::string_view reason);

// Assembles a response from NDJSON stream lines.
class OllamaStreamAssembler {
 public:
  explicit OllamaStreamAssembler(std::string provider) { response_.provider = std::move(provider); }

  // Applies one line; returns the events to emit. Throws the typed error of an {"error": …} line
  // (with the partial response) or ProtocolError.
  std::vector<StreamEvent> feed(std::string_view line);
  // The stream ended: ProtocolError unless a line with done: true came.
  void finish();

  bool done() const noexcept { return done_; }
  const Response& response() const noexcept { return response_; }
  Response& response() noexcept { return response_; }

 private:
  Response response_;
  bool done_ = false;
};

// The models of a /api/tags body.
std::vector<ModelInfo> decode_ollama_tags(std::string_view body, std::string_view provider);

// OLLAMA_HOST in any of its forms ("host", "host:port", ":port", "http://host:port/path") as a
// base URL; 0.0.0.0 (a listen address) becomes 127.0.0.1, the port defaults to 11434.
std::string ollama_base_url(std::string_view host);

ProviderInfo ollama_provider_info();

}  // namespace llmux::providers
