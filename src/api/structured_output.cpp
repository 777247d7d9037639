// Structured output: prompting for the format where the provider has no native support, parsing
// and validating the output, one feedback retry. Contracts in structured_output.hpp.
#include "api/structured_output.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "schema/json_schema.hpp"

namespace llmux::detail {
namespace {

namespace bj = boost::json;

constexpr std::size_t kMaxOutputDepth = 128;  // nesting accepted in model output
constexpr std::size_t kMaxErrorsShown = 5;

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// The inside of a ```lang … ``` fence around the whole text, or the text itself.
std::string_view strip_fence(std::string_view s) {
  if (!s.starts_with("```") || s.size() < 6 || !s.ends_with("```")) return s;
  const auto line_end = s.find('\n');
  if (line_end == std::string_view::npos) return s;
  const std::string_view lang = trim(s.substr(3, line_end - 3));
  if (!lang.empty() && lang != "json" && lang != "JSON") return s;
  return trim(s.substr(line_end + 1, s.size() - 3 - (line_end + 1)));
}

void add_usage(Usage& total, const Usage& u) {
  total.input_tokens += u.input_tokens;
  total.output_tokens += u.output_tokens;
  total.total_tokens += u.total_tokens;
  total.cached_input_tokens += u.cached_input_tokens;
  total.reasoning_tokens += u.reasoning_tokens;
  total.cache_creation_input_tokens += u.cache_creation_input_tokens;
}

// What a response must satisfy: a JSON object (json_object) or a compiled schema.
class OutputCheck {
 public:
  explicit OutputCheck(const ResponseFormat& format) {
    if (format.kind != ResponseFormat::Kind::json_schema) return;
    if (trim(format.schema).empty()) {
      throw_error(errc::invalid_argument, "response_format json_schema needs a schema");
    }
    schema_ = schema::JsonSchema::from_text(format.schema);
  }

  // "" when the response is acceptable (its content then becomes the bare JSON text), else a
  // one-line description of what is wrong.
  std::string check(Response& response) const {
    if (!response.tool_calls.empty()) return {};  // a tool round, not the final answer
    ParsedOutput parsed = parse_model_json(response.content);
    if (!parsed.value) return "the output is not valid JSON (" + parsed.error + ")";
    if (schema_) {
      const auto errors = schema_->validate(*parsed.value, kMaxErrorsShown + 1);
      if (!errors.empty()) {
        return "the output does not match the JSON Schema: " +
               schema::format_errors(errors, kMaxErrorsShown);
      }
    } else if (!parsed.value->is_object()) {
      return "the output is not a JSON object";
    }
    response.content = std::move(parsed.json_text);
    return {};
  }

 private:
  std::optional<schema::JsonSchema> schema_;
};

Request with_feedback(Request request, const Response& bad, const std::string& problem) {
  request.messages.push_back(Message::assistant(bad.content));
  request.messages.push_back(Message::user(fmt::format(
      "Your previous reply was rejected: {}. Reply again with only the corrected JSON, "
      "matching the required format, and nothing else.",
      problem)));
  return request;
}

[[noreturn]] void throw_invalid_output(const Provider& provider, const Response& last,
                                       const std::string& problem, int attempts) {
  ErrorInfo info;
  info.provider = std::string(provider.name());
  info.body = last.content;
  info.request_id = last.request_id;
  info.partial = std::make_shared<const Response>(last);
  throw_error(errc::invalid_output,
              fmt::format("{}: structured output invalid after {} attempt{}: {}", provider.name(),
                          attempts, attempts == 1 ? "" : "s", problem),
              std::move(info));
}

Request prepare(const Provider& provider, Request request) {
  if (!has_native_response_format(provider)) request = with_format_instruction(std::move(request));
  return request;
}

}  // namespace

bool has_native_response_format(const Provider& provider) noexcept {
  return dynamic_cast<const NativeResponseFormat*>(&provider) != nullptr;
}

std::string format_instruction(const ResponseFormat& format) {
  switch (format.kind) {
    case ResponseFormat::Kind::text: return {};
    case ResponseFormat::Kind::json_object:
      return "Respond with a single JSON object and nothing else: no prose, no code fences.";
    case ResponseFormat::Kind::json_schema: break;
  }
  return fmt::format(
      "Respond with a single JSON value and nothing else (no prose, no code fences). It must "
      "conform to this JSON Schema (named \"{}\"):\n{}",
      format.name, trim(format.schema));
}

Request with_format_instruction(Request request) {
  std::string instruction = format_instruction(request.options.response_format);
  if (instruction.empty()) return request;
  auto& messages = request.messages;
  if (!messages.empty() && messages.front().role == Role::system) {
    messages.front().content.push_back(ContentPart::from_text("\n\n" + instruction));
  } else {
    messages.insert(messages.begin(), Message::system(std::move(instruction)));
  }
  return request;
}

ParsedOutput parse_model_json(std::string_view content) {
  ParsedOutput out;
  out.json_text = std::string(strip_fence(trim(content)));
  bj::parse_options options;
  options.max_depth = kMaxOutputDepth;
  boost::system::error_code ec;
  bj::value v = bj::parse(out.json_text, ec, {}, options);
  if (ec) {
    out.error = out.json_text.empty() ? "it is empty" : ec.message();
  } else {
    out.value = std::move(v);
  }
  return out;
}

asio::awaitable<Response> run_structured(std::shared_ptr<Provider> provider, Request request,
                                         AttemptFn attempt) {
  if (request.options.response_format.kind == ResponseFormat::Kind::text) {
    auto only = attempt(std::move(request));
    co_return co_await std::move(only);
  }
  const OutputCheck check(request.options.response_format);
  request = prepare(*provider, std::move(request));
  auto first_attempt = attempt(request);
  Response first = co_await std::move(first_attempt);
  const std::string problem = check.check(first);
  if (problem.empty()) co_return first;

  Request retry = with_feedback(std::move(request), first, problem);
  auto second_attempt = attempt(std::move(retry));
  Response second = co_await std::move(second_attempt);
  Usage total = first.usage;
  add_usage(total, second.usage);
  second.usage = total;
  const std::string second_problem = check.check(second);
  if (!second_problem.empty()) throw_invalid_output(*provider, second, second_problem, 2);
  co_return second;
}

asio::awaitable<Response> run_structured_stream(std::shared_ptr<Provider> provider, Request request,
                                                AttemptFn attempt) {
  if (request.options.response_format.kind == ResponseFormat::Kind::text) {
    auto only = attempt(std::move(request));
    co_return co_await std::move(only);
  }
  const OutputCheck check(request.options.response_format);
  auto only = attempt(prepare(*provider, std::move(request)));
  Response response = co_await std::move(only);
  const std::string problem = check.check(response);
  if (!problem.empty()) throw_invalid_output(*provider, response, problem, 1);
  co_return response;
}

}  // namespace llmux::detail
