// OpenAI chat-completions wire format: encoding requests, decoding responses and stream chunks.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "core/json_codec.hpp"
#include "providers/http_errors.hpp"
#include "providers/json_fields.hpp"
#include "providers/openai_compat.hpp"

namespace llmux::providers {
namespace {

namespace bj = boost::json;

bj::value parse_json_text(std::string_view text, std::string_view what) {
  return json::parse(text.empty() ? std::string_view("{}") : text, what);
}

bj::value message_content(const Message& m) {
  if (m.content.size() == 1) return bj::value(m.content.front().text);
  bj::array parts;
  for (const auto& part : m.content) parts.push_back({{"type", "text"}, {"text", part.text}});
  return parts;
}

bj::object encode_message(const Message& m) {
  bj::object o;
  o["role"] = to_string(m.role);
  switch (m.role) {
    case Role::tool:
      o["tool_call_id"] = m.tool_call_id;
      o["content"] = m.text();
      break;
    case Role::assistant: {
      if (m.content.empty()) {
        o["content"] = nullptr;
      } else {
        o["content"] = message_content(m);
      }
      if (!m.tool_calls.empty()) {
        bj::array calls;
        for (const auto& c : m.tool_calls) {
          calls.push_back({{"id", c.id},
                           {"type", "function"},
                           {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
        }
        o["tool_calls"] = std::move(calls);
      }
      break;
    }
    default:
      o["content"] = m.content.empty() ? bj::value("") : message_content(m);
  }
  if (!m.name.empty() && m.role != Role::tool) o["name"] = m.name;
  return o;
}

bj::value encode_tool_choice(const ToolChoice& c) {
  switch (c.mode) {
    case ToolChoice::Mode::automatic: return "auto";
    case ToolChoice::Mode::none: return "none";
    case ToolChoice::Mode::required: return "required";
    case ToolChoice::Mode::tool:
      return bj::object{{"type", "function"}, {"function", {{"name", c.name}}}};
  }
  return "auto";
}

using json_fields::object_at;
using json_fields::string_at;

// A count in an optional object: 0 when the object or the member is missing.
std::int64_t int_at(const bj::object* o, std::string_view key) {
  return o ? json_fields::int_at(*o, key).value_or(0) : 0;
}

Usage decode_usage(const bj::object& u) {
  Usage usage;
  usage.input_tokens = int_at(&u, "prompt_tokens");
  usage.output_tokens = int_at(&u, "completion_tokens");
  usage.total_tokens = int_at(&u, "total_tokens");
  if (usage.total_tokens == 0) usage.total_tokens = usage.input_tokens + usage.output_tokens;
  usage.cached_input_tokens = int_at(object_at(u, "prompt_tokens_details"), "cached_tokens");
  usage.reasoning_tokens = int_at(object_at(u, "completion_tokens_details"), "reasoning_tokens");
  return usage;
}

// The reasoning text of a message or delta: `reasoning_content` (DeepSeek, vLLM, llama.cpp) or
// `reasoning` (OpenRouter, LM Studio).
std::string reasoning_of(const bj::object& o) {
  std::string r = string_at(o, "reasoning_content");
  return r.empty() ? string_at(o, "reasoning") : r;
}

[[noreturn]] void throw_error_object(const bj::value& error, std::string_view provider,
                                     const Response* partial) {
  ErrorBody e = parse_error_body(bj::serialize(bj::object{{"error", error}}));
  ErrorInfo info;
  info.provider = std::string(provider);
  info.body = bj::serialize(error);
  if (partial) info.partial = std::make_shared<const Response>(*partial);
  int status = 0;
  if (error.is_object()) {
    if (auto* c = error.get_object().if_contains("code"); c && c->is_int64()) {
      status = static_cast<int>(c->get_int64());
    }
  }
  throw_error(errc_for_error_body(e, status),
              fmt::format("{}: error in response: {}", provider,
                          e.message.empty() ? info.body : e.message),
              std::move(info));
}

bj::object parse_object(std::string_view body, std::string_view provider, const Response* partial) {
  boost::system::error_code ec;
  bj::value v = bj::parse(body, ec);
  if (ec || !v.is_object()) {
    ErrorInfo info;
    info.provider = std::string(provider);
    info.body = std::string(body.substr(0, 4096));
    if (partial) info.partial = std::make_shared<const Response>(*partial);
    throw_error(errc::protocol_error,
                fmt::format("{}: response is not a JSON object: {}", provider,
                            ec ? ec.message() : "unexpected JSON type"),
                std::move(info));
  }
  if (const bj::value* error = v.get_object().if_contains("error"); error && !error->is_null()) {
    throw_error_object(*error, provider, partial);
  }
  return std::move(v.get_object());
}

}  // namespace

FinishReason map_finish_reason(std::string_view reason) {
  if (reason == "length") return FinishReason::length;
  if (reason == "tool_calls" || reason == "function_call") return FinishReason::tool_calls;
  if (reason == "content_filter") return FinishReason::content_filter;
  if (reason == "error") return FinishReason::error;
  return FinishReason::stop;
}

std::string encode_chat_request(const Request& request, const std::string& default_model,
                                const OpenAIDialect& dialect, bool stream) {
  const GenerateOptions& o = request.options;
  bj::object body;
  const std::string& model = request.model.empty() ? default_model : request.model;
  if (model.empty()) {
    throw_error(errc::invalid_argument,
                fmt::format("{}: no model: set Request::model or the provider's default model",
                            dialect.name));
  }
  body["model"] = model;
  bj::array messages;
  for (const auto& m : request.messages) messages.push_back(encode_message(m));
  body["messages"] = std::move(messages);
  if (stream) {
    body["stream"] = true;
    if (dialect.include_usage) body["stream_options"] = {{"include_usage", true}};
  }
  if (o.temperature) body["temperature"] = *o.temperature;
  if (o.top_p) body["top_p"] = *o.top_p;
  if ((o.top_k || o.min_p) && !dialect.sampling_extensions) {
    throw_error(errc::invalid_argument,
                fmt::format("{} does not accept {}", dialect.name, o.top_k ? "top_k" : "min_p"));
  }
  if (o.top_k) body["top_k"] = *o.top_k;
  if (o.min_p) body["min_p"] = *o.min_p;
  if (o.max_output_tokens) {
    body[dialect.max_completion_tokens ? "max_completion_tokens" : "max_tokens"] = *o.max_output_tokens;
  }
  if (!o.stop.empty()) {
    bj::array stop;
    for (const auto& s : o.stop) stop.push_back(bj::value(s));
    body["stop"] = std::move(stop);
  }
  if (o.seed) body["seed"] = *o.seed;
  if (o.presence_penalty) body["presence_penalty"] = *o.presence_penalty;
  if (o.frequency_penalty) body["frequency_penalty"] = *o.frequency_penalty;
  switch (o.response_format.kind) {
    case ResponseFormat::Kind::text: break;
    case ResponseFormat::Kind::json_object: body["response_format"] = {{"type", "json_object"}}; break;
    case ResponseFormat::Kind::json_schema:
      body["response_format"] = {
          {"type", "json_schema"},
          {"json_schema",
           {{"name", o.response_format.name},
            {"schema", parse_json_text(o.response_format.schema, "response_format.schema")},
            {"strict", o.response_format.strict}}}};
      break;
  }
  if (!o.tools.empty()) {
    bj::array tools;
    for (const auto& t : o.tools) {
      bj::object fn{{"name", t.name}, {"parameters", parse_json_text(t.parameters, "tool parameters")}};
      if (!t.description.empty()) fn["description"] = t.description;
      tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
    }
    body["tools"] = std::move(tools);
  }
  if (o.tool_choice) body["tool_choice"] = encode_tool_choice(*o.tool_choice);
  if (o.reasoning_effort) {
    if (dialect.reasoning_object) {
      body["reasoning"] = {{"effort", to_string(*o.reasoning_effort)}};
    } else {
      body["reasoning_effort"] = to_string(*o.reasoning_effort);
    }
  }
  if (!o.extra_body.empty()) {
    bj::value extra = json::parse(o.extra_body, "extra_body");
    if (!extra.is_object()) throw_error(errc::invalid_argument, "extra_body must be a JSON object");
    for (auto& [k, v] : extra.get_object()) body[k] = v;
  }
  return bj::serialize(body);
}

Response decode_chat_response(std::string_view body, const OpenAIDialect& dialect) {
  bj::object o = parse_object(body, dialect.name, nullptr);
  Response r;
  r.provider = dialect.name;
  r.model = string_at(o, "model");
  r.raw = std::string(body);
  const bj::value* choices = o.if_contains("choices");
  if (!choices || !choices->is_array() || choices->get_array().empty() ||
      !choices->get_array()[0].is_object()) {
    throw_error(errc::protocol_error, fmt::format("{}: response has no choices", dialect.name),
                ErrorInfo{dialect.name, {}, {}, std::string(body), {}, {}, {}});
  }
  const bj::object& choice = choices->get_array()[0].get_object();
  if (const bj::object* msg = object_at(choice, "message")) {
    r.content = string_at(*msg, "content");
    r.reasoning = reasoning_of(*msg);
    if (const bj::value* calls = msg->if_contains("tool_calls"); calls && calls->is_array()) {
      for (const auto& c : calls->get_array()) {
        if (!c.is_object()) continue;
        ToolCall call;
        call.id = string_at(c.get_object(), "id");
        if (const bj::object* fn = object_at(c.get_object(), "function")) {
          call.name = string_at(*fn, "name");
          call.arguments = string_at(*fn, "arguments");
        }
        if (call.id.empty()) call.id = fmt::format("call_{}", r.tool_calls.size());
        if (call.arguments.empty()) call.arguments = "{}";
        r.tool_calls.push_back(std::move(call));
      }
    }
  }
  r.finish_reason = map_finish_reason(string_at(choice, "finish_reason"));
  if (!r.tool_calls.empty() && r.finish_reason == FinishReason::stop) {
    r.finish_reason = FinishReason::tool_calls;
  }
  if (const bj::object* u = object_at(o, "usage")) r.usage = decode_usage(*u);
  return r;
}

void OpenAIStreamAssembler::apply_tool_call_delta(const void* delta_object,
                                                  std::vector<StreamEvent>& out) {
  const bj::object& d = *static_cast<const bj::object*>(delta_object);
  const std::string id = string_at(d, "id");
  std::optional<std::size_t> index;
  if (const bj::value* i = d.if_contains("index"); i && i->is_int64() && i->get_int64() >= 0 &&
                                                    i->get_int64() < 1024) {
    index = static_cast<std::size_t>(i->get_int64());
  }
  if (!index) {
    // No index: a new id starts a new call, otherwise the delta continues the last one.
    if (calls_.empty() || (!id.empty() && id != calls_.back().id)) {
      index = calls_.size();
    } else {
      index = calls_.size() - 1;
    }
  }
  if (*index >= calls_.size()) calls_.resize(*index + 1);
  PendingCall& call = calls_[*index];
  ToolCallDelta event{*index, {}, {}, {}};
  if (!id.empty() && call.id.empty()) call.id = event.id = id;
  if (const bj::object* fn = object_at(d, "function")) {
    std::string name = string_at(*fn, "name");
    if (!name.empty() && call.name.empty()) call.name = event.name = name;
    event.arguments = string_at(*fn, "arguments");
    call.arguments += event.arguments;
  }
  started_ = true;
  out.push_back(std::move(event));
}

std::vector<StreamEvent> OpenAIStreamAssembler::feed(std::string_view data) {
  std::vector<StreamEvent> out;
  if (done_) return out;
  if (data == "[DONE]") {
    done_ = true;
    return finish();
  }
  bj::object chunk = parse_object(data, response_.provider, &response_);
  if (std::string model = string_at(chunk, "model"); !model.empty()) response_.model = model;
  if (const bj::value* choices = chunk.if_contains("choices"); choices && choices->is_array()) {
    for (const auto& c : choices->get_array()) {
      if (!c.is_object()) continue;
      const bj::object& choice = c.get_object();
      if (int_at(&choice, "index") != 0) continue;  // n > 1 is not requested
      if (const bj::object* delta = object_at(choice, "delta")) {
        if (std::string text = string_at(*delta, "content"); !text.empty()) {
          started_ = true;
          response_.content += text;
          out.push_back(TextDelta{std::move(text)});
        }
        if (std::string reasoning = reasoning_of(*delta); !reasoning.empty()) {
          started_ = true;
          response_.reasoning += reasoning;
          out.push_back(ReasoningDelta{std::move(reasoning)});
        }
        if (const bj::value* calls = delta->if_contains("tool_calls"); calls && calls->is_array()) {
          for (const auto& call : calls->get_array()) {
            if (call.is_object()) apply_tool_call_delta(&call.get_object(), out);
          }
        }
      }
      if (std::string reason = string_at(choice, "finish_reason"); !reason.empty()) {
        finish_ = map_finish_reason(reason);
      }
    }
  }
  if (const bj::object* u = object_at(chunk, "usage")) {
    response_.usage = decode_usage(*u);
    usage_seen_ = true;
  }
  return out;
}

std::vector<StreamEvent> OpenAIStreamAssembler::finish() {
  done_ = true;
  std::vector<StreamEvent> out;
  if (!finish_) {
    ErrorInfo info;
    info.provider = response_.provider;
    info.partial = std::make_shared<const Response>(response_);
    throw_error(errc::protocol_error,
                fmt::format("{}: the stream ended without a finish reason", response_.provider),
                std::move(info));
  }
  for (std::size_t i = 0; i < calls_.size(); ++i) {
    PendingCall& c = calls_[i];
    if (c.name.empty() && c.id.empty() && c.arguments.empty()) continue;  // an unused index
    ToolCall call{c.id.empty() ? fmt::format("call_{}", i) : c.id, c.name,
                  c.arguments.empty() ? "{}" : c.arguments};
    response_.tool_calls.push_back(call);
    out.push_back(ToolCallDone{i, std::move(call)});
  }
  calls_.clear();
  response_.finish_reason = *finish_;
  if (!response_.tool_calls.empty() && response_.finish_reason == FinishReason::stop) {
    response_.finish_reason = FinishReason::tool_calls;
  }
  if (usage_seen_) out.push_back(UsageEvent{response_.usage});
  out.push_back(Finish{response_.finish_reason});
  return out;
}

}  // namespace llmux::providers
