// llmux public value types: messages, options, requests, responses and stream events.
//
// These are plain values: copyable, movable, comparable, free of any JSON library's types. JSON
// crosses the API as text (`std::string` holding a JSON document): tool parameter schemas,
// response schemas, tool-call arguments, raw provider bodies and provider passthrough options.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace llmux {

enum class Role { system, user, assistant, tool };

std::string_view to_string(Role role) noexcept;

// A prompt-cache breakpoint (Anthropic `cache_control`, type "ephemeral"): the prompt prefix up
// to and including the part or tool that carries it may be cached. `ttl` empty means the
// provider's default (5 minutes), otherwise e.g. "1h". Providers that cache automatically
// (OpenAI) or not at all (Ollama) ignore it.
struct CacheControl {
  std::string ttl;
  friend bool operator==(const CacheControl&, const CacheControl&) = default;
};

// One part of a message's content. Only text exists today; the kind leaves room for images.
struct ContentPart {
  enum class Kind { text };
  Kind kind = Kind::text;
  std::string text;
  std::optional<CacheControl> cache_control{};

  static ContentPart from_text(std::string text) { return {Kind::text, std::move(text)}; }
  friend bool operator==(const ContentPart&, const ContentPart&) = default;
};

// A tool call made by the model. `arguments` is JSON text (normally an object).
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;
  friend bool operator==(const ToolCall&, const ToolCall&) = default;
};

struct Message {
  Role role = Role::user;
  std::vector<ContentPart> content;
  std::vector<ToolCall> tool_calls;  // role == assistant: the calls the model made
  std::string tool_call_id;          // role == tool: the call this message answers
  std::string name;                  // optional participant or tool name
  // role == assistant: the reasoning the model produced before this turn's content, and the
  // provider's signature of it (Anthropic extended thinking). Sent back where the protocol takes
  // it (Anthropic needs it with tool use and thinking; Ollama's `thinking`), dropped elsewhere.
  std::string reasoning{};
  std::string reasoning_signature{};

  static Message system(std::string text);
  static Message user(std::string text);
  static Message assistant(std::string text, std::vector<ToolCall> calls = {});
  static Message tool_result(std::string tool_call_id, std::string text, std::string name = {});

  // The concatenation of all text parts.
  std::string text() const;
  friend bool operator==(const Message&, const Message&) = default;
};

// A tool the model may call. `parameters` is a JSON Schema as JSON text ("{}" when empty).
struct ToolDefinition {
  std::string name;
  std::string description;
  std::string parameters = R"({"type":"object","properties":{}})";
  std::optional<CacheControl> cache_control{};  // Anthropic: cache the tools up to this one
  friend bool operator==(const ToolDefinition&, const ToolDefinition&) = default;
};

struct ToolChoice {
  enum class Mode { automatic, none, required, tool };
  Mode mode = Mode::automatic;
  std::string name;  // mode == tool: the tool that must be called

  static ToolChoice tool(std::string name) { return {Mode::tool, std::move(name)}; }
  friend bool operator==(const ToolChoice&, const ToolChoice&) = default;
};

struct ResponseFormat {
  enum class Kind { text, json_object, json_schema };
  Kind kind = Kind::text;
  std::string name = "response";  // json_schema: the schema's name (OpenAI requires one)
  std::string schema;             // json_schema: JSON Schema as JSON text
  bool strict = true;

  static ResponseFormat json_schema(std::string schema, std::string name = "response") {
    return {Kind::json_schema, std::move(name), std::move(schema), true};
  }
  friend bool operator==(const ResponseFormat&, const ResponseFormat&) = default;
};

enum class ReasoningEffort { minimal, low, medium, high };

std::string_view to_string(ReasoningEffort effort) noexcept;

// Generation options. Every field is optional: an unset field is not sent to the provider, so
// the provider's or model's own default applies.
struct GenerateOptions {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> top_k;
  std::optional<double> min_p;
  std::optional<std::int64_t> max_output_tokens;
  std::vector<std::string> stop;
  std::optional<std::uint64_t> seed;
  std::optional<double> presence_penalty;
  std::optional<double> frequency_penalty;
  ResponseFormat response_format;
  std::vector<ToolDefinition> tools;
  std::optional<ToolChoice> tool_choice;
  std::optional<ReasoningEffort> reasoning_effort;
  // Extended-thinking budget in tokens (Anthropic `thinking.budget_tokens`; Ollama: enables
  // `think`). When unset, a reasoning_effort gives Anthropic a budget (see docs/providers.md).
  std::optional<std::int64_t> reasoning_budget_tokens{};
  // Provider-specific passthrough: a JSON object (as text) merged into the provider's request
  // body last, so it can set fields llmux does not model. Empty means nothing.
  std::string extra_body;
  friend bool operator==(const GenerateOptions&, const GenerateOptions&) = default;
};

struct Request {
  std::string model;  // empty: the provider's configured default model
  std::vector<Message> messages;
  GenerateOptions options;
  friend bool operator==(const Request&, const Request&) = default;
};

enum class FinishReason { stop, length, tool_calls, content_filter, error, cancelled };

std::string_view to_string(FinishReason reason) noexcept;

struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cached_input_tokens = 0;  // input tokens served from a prompt cache
  std::int64_t reasoning_tokens = 0;     // part of output_tokens spent on reasoning, if known
  std::int64_t cache_creation_input_tokens = 0;  // input tokens written to a prompt cache
  friend bool operator==(const Usage&, const Usage&) = default;
};

struct Timings {
  std::optional<std::chrono::microseconds> time_to_first_token;  // streaming or known upstream
  std::chrono::microseconds total{0};
  // Durations the server reports (Ollama): model load, prompt evaluation, generation, and the
  // server's own total; the local engine sets prompt_eval and generation. Unset when the
  // provider does not report them.
  std::optional<std::chrono::microseconds> load{};
  std::optional<std::chrono::microseconds> prompt_eval{};
  std::optional<std::chrono::microseconds> generation{};
  std::optional<std::chrono::microseconds> server_total{};
  friend bool operator==(const Timings&, const Timings&) = default;
};

struct Response {
  std::string content;
  std::string reasoning;
  std::string reasoning_signature{};  // Anthropic: the signature of the thinking, for history
  std::vector<ToolCall> tool_calls;
  FinishReason finish_reason = FinishReason::stop;
  Usage usage;
  std::string model;     // the model that answered, as the provider names it
  std::string provider;  // the llmux provider name, e.g. "openai"
  Timings timings;
  std::string raw;  // the provider's raw response body (JSON text), when there is one
  std::string request_id;  // the provider's request id (x-request-id and similar), if sent
  // Rate-limit headers of the HTTP response (x-ratelimit-*, anthropic-ratelimit-*), as sent.
  std::vector<std::pair<std::string, std::string>> rate_limits;
  friend bool operator==(const Response&, const Response&) = default;
};

struct ModelInfo {
  std::string id;
  std::string owned_by;
  std::int64_t created = 0;  // Unix time, 0 when unknown
  friend bool operator==(const ModelInfo&, const ModelInfo&) = default;
};

// ---- Stream events -------------------------------------------------------------------------

struct TextDelta {
  std::string text;
  friend bool operator==(const TextDelta&, const TextDelta&) = default;
};

struct ReasoningDelta {
  std::string text;
  friend bool operator==(const ReasoningDelta&, const ReasoningDelta&) = default;
};

// A piece of a tool call as it streams. `index` identifies the call within the response; `id`
// and `name` are set on the first delta of a call, `arguments` holds the next JSON text piece.
struct ToolCallDelta {
  std::size_t index = 0;
  std::string id;
  std::string name;
  std::string arguments;
  friend bool operator==(const ToolCallDelta&, const ToolCallDelta&) = default;
};

// A tool call whose arguments are complete.
struct ToolCallDone {
  std::size_t index = 0;
  ToolCall call;
  friend bool operator==(const ToolCallDone&, const ToolCallDone&) = default;
};

struct UsageEvent {
  Usage usage;
  friend bool operator==(const UsageEvent&, const UsageEvent&) = default;
};

struct Finish {
  FinishReason reason = FinishReason::stop;
  friend bool operator==(const Finish&, const Finish&) = default;
};

using StreamEvent =
    std::variant<TextDelta, ReasoningDelta, ToolCallDelta, ToolCallDone, UsageEvent, Finish>;

}  // namespace llmux
