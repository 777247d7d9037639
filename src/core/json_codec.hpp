// JSON codecs of the public types (Boost.JSON stays inside src/).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include <llmux/types.hpp>

namespace llmux::json {

// Parses JSON text; throws InvalidArgumentError naming `what` and the parser's message.
boost::json::value parse(std::string_view text, std::string_view what);

// Tool definitions from JSON text: an array of OpenAI-style tools
// ({"type":"function","function":{"name","description","parameters"}}) or of bare
// {"name","description","parameters"|"input_schema"} objects. Throws InvalidArgumentError.
std::vector<ToolDefinition> parse_tool_definitions(std::string_view text);

// A JSON Schema given as text: must be a JSON object; returned re-serialized compactly.
std::string parse_schema(std::string_view text);

// The Response in the CLI's --json shape: {content, reasoning, tool_calls:[{id, name,
// arguments}], finish_reason, usage:{…}, model, provider, timings:{ttft_ms, total_ms}}.
// Tool-call arguments are embedded as JSON when they parse, as a string otherwise.
boost::json::object response_to_json(const Response& response);

// Serializes like boost::json::serialize, but writes doubles in their shortest plain form
// ("10.101", not "1.0101E1") where that is exact, for output people read.
std::string to_text(const boost::json::value& value);

}  // namespace llmux::json
