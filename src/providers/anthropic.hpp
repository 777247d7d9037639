// The Anthropic Messages API: request encoding, response and stream-event decoding, and the
// `anthropic` provider (POST /v1/messages, GET /v1/models).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include <llmux/factory.hpp>

namespace llmux::providers {

// Anthropic's usage counts (input_tokens excludes the cached parts) and llmux's Usage of them.
struct AnthropicUsage {
  std::int64_t input = 0, cache_read = 0, cache_creation = 0, output = 0;
  // Takes the counts present in a `usage` object (later objects are cumulative: they replace).
  void apply(const boost::json::object& usage);
  // input_tokens counts the whole prompt, cached parts included (as OpenAI's prompt_tokens).
  Usage usage() const;
};

struct AnthropicSettings {
  std::string name = "anthropic";        // registry name, used in errors and responses
  std::string version = "2023-06-01";    // the anthropic-version header
  std::string beta;                      // the anthropic-beta header, when not empty
  std::int64_t default_max_tokens = 4096;  // the API requires max_tokens
};

// The thinking budget a request asks for: reasoning_budget_tokens, else one derived from
// reasoning_effort (minimal: none, low 1024, medium 4096, high 16384), else none.
std::optional<std::int64_t> anthropic_thinking_budget(const GenerateOptions& options);

// Structured output (json_object, json_schema) goes through a forced tool: one synthetic tool
// whose input_schema is the schema, and tool_choice forcing it (`any` when the request has tools
// of its own). Its name: the format's name when it is a valid tool name, else
// "structured_output"; "" for the text format. The tool's input comes back as the response's
// content text (never as a tool call), the stop reason as `stop`.
std::string anthropic_output_tool(const GenerateOptions& options);

// Builds the JSON body of POST /v1/messages. System messages become the top-level `system`;
// tool results become `tool_result` blocks of user turns; consecutive turns of one role are
// merged, as the API requires. Throws InvalidArgumentError for options the API cannot express
// (seed, min_p, penalties; a response format with extended thinking, with a schema whose root
// is not an object, or whose tool name a request tool already uses) and malformed JSON text.
std::string encode_anthropic_request(const Request& request, const std::string& default_model,
                                     const AnthropicSettings& settings, bool stream);

// Decodes a non-streaming response body. Throws the typed error of an error body, or
// ProtocolError for a body that is not a message. `output_tool`: the structured-output tool
// (anthropic_output_tool) whose input becomes the content; "" for none.
Response decode_anthropic_response(std::string_view body, std::string_view provider,
                                   std::string_view output_tool = {});

FinishReason map_anthropic_stop_reason(std::string_view reason);

// Assembles a streamed message from its SSE events.
class AnthropicStreamAssembler {
 public:
  // `output_tool`: the structured-output tool, whose input streams as text deltas ("": none).
  explicit AnthropicStreamAssembler(std::string provider, std::string output_tool = {})
      : output_tool_(std::move(output_tool)) {
    response_.provider = std::move(provider);
  }

  // Applies one event (its SSE `event` type and `data`); returns the events to emit. The type
  // inside the data decides; `ping` and unknown types are ignored. Throws the typed error of an
  // `error` event (with the partial response) or ProtocolError.
  std::vector<StreamEvent> feed(std::string_view event_type, std::string_view data);
  // The stream ended: ProtocolError unless message_stop came.
  void finish();

  bool done() const noexcept { return done_; }
  const Response& response() const noexcept { return response_; }
  Response& response() noexcept { return response_; }

 private:
  struct Block {
    std::string type;  // text, thinking, redacted_thinking, tool_use, …
    std::size_t call_index = 0;
    std::string id, name, json;
    bool open = false;
  };
  std::vector<StreamEvent> on_block_start(const void* event);
  std::vector<StreamEvent> on_block_delta(const void* event);
  std::vector<StreamEvent> on_block_stop(const void* event);
  Block& block_at(const void* event);
  void apply_usage(const boost::json::object& usage);
  [[noreturn]] void fail(const std::string& what) const;

  std::string output_tool_;
  Response response_;
  AnthropicUsage usage_;
  std::string stop_reason_;
  std::vector<Block> blocks_;
  std::size_t calls_ = 0;
  bool started_ = false;
  bool done_ = false;
};

ProviderInfo anthropic_provider_info();

}  // namespace llmux::providers
