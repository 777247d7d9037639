#include "engine/chat_template/chat_template.hpp"

#include <boost/json.hpp>

#include "engine/chat_template/parser.hpp"

namespace llmux::engine::chat_template {

namespace {

namespace json = boost::json;

// Deep enough for any real schema; bounded so nesting stays under kMaxNesting.
constexpr std::size_t kMaxJsonDepth = 128;

Value from_json(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return Value(None{});
    case json::kind::bool_: return Value(v.get_bool());
    case json::kind::int64: return Value(v.get_int64());
    case json::kind::uint64: {
      const std::uint64_t u = v.get_uint64();
      if (u <= static_cast<std::uint64_t>(INT64_MAX)) return Value(static_cast<std::int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case json::kind::double_: return Value(v.get_double());
    case json::kind::string: return Value(std::string(v.get_string()));
    case json::kind::array: {
      std::vector<Value> items;
      items.reserve(v.get_array().size());
      for (const json::value& item : v.get_array()) items.push_back(from_json(item));
      return Value::list(std::move(items));
    }
    case json::kind::object: {
      Dict d;
      d.items.reserve(v.get_object().size());
      for (const auto& member : v.get_object()) {
        d.items.emplace_back(std::string(member.key()), from_json(member.value()));
      }
      return Value::dict(std::move(d));
    }
  }
  return Value(None{});
}

json::value parse_json(std::string_view text, const char* what) {
  json::parse_options opts;
  opts.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) {
    throw llmux::Error(llmux::errc::invalid_argument,
                       std::string(what) + ": invalid JSON: " + ec.message());
  }
  return v;
}

Value parse_json_value(std::string_view text, const char* what) {
  const json::value v = parse_json(text, what);
  try {
    return from_json(v);
  } catch (const TemplateError&) {
    throw llmux::Error(llmux::errc::invalid_argument, std::string(what) + ": JSON nested too deeply");
  }
}

}  // namespace

ChatTemplate::ChatTemplate(std::string_view source)
    : source_(std::make_shared<const std::string>(source)),
      body_(std::make_shared<const Body>(parse(source))) {}

std::string ChatTemplate::render_json(std::string_view messages_json, std::string_view tools_json,
                                      const RenderOptions& options) const {
  Value messages = parse_json_value(messages_json, "messages");
  if (!messages.is_list()) {
    throw llmux::Error(llmux::errc::invalid_argument, "messages: expected a JSON array");
  }
  Dict context;
  context.set("messages", std::move(messages));
  if (!tools_json.empty()) {
    Value tools = parse_json_value(tools_json, "tools");
    if (!tools.is_list() && !tools.is_none()) {
      throw llmux::Error(llmux::errc::invalid_argument, "tools: expected a JSON array");
    }
    context.set("tools", std::move(tools));
  }
  context.set("add_generation_prompt", Value(options.add_generation_prompt));
  if (options.bos_token) context.set("bos_token", Value(*options.bos_token));
  if (options.eos_token) context.set("eos_token", Value(*options.eos_token));
  if (!options.extra_variables_json.empty()) {
    Value extra = parse_json_value(options.extra_variables_json, "variables");
    if (!extra.is_dict()) {
      throw llmux::Error(llmux::errc::invalid_argument, "variables: expected a JSON object");
    }
    for (const auto& [k, v] : extra.as_dict().items) context.set(k, v);
  }
  Interpreter interpreter(options.limits, options.clock);
  return interpreter.render(*body_, std::move(context));
}

std::string ChatTemplate::render(std::span<const Message> messages,
                                 std::span<const ToolDefinition> tools,
                                 const RenderOptions& options) const {
  return render_json(messages_to_json(messages), tools.empty() ? std::string() : tools_to_json(tools),
                     options);
}

namespace {

// Tool-call arguments and tool parameters are JSON text; templates expect parsed values.
json::value parse_or_string(const std::string& text) {
  json::parse_options opts;
  opts.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) return json::value(json::string(text));
  return v;
}

}  // namespace

std::string messages_to_json(std::span<const Message> messages) {
  json::array out;
  for (const Message& m : messages) {
    json::object o;
    o["role"] = std::string(to_string(m.role));
    o["content"] = m.text();
    if (!m.tool_calls.empty()) {
      json::array calls;
      for (const ToolCall& c : m.tool_calls) {
        json::object fn;
        fn["name"] = c.name;
        fn["arguments"] = parse_or_string(c.arguments.empty() ? "{}" : c.arguments);
        json::object call;
        call["id"] = c.id;
        call["type"] = "function";
        call["function"] = std::move(fn);
        calls.push_back(std::move(call));
      }
      o["tool_calls"] = std::move(calls);
    }
    if (!m.tool_call_id.empty()) o["tool_call_id"] = m.tool_call_id;
    if (!m.name.empty()) o["name"] = m.name;
    out.push_back(std::move(o));
  }
  return json::serialize(out);
}

std::string tools_to_json(std::span<const ToolDefinition> tools) {
  json::array out;
  for (const ToolDefinition& t : tools) {
    json::object fn;
    fn["name"] = t.name;
    fn["description"] = t.description;
    fn["parameters"] = parse_or_string(t.parameters.empty() ? "{}" : t.parameters);
    json::object tool;
    tool["type"] = "function";
    tool["function"] = std::move(fn);
    out.push_back(std::move(tool));
  }
  return json::serialize(out);
}

}  // namespace llmux::engine::chat_template
