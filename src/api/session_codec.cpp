// JSON of conversations (include/llmux/session.hpp): every Message field, strictly validated on
// the way in (the text may come from a file anyone wrote).
#include <llmux/session.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "api/session_codec.hpp"

namespace llmux {
namespace {

namespace bj = boost::json;

[[noreturn]] void bad(const std::string& what) {
  throw_error(errc::invalid_argument, "session JSON: " + what);
}

std::optional<Role> role_from(std::string_view s) {
  for (Role r : {Role::system, Role::user, Role::assistant, Role::tool}) {
    if (to_string(r) == s) return r;
  }
  return std::nullopt;
}

const bj::object& as_object(const bj::value& v, const std::string& where) {
  if (!v.is_object()) bad(where + " is not an object");
  return v.get_object();
}

std::string string_field(const bj::object& o, std::string_view key, const std::string& where) {
  const bj::value* v = o.if_contains(key);
  if (!v) return {};
  if (!v->is_string()) bad(fmt::format("{}.{} is not a string", where, key));
  return std::string(v->get_string());
}

const bj::array* array_field(const bj::object& o, std::string_view key, const std::string& where) {
  const bj::value* v = o.if_contains(key);
  if (!v) return nullptr;
  if (!v->is_array()) bad(fmt::format("{}.{} is not an array", where, key));
  return &v->get_array();
}

bj::object part_to_json(const ContentPart& p) {
  bj::object o{{"type", "text"}, {"text", p.text}};
  if (p.cache_control) o["cache_control"] = bj::object{{"ttl", p.cache_control->ttl}};
  return o;
}

ContentPart part_from_json(const bj::value& v, const std::string& where) {
  const bj::object& o = as_object(v, where);
  if (string_field(o, "type", where) != "text") bad(where + ".type must be \"text\"");
  ContentPart p = ContentPart::from_text(string_field(o, "text", where));
  if (const bj::value* cc = o.if_contains("cache_control")) {
    p.cache_control = CacheControl{string_field(as_object(*cc, where + ".cache_control"), "ttl",
                                                where + ".cache_control")};
  }
  return p;
}

Message message_from_json(const bj::value& v, const std::string& where) {
  const bj::object& o = as_object(v, where);
  Message m;
  auto role = role_from(string_field(o, "role", where));
  if (!role) bad(where + ".role must be system, user, assistant or tool");
  m.role = *role;
  if (const bj::array* parts = array_field(o, "content", where)) {
    for (std::size_t i = 0; i < parts->size(); ++i) {
      m.content.push_back(part_from_json((*parts)[i], fmt::format("{}.content[{}]", where, i)));
    }
  }
  if (const bj::array* calls = array_field(o, "tool_calls", where)) {
    for (std::size_t i = 0; i < calls->size(); ++i) {
      std::string w = fmt::format("{}.tool_calls[{}]", where, i);
      const bj::object& c = as_object((*calls)[i], w);
      m.tool_calls.push_back(ToolCall{string_field(c, "id", w), string_field(c, "name", w),
                                      string_field(c, "arguments", w)});
    }
  }
  m.tool_call_id = string_field(o, "tool_call_id", where);
  m.name = string_field(o, "name", where);
  m.reasoning = string_field(o, "reasoning", where);
  m.reasoning_signature = string_field(o, "reasoning_signature", where);
  return m;
}

}  // namespace

namespace detail {

bj::array messages_to_json_array(const std::vector<Message>& messages) {
  bj::array out;
  for (const Message& m : messages) {
    bj::object o{{"role", to_string(m.role)}};
    bj::array parts;
    for (const auto& p : m.content) parts.push_back(part_to_json(p));
    o["content"] = std::move(parts);
    if (!m.tool_calls.empty()) {
      bj::array calls;
      for (const auto& c : m.tool_calls) {
        calls.push_back(bj::object{{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
      }
      o["tool_calls"] = std::move(calls);
    }
    if (!m.tool_call_id.empty()) o["tool_call_id"] = m.tool_call_id;
    if (!m.name.empty()) o["name"] = m.name;
    if (!m.reasoning.empty()) o["reasoning"] = m.reasoning;
    if (!m.reasoning_signature.empty()) o["reasoning_signature"] = m.reasoning_signature;
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<Message> messages_from_json_array(const bj::value& v, const std::string& where) {
  if (!v.is_array()) bad(where + " is not an array");
  std::vector<Message> out;
  const bj::array& a = v.get_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    out.push_back(message_from_json(a[i], fmt::format("{}[{}]", where, i)));
  }
  return out;
}

std::string session_to_json(const std::string& system, const std::vector<Message>& history) {
  bj::object o{{"format", "llmux-session"}, {"version", 1}, {"system", system}};
  o["messages"] = messages_to_json_array(history);
  return bj::serialize(o);
}

SessionDocument session_from_json(std::string_view text) {
  boost::system::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec) bad("not JSON: " + ec.message());
  const bj::object& o = as_object(v, "the document");
  if (string_field(o, "format", "the document") != "llmux-session") {
    bad("\"format\" must be \"llmux-session\"");
  }
  const bj::value* version = o.if_contains("version");
  if (!version || !version->is_int64() || version->get_int64() != 1) bad("\"version\" must be 1");
  const bj::value* messages = o.if_contains("messages");
  if (!messages) bad("\"messages\" is missing");
  return {string_field(o, "system", "the document"), messages_from_json_array(*messages, "messages")};
}

}  // namespace detail

std::string messages_to_json(const std::vector<Message>& messages) {
  return bj::serialize(detail::messages_to_json_array(messages));
}

std::vector<Message> messages_from_json(std::string_view json) {
  boost::system::error_code ec;
  bj::value v = bj::parse(json, ec);
  if (ec) bad("not JSON: " + ec.message());
  return detail::messages_from_json_array(v, "messages");
}

}  // namespace llmux
