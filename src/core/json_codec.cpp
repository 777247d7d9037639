#include "core/json_codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::json {
namespace bj = boost::json;

bj::value parse(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec) {
    throw_error(errc::invalid_argument, fmt::format("{}: invalid JSON: {}", what, ec.message()));
  }
  return v;
}

namespace {

std::string string_field(const bj::object& o, std::string_view key, std::string_view where,
                         bool required) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) {
    if (required) {
      throw_error(errc::invalid_argument, fmt::format("{}: missing \"{}\"", where, key));
    }
    return {};
  }
  if (!it->value().is_string()) {
    throw_error(errc::invalid_argument, fmt::format("{}: \"{}\" must be a string", where, key));
  }
  return std::string(it->value().get_string());
}

ToolDefinition tool_from_object(const bj::object& o, const std::string& where) {
  ToolDefinition t;
  t.name = string_field(o, "name", where, true);
  if (t.name.empty()) throw_error(errc::invalid_argument, where + ": empty tool name");
  t.description = string_field(o, "description", where, false);
  const bj::value* params = o.if_contains("parameters");
  if (!params) params = o.if_contains("input_schema");
  if (params && !params->is_null()) {
    if (!params->is_object()) {
      throw_error(errc::invalid_argument,
                  fmt::format("{}: the parameters of tool '{}' must be a JSON object", where,
                              t.name));
    }
    t.parameters = bj::serialize(*params);
  }
  return t;
}

}  // namespace

std::vector<ToolDefinition> parse_tool_definitions(std::string_view text) {
  bj::value v = parse(text, "tools");
  if (!v.is_array()) throw_error(errc::invalid_argument, "tools: expected a JSON array of tools");
  std::vector<ToolDefinition> tools;
  for (std::size_t i = 0; i < v.get_array().size(); ++i) {
    const bj::value& item = v.get_array()[i];
    std::string where = fmt::format("tools[{}]", i);
    if (!item.is_object()) throw_error(errc::invalid_argument, where + ": expected an object");
    const bj::object& o = item.get_object();
    if (const bj::value* fn = o.if_contains("function")) {
      if (auto type = o.if_contains("type"); type && !(type->is_string() && type->get_string() == "function")) {
        throw_error(errc::invalid_argument, where + ": only tools of type \"function\" are supported");
      }
      if (!fn->is_object()) throw_error(errc::invalid_argument, where + ".function: expected an object");
      tools.push_back(tool_from_object(fn->get_object(), where + ".function"));
    } else {
      tools.push_back(tool_from_object(o, where));
    }
    for (std::size_t j = 0; j + 1 < tools.size(); ++j) {
      if (tools[j].name == tools.back().name) {
        throw_error(errc::invalid_argument,
                    fmt::format("{}: duplicate tool name '{}'", where, tools.back().name));
      }
    }
  }
  return tools;
}

std::string parse_schema(std::string_view text) {
  bj::value v = parse(text, "schema");
  if (!v.is_object()) throw_error(errc::invalid_argument, "schema: expected a JSON object");
  return bj::serialize(v);
}

bj::object response_to_json(const Response& r) {
  bj::object out;
  out["content"] = r.content;
  out["reasoning"] = r.reasoning;
  bj::array calls;
  for (const auto& c : r.tool_calls) {
    bj::object call;
    call["id"] = c.id;
    call["name"] = c.name;
    boost::system::error_code ec;
    bj::value args = bj::parse(c.arguments, ec);
    call["arguments"] = ec ? bj::value(c.arguments) : std::move(args);
    calls.push_back(std::move(call));
  }
  out["tool_calls"] = std::move(calls);
  out["finish_reason"] = to_string(r.finish_reason);
  out["usage"] = {{"input_tokens", r.usage.input_tokens},
                  {"output_tokens", r.usage.output_tokens},
                  {"total_tokens", r.usage.total_tokens},
                  {"cached_input_tokens", r.usage.cached_input_tokens},
                  {"reasoning_tokens", r.usage.reasoning_tokens}};
  out["model"] = r.model;
  out["provider"] = r.provider;
  bj::object timings;
  if (r.timings.time_to_first_token) {
    timings["ttft_ms"] = static_cast<double>(r.timings.time_to_first_token->count()) / 1000.0;
  } else {
    timings["ttft_ms"] = nullptr;
  }
  timings["total_ms"] = static_cast<double>(r.timings.total.count()) / 1000.0;
  out["timings"] = std::move(timings);
  return out;
}

std::string to_text(const bj::value& value) {
  switch (value.kind()) {
    case bj::kind::object: {
      std::string out = "{";
      for (const auto& [key, v] : value.get_object()) {
        if (out.size() > 1) out += ',';
        out += bj::serialize(bj::value(bj::string_view(key)));
        out += ':';
        out += to_text(v);
      }
      return out + "}";
    }
    case bj::kind::array: {
      std::string out = "[";
      for (const auto& v : value.get_array()) {
        if (out.size() > 1) out += ',';
        out += to_text(v);
      }
      return out + "]";
    }
    case bj::kind::double_: {
      const double d = value.get_double();
      // fmt's shortest round-trip form; non-finite values have no JSON form: serialize decides.
      if (!std::isfinite(d)) return bj::serialize(value);
      std::string text = fmt::format("{}", d);
      return text.find_first_of(".eEn") == std::string::npos ? text + ".0" : text;
    }
    default:
      return bj::serialize(value);
  }
}

}  // namespace llmux::json
