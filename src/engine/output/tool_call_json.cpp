#include "engine/output/tool_call_json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "engine/output/json_scan.hpp"

namespace llmux::engine::output {
namespace {

std::optional<boost::json::value> parse_json(std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = JsonScanner::kMaxDepth;
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec, {}, options);
  if (ec) return std::nullopt;
  return value;
}

const JsonMember* find_member(const std::vector<JsonMember>& members, std::string_view key) {
  const JsonMember* found = nullptr;
  for (const auto& m : members) {
    if (m.key == key) found = &m;  // the last duplicate wins, as in Boost.JSON
  }
  return found;
}

// The normalized arguments text of a raw value; nullopt if it is not acceptable.
std::optional<std::string> arguments_text(const JsonMember* member) {
  if (member == nullptr) return std::string("{}");
  const std::string_view raw = trim_json_space(member->value);
  const auto value = parse_json(raw);
  if (!value) return std::nullopt;
  if (value->is_null()) return std::string("{}");
  if (value->is_object()) return std::string(raw);
  if (value->is_string()) {
    const std::string inner(value->get_string());
    if (is_valid_json(inner)) return std::string(trim_json_space(inner));
  }
  return std::nullopt;
}

std::optional<std::string> string_value(const JsonMember* member) {
  if (member == nullptr) return std::nullopt;
  const auto value = parse_json(member->value);
  if (!value || !value->is_string()) return std::nullopt;
  return std::string(value->get_string());
}

// `members` of an object already validated as JSON.
std::optional<ParsedToolCall> call_from_members(const std::vector<JsonMember>& members) {
  ParsedToolCall call;
  if (auto id = string_value(find_member(members, "id"))) call.id = std::move(*id);
  const JsonMember* function = find_member(members, "function");
  if (function != nullptr && find_member(members, "name") == nullptr) {
    const auto inner = object_members(function->value);
    if (inner.empty()) return std::nullopt;
    auto nested = call_from_members(inner);
    if (nested && nested->id.empty()) nested->id = call.id;
    return nested;
  }
  auto name = string_value(find_member(members, "name"));
  if (!name || name->empty()) return std::nullopt;
  call.name = std::move(*name);
  const JsonMember* args = find_member(members, "arguments");
  if (args == nullptr) args = find_member(members, "parameters");
  auto arguments = arguments_text(args);
  if (!arguments) return std::nullopt;
  call.arguments = std::move(*arguments);
  return call;
}

}  // namespace

bool is_valid_json(std::string_view text) { return parse_json(text).has_value(); }

std::optional<ParsedToolCall> parse_tool_call(std::string_view json) {
  const auto value = parse_json(json);
  if (!value || !value->is_object()) return std::nullopt;
  return call_from_members(object_members(json));
}

std::optional<std::vector<ParsedToolCall>> parse_tool_call_array(std::string_view json) {
  const auto value = parse_json(json);
  if (!value || !value->is_array()) return std::nullopt;
  // Split the raw array into its elements with the same scanner the members use.
  std::vector<ParsedToolCall> calls;
  std::string_view rest = trim_json_space(json);
  rest.remove_prefix(1);  // '['
  for (;;) {
    rest = trim_json_space(rest);
    if (rest.empty() || rest.front() == ']') break;
    JsonScanner scanner;
    if (scanner.scan(rest) != ScanStatus::complete) return std::nullopt;  // not an object
    const std::string_view element = rest.substr(0, scanner.end());
    if (element.front() != '{') return std::nullopt;
    auto call = call_from_members(object_members(element));
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
    rest = trim_json_space(rest.substr(scanner.end()));
    if (!rest.empty() && rest.front() == ',') rest.remove_prefix(1);
  }
  return calls;
}

std::optional<std::string> parse_arguments_object(std::string_view json) {
  const auto value = parse_json(json);
  if (!value || !value->is_object()) return std::nullopt;
  return std::string(trim_json_space(json));
}

}  // namespace llmux::engine::output
