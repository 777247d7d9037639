// Helpers shared by the wire protocols for tool calling and the HTTP plumbing of the native
// (non-OpenAI) providers: synthesized tool-call ids, tool-call arguments as JSON objects, the
// tool name a tool result answers, RFC 3339 times, and error context.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include <llmux/factory.hpp>

#include "http/client.hpp"

namespace llmux::providers {

// A fresh tool-call id for protocols that send none ("call_" + 24 random letters and digits):
// unique across a conversation, so history can move to a protocol that requires ids.
std::string synthesize_tool_call_id();

// Tool-call arguments (JSON text) as a JSON object, for protocols that carry them as objects.
// Empty text is {}. Throws InvalidArgumentError naming the call when the text is not a JSON
// object.
boost::json::object arguments_object(const ToolCall& call);

// The name of the tool that messages[index] (a tool result) answers: its own `name`, else the
// name of the assistant tool call with the same id earlier in the conversation, else "".
std::string tool_name_for_result(const std::vector<Message>& messages, std::size_t index);

// Seconds since the Unix epoch of an RFC 3339 time ("2024-05-01T12:34:56.123-07:00"), or 0 when
// the text is not one.
std::int64_t parse_rfc3339(std::string_view text);

// Adds the provider name and the partial response to an error thrown below the provider.
[[noreturn]] void rethrow_with_context(const Error& e, const std::string& provider,
                                       const Response* partial);

// A whole (non-streamed) response as the events a stream of it gives: reasoning, text, each tool
// call (delta and done), usage, finish.
void emit_whole_response(const Response& response, const EventSink& sink);

// The HTTP client options of a provider config.
http::ClientOptions client_options(const ProviderConfig& config);

}  // namespace llmux::providers
