// Ollama /api/chat wire format: encoding requests, decoding responses and NDJSON stream lines.
#include <charconv>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "core/json_codec.hpp"
#include "providers/http_errors.hpp"
#include "providers/json_fields.hpp"
#include "providers/ollama.hpp"
#include "providers/tool_calls.hpp"

namespace llmux::providers {
namespace {

namespace bj = boost::json;

using json_fields::int_at;
using json_fields::object_at;
using json_fields::string_at;

bj::object encode_message(const std::vector<Message>& messages, std::size_t index) {
  const Message& m = messages[index];
  bj::object o{{"role", to_string(m.role)}, {"content", m.text()}};
  if (m.role == Role::assistant) {
    if (!m.reasoning.empty()) o["thinking"] = m.reasoning;
    if (!m.tool_calls.empty()) {
      bj::array calls;
      for (const auto& c : m.tool_calls) {
        bj::object fn{{"name", c.name}, {"arguments", arguments_object(c)}};
        calls.push_back(bj::object{{"function", std::move(fn)}});
      }
      o["tool_calls"] = std::move(calls);
    }
  } else if (m.role == Role::tool) {
    if (std::string name = tool_name_for_result(messages, index); !name.empty()) {
      o["tool_name"] = std::move(name);
    }
  }
  return o;
}

bj::object encode_options(const GenerateOptions& o, const OllamaSettings& settings) {
  bj::object opts;
  if (o.temperature) opts["temperature"] = *o.temperature;
  if (o.top_p) opts["top_p"] = *o.top_p;
  if (o.top_k) opts["top_k"] = *o.top_k;
  if (o.min_p) opts["min_p"] = *o.min_p;
  if (o.seed) opts["seed"] = *o.seed;
  if (o.max_output_tokens) opts["num_predict"] = *o.max_output_tokens;
  if (settings.num_ctx) opts["num_ctx"] = *settings.num_ctx;
  if (o.presence_penalty) opts["presence_penalty"] = *o.presence_penalty;
  if (o.frequency_penalty) opts["frequency_penalty"] = *o.frequency_penalty;
  if (!o.stop.empty()) {
    bj::array stop;
    for (const auto& s : o.stop) stop.push_back(bj::value(s));
    opts["stop"] = std::move(stop);
  }
  return opts;
}

void encode_tools(const GenerateOptions& o, const std::string& provider, bj::object& body) {
  if (o.tools.empty()) return;
  if (o.tool_choice && (o.tool_choice->mode == ToolChoice::Mode::required ||
                        o.tool_choice->mode == ToolChoice::Mode::tool)) {
    throw_error(errc::invalid_argument,
                fmt::format("{} cannot force a tool call (tool_choice {})", provider,
                            o.tool_choice->mode == ToolChoice::Mode::required ? "required"
                                                                               : o.tool_choice->name));
  }
  if (o.tool_choice && o.tool_choice->mode == ToolChoice::Mode::none) return;  // nothing to call
  bj::array tools;
  for (const auto& t : o.tools) {
    bj::object fn{{"name", t.name},
                  {"parameters", json::parse(t.parameters.empty() ? "{}" : t.parameters,
                                             "tool parameters")}};
    if (!t.description.empty()) fn["description"] = t.description;
    tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
  }
  body["tools"] = std::move(tools);
}

// keep_alive: a number of seconds when it is one ("300", "-1"), else a duration string ("5m").
bj::value keep_alive_value(const std::string& text) {
  std::int64_t seconds = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec == std::errc() && ptr == text.data() + text.size()) return seconds;
  return bj::value(text);
}

void merge_extra_body(const std::string& extra_body, bj::object& body) {
  if (extra_body.empty()) return;
  bj::value extra = json::parse(extra_body, "extra_body");
  if (!extra.is_object()) throw_error(errc::invalid_argument, "extra_body must be a JSON object");
  for (auto& [k, v] : extra.get_object()) {
    bj::value* existing = body.if_contains(k);
    if (k == "options" && v.is_object() && existing && existing->is_object()) {
      for (auto& [ok, ov] : v.get_object()) existing->get_object()[ok] = ov;
    } else {
      body[k] = v;
    }
  }
}

std::optional<std::chrono::microseconds> nanoseconds_at(const bj::object& o, std::string_view key) {
  auto ns = int_at(o, key);
  if (!ns || *ns < 0) return std::nullopt;
  return std::chrono::microseconds(*ns / 1000);
}

bj::object parse_object(std::string_view text, std::string_view provider, const Response* partial) {
  boost::system::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_object()) {
    ErrorInfo info;
    info.provider = std::string(provider);
    info.body = std::string(text.substr(0, 4096));
    if (partial) info.partial = std::make_shared<const Response>(*partial);
    throw_error(errc::protocol_error,
                fmt::format("{}: not a JSON object: {}", provider,
                            ec ? ec.message() : "unexpected JSON type"),
                std::move(info));
  }
  if (const bj::value* error = v.get_object().if_contains("error"); error && !error->is_null()) {
    ErrorBody e = parse_error_body(text);
    ErrorInfo info;
    info.provider = std::string(provider);
    info.body = std::string(text);
    if (partial) info.partial = std::make_shared<const Response>(*partial);
    throw_error(errc_for_error_body(e, 0),
                fmt::format("{}: error: {}", provider, e.message.empty() ? info.body : e.message),
                std::move(info));
  }
  return std::move(v.get_object());
}

ToolCall decode_tool_call(const bj::object& c) {
  ToolCall call{string_at(c, "id"), {}, "{}"};
  if (const bj::object* fn = object_at(c, "function")) {
    call.name = string_at(*fn, "name");
    if (const bj::value* args = fn->if_contains("arguments")) {
      if (args->is_string()) {
        if (!args->get_string().empty()) call.arguments = args->get_string();
      } else if (!args->is_null()) {
        call.arguments = bj::serialize(*args);
      }
    }
  }
  if (call.id.empty()) call.id = synthesize_tool_call_id();
  return call;
}

// Applies one /api/chat object (a whole response or a stream line) to `r`, appending the events
// it produces to `out` when given. Returns whether the object has done: true.
bool apply_chat_object(const bj::object& o, Response& r, std::vector<StreamEvent>* out) {
  if (std::string model = string_at(o, "model"); !model.empty()) r.model = model;
  if (const bj::object* msg = object_at(o, "message")) {
    if (std::string thinking = string_at(*msg, "thinking"); !thinking.empty()) {
      r.reasoning += thinking;
      if (out) out->push_back(ReasoningDelta{std::move(thinking)});
    }
    if (std::string text = string_at(*msg, "content"); !text.empty()) {
      r.content += text;
      if (out) out->push_back(TextDelta{std::move(text)});
    }
    if (const bj::value* calls = msg->if_contains("tool_calls"); calls && calls->is_array()) {
      for (const auto& c : calls->get_array()) {
        if (!c.is_object()) continue;
        ToolCall call = decode_tool_call(c.get_object());
        const std::size_t index = r.tool_calls.size();
        r.tool_calls.push_back(call);
        if (out) {  // Ollama sends each call whole
          out->push_back(ToolCallDelta{index, call.id, call.name, call.arguments});
          out->push_back(ToolCallDone{index, std::move(call)});
        }
      }
    }
  }
  const bj::value* done = o.if_contains("done");
  if (!done || !done->is_bool() || !done->get_bool()) return false;
  r.finish_reason = map_ollama_done_reason(string_at(o, "done_reason"));
  if (!r.tool_calls.empty() && r.finish_reason == FinishReason::stop) {
    r.finish_reason = FinishReason::tool_calls;
  }
  r.usage.input_tokens = int_at(o, "prompt_eval_count").value_or(0);
  r.usage.output_tokens = int_at(o, "eval_count").value_or(0);
  r.usage.total_tokens = r.usage.input_tokens + r.usage.output_tokens;
  r.timings.load = nanoseconds_at(o, "load_duration");
  r.timings.prompt_eval = nanoseconds_at(o, "prompt_eval_duration");
  r.timings.generation = nanoseconds_at(o, "eval_duration");
  r.timings.server_total = nanoseconds_at(o, "total_duration");
  return true;
}

}  // namespace

FinishReason map_ollama_done_reason(std::string_view reason) {
  if (reason == "length") return FinishReason::length;
  return FinishReason::stop;  // stop, load, unload
}

std::string encode_ollama_request(const Request& request, const std::string& default_model,
                                  const OllamaSettings& settings, bool stream) {
  const GenerateOptions& o = request.options;
  const std::string& model = request.model.empty() ? default_model : request.model;
  if (model.empty()) {
    throw_error(errc::invalid_argument,
                fmt::format("{}: no model: set Request::model or the provider's default model",
                            settings.name));
  }
  bj::object body;
  body["model"] = model;
  bj::array messages;
  for (std::size_t i = 0; i < request.messages.size(); ++i) {
    messages.push_back(encode_message(request.messages, i));
  }
  body["messages"] = std::move(messages);
  body["stream"] = stream;  // Ollama streams unless told otherwise
  encode_tools(o, settings.name, body);
  switch (o.response_format.kind) {
    case ResponseFormat::Kind::text: break;
    case ResponseFormat::Kind::json_object: body["format"] = "json"; break;
    case ResponseFormat::Kind::json_schema:
      body["format"] = json::parse(o.response_format.schema, "response_format.schema");
      break;
  }
  if (o.reasoning_budget_tokens) {
    body["think"] = true;
  } else if (o.reasoning_effort) {
    body["think"] = *o.reasoning_effort != ReasoningEffort::minimal;
  }
  if (bj::object opts = encode_options(o, settings); !opts.empty()) body["options"] = std::move(opts);
  if (!settings.keep_alive.empty()) body["keep_alive"] = keep_alive_value(settings.keep_alive);
  merge_extra_body(o.extra_body, body);
  return bj::serialize(body);
}

Response decode_ollama_response(std::string_view body, std::string_view provider) {
  bj::object o = parse_object(body, provider, nullptr);
  Response r;
  r.provider = std::string(provider);
  r.raw = std::string(body);
  if (!o.contains("message") || !apply_chat_object(o, r, nullptr)) {
    throw_error(errc::protocol_error,
                fmt::format("{}: response is not a finished chat message", provider),
                ErrorInfo{std::string(provider), {}, {}, std::string(body), {}, {}, {}});
  }
  return r;
}

std::vector<StreamEvent> OllamaStreamAssembler::feed(std::string_view line) {
  std::vector<StreamEvent> out;
  if (done_) return out;
  bj::object o = parse_object(line, response_.provider, &response_);
  if (apply_chat_object(o, response_, &out)) {
    done_ = true;
    out.push_back(UsageEvent{response_.usage});
    out.push_back(Finish{response_.finish_reason});
  }
  return out;
}

void OllamaStreamAssembler::finish() {
  if (done_) return;
  ErrorInfo info;
  info.provider = response_.provider;
  info.partial = std::make_shared<const Response>(response_);
  throw_error(errc::protocol_error,
              fmt::format("{}: the stream ended before a line with done: true", response_.provider),
              std::move(info));
}

std::vector<ModelInfo> decode_ollama_tags(std::string_view body, std::string_view provider) {
  boost::system::error_code ec;
  bj::value v = bj::parse(body, ec);
  const bj::value* list = !ec && v.is_object() ? v.get_object().if_contains("models") : nullptr;
  if (!list || !list->is_array()) {
    throw_error(errc::protocol_error, fmt::format("{}: /api/tags did not return a models array", provider),
                ErrorInfo{std::string(provider), {}, {}, std::string(body.substr(0, 4096)), {}, {}, {}});
  }
  std::vector<ModelInfo> models;
  for (const auto& m : list->get_array()) {
    if (!m.is_object()) continue;
    const bj::object& o = m.get_object();
    ModelInfo info;
    info.id = string_at(o, "model");
    if (info.id.empty()) info.id = string_at(o, "name");
    info.created = parse_rfc3339(string_at(o, "modified_at"));
    info.owned_by = "ollama";
    if (!info.id.empty()) models.push_back(std::move(info));
  }
  return models;
}

std::string ollama_base_url(std::string_view host) {
  std::string scheme = "http";
  if (auto p = host.find("://"); p != std::string_view::npos) {
    scheme = std::string(host.substr(0, p));
    host.remove_prefix(p + 3);
  }
  std::string path;
  if (auto p = host.find('/'); p != std::string_view::npos) {
    path = std::string(host.substr(p));
    host = host.substr(0, p);
    while (!path.empty() && path.back() == '/') path.pop_back();
  }
  std::string name(host), port = scheme == "https" ? "443" : "11434";
  // host:port, [v6]:port, [v6], bare v4/name
  if (!name.empty() && name.front() == '[') {
    auto close = name.find(']');
    if (close != std::string::npos && close + 1 < name.size() && name[close + 1] == ':') {
      port = name.substr(close + 2);
      name = name.substr(0, close + 1);
    }
  } else if (auto colon = name.rfind(':'); colon != std::string::npos) {
    port = name.substr(colon + 1);
    name = name.substr(0, colon);
  }
  if (name.empty() || name == "0.0.0.0") name = "127.0.0.1";
  if (name == "[::]") name = "[::1]";
  if (port.empty()) port = "11434";
  return fmt::format("{}://{}:{}{}", scheme, name, port, path);
}

}  // namespace llmux::providers
