// Structured output: the layer of the request pipeline that makes a response follow
// GenerateOptions::response_format (json_object or json_schema), whatever the provider.
//
//   Provider::start_generate ─► run_structured ─► attempt (breaker, limit, retries) ─► do_generate
//   Provider::async_stream   ─► run_structured_stream ─► attempt (stream retries) ─► do_stream
//
// Native or prompted. Providers that send the format on the wire derive from
// NativeResponseFormat (OpenAI-compatible `response_format`, Ollama `format`, Anthropic's forced
// tool); for every other provider (fake, local, user-defined) the request gets a system
// instruction naming the schema (format_instruction / with_format_instruction), and the format
// stays in the request for providers that use it anyway.
//
// Validation. The response's content is parsed as JSON (surrounding whitespace and one
// ```json … ``` fence are tolerated) and checked against the schema (src/schema/); json_object
// requires a JSON object. A response that calls tools (non-empty tool_calls) is not a final
// answer and passes through unvalidated.
//
// Generate path contract (run_structured): with a text format, exactly one attempt, its result
// unchanged. Otherwise: attempt 1; if its output is invalid, exactly one more attempt with
// feedback — the request plus the assistant's invalid output and a user message naming the
// validation errors — and if that is invalid too, InvalidOutputError (errc::invalid_output)
// whose message carries the validation errors, ErrorInfo::body the raw text of the last output,
// and partial() the last response. On success the content is the JSON text alone (fence and
// surrounding whitespace removed) and usage is the sum over the attempts made. Errors of an
// attempt (network, rate limits after the attempt's own retries, cancellation) propagate
// unchanged; a malformed schema is an InvalidArgumentError before any request.
//
// Streaming contract (run_structured_stream): the same request preparation, one attempt, and
// validation when the stream has ended. Events have been delivered by then, so nothing is
// retried: invalid output ends the stream with InvalidOutputError (as above) after its events.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <llmux/provider.hpp>

namespace llmux::detail {

// Marker base of providers that express the response format natively on the wire.
class NativeResponseFormat {
 public:
  virtual ~NativeResponseFormat() = default;
};

bool has_native_response_format(const Provider& provider) noexcept;

// The system instruction that asks for the format in the prompt ("" for the text format).
std::string format_instruction(const ResponseFormat& format);
// `request` with format_instruction added: appended as a text part to a leading system message,
// or as a new first system message.
Request with_format_instruction(Request request);

// Model output as JSON: the value, the JSON text it was read from, or why it is not JSON.
struct ParsedOutput {
  std::optional<boost::json::value> value;
  std::string json_text;  // content without surrounding whitespace and code fence
  std::string error;      // set when value is empty
};
ParsedOutput parse_model_json(std::string_view content);

// One model request through the rest of the pipeline.
using AttemptFn = std::function<asio::awaitable<Response>(Request)>;

asio::awaitable<Response> run_structured(std::shared_ptr<Provider> provider, Request request,
                                         AttemptFn attempt);
asio::awaitable<Response> run_structured_stream(std::shared_ptr<Provider> provider, Request request,
                                                AttemptFn attempt);

}  // namespace llmux::detail
