// Tool calls written as JSON by a model, normalized to {name, arguments, id}.
//
// Accepted shapes of one call (extra members are ignored):
//   {"name": N, "arguments": A}                      Hermes/Qwen, Mistral (with "id")
//   {"name": N, "parameters": A}                     Llama 3.1/3.2
//   {"type": "function", "name": N, "parameters": A} a Llama 3 variant
//   {"type": "function", "function": {"name": N, "arguments": A}, "id": I}  OpenAI's shape
// N must be a non-empty string. A is an object (its raw text is kept, byte for byte: numbers
// are not reformatted), a string holding JSON text (OpenAI style: its content is used when it
// is valid JSON), or absent/null ("{}"). Anything else is not a tool call.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::engine::output {

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // JSON text
  std::string id;         // empty when the model gave none
};

// Whether `text` is one valid JSON document (Boost.JSON, nesting up to 128 levels).
bool is_valid_json(std::string_view text);

// One call object; nullopt when `json` is not valid JSON or not a call of an accepted shape.
std::optional<ParsedToolCall> parse_tool_call(std::string_view json);

// A JSON array of call objects (Mistral's [TOOL_CALLS][…]); nullopt when `json` is not an
// array or any element is not a call. An empty array gives an empty vector.
std::optional<std::vector<ParsedToolCall>> parse_tool_call_array(std::string_view json);

// The arguments of the [ARGS] form: `json` must be a valid JSON object; returns its trimmed
// raw text.
std::optional<std::string> parse_arguments_object(std::string_view json);

}  // namespace llmux::engine::output
