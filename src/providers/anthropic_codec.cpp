// Anthropic Messages API wire format: encoding requests, decoding messages and stream events.
#include <cctype>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "core/json_codec.hpp"
#include "providers/anthropic.hpp"
#include "providers/http_errors.hpp"
#include "providers/json_fields.hpp"
#include "providers/tool_calls.hpp"

namespace llmux::providers {
namespace {

namespace bj = boost::json;

using json_fields::int_at;
using json_fields::object_at;
using json_fields::string_at;

void add_cache_control(bj::object& block, const std::optional<CacheControl>& cache) {
  if (!cache) return;
  bj::object cc{{"type", "ephemeral"}};
  if (!cache->ttl.empty()) cc["ttl"] = cache->ttl;
  block["cache_control"] = std::move(cc);
}

bj::array text_blocks(const Message& m) {
  bj::array blocks;
  for (const auto& part : m.content) {
    if (part.text.empty() && !part.cache_control) continue;  // the API rejects empty text blocks
    bj::object block{{"type", "text"}, {"text", part.text}};
    add_cache_control(block, part.cache_control);
    blocks.push_back(std::move(block));
  }
  return blocks;
}

bj::array assistant_blocks(const Message& m) {
  bj::array blocks;
  // Thinking goes back only with its signature: the API verifies it and rejects unsigned blocks.
  if (!m.reasoning.empty() && !m.reasoning_signature.empty()) {
    blocks.push_back({{"type", "thinking"},
                      {"thinking", m.reasoning},
                      {"signature", m.reasoning_signature}});
  }
  for (auto& b : text_blocks(m)) blocks.push_back(std::move(b));
  for (const auto& call : m.tool_calls) {
    blocks.push_back({{"type", "tool_use"},
                      {"id", call.id.empty() ? synthesize_tool_call_id() : call.id},
                      {"name", call.name},
                      {"input", arguments_object(call)}});
  }
  return blocks;
}

bj::object tool_result_block(const Message& m) {
  if (m.tool_call_id.empty()) {
    throw_error(errc::invalid_argument, "anthropic: a tool result message needs a tool_call_id");
  }
  bj::object block{{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", m.text()}};
  for (const auto& part : m.content) add_cache_control(block, part.cache_control);
  return block;
}

// The `messages` array: one turn per message, consecutive turns of a role merged, and a turn of
// a single plain text block written as a string.
bj::array encode_messages(const std::vector<Message>& messages) {
  bj::array out;
  for (const Message& m : messages) {
    std::string role;
    bj::array blocks;
    switch (m.role) {
      case Role::system: continue;  // top-level `system`
      case Role::user: role = "user"; blocks = text_blocks(m); break;
      case Role::tool: role = "user"; blocks.push_back(tool_result_block(m)); break;
      case Role::assistant: role = "assistant"; blocks = assistant_blocks(m); break;
    }
    if (blocks.empty()) continue;
    if (!out.empty() && out.back().at("role").as_string() == role) {
      bj::array& prev = out.back().at("content").as_array();
      for (auto& b : blocks) prev.push_back(std::move(b));
    } else {
      out.push_back({{"role", role}, {"content", std::move(blocks)}});
    }
  }
  for (auto& turn : out) {
    bj::array& blocks = turn.at("content").as_array();
    if (blocks.size() == 1 && blocks[0].at("type") == "text" &&
        !blocks[0].as_object().contains("cache_control")) {
      bj::value text = blocks[0].at("text");
      turn.as_object()["content"] = std::move(text);
    }
  }
  return out;
}

bj::value encode_system(const std::vector<Message>& messages) {
  bj::array blocks;
  for (const Message& m : messages) {
    if (m.role != Role::system) continue;
    for (auto& b : text_blocks(m)) blocks.push_back(std::move(b));
  }
  if (blocks.size() == 1 && !blocks[0].as_object().contains("cache_control")) {
    return blocks[0].at("text");
  }
  return blocks;
}

bj::object encode_tool_choice(const ToolChoice& c) {
  switch (c.mode) {
    case ToolChoice::Mode::automatic: return {{"type", "auto"}};
    case ToolChoice::Mode::none: return {{"type", "none"}};
    case ToolChoice::Mode::required: return {{"type", "any"}};
    case ToolChoice::Mode::tool: return {{"type", "tool"}, {"name", c.name}};
  }
  return {{"type", "auto"}};
}

void reject_unsupported(const GenerateOptions& o, const std::string& provider) {
  const char* field = o.seed                ? "seed"
                      : o.min_p             ? "min_p"
                      : o.presence_penalty  ? "presence_penalty"
                      : o.frequency_penalty ? "frequency_penalty"
                                            : nullptr;
  if (field) throw_error(errc::invalid_argument, fmt::format("{} does not accept {}", provider, field));
}

bool valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// The synthetic tool of a structured-output request and the tool_choice forcing it.
void encode_output_tool(const GenerateOptions& o, const std::string& provider, bj::object& body) {
  const std::string name = anthropic_output_tool(o);
  if (name.empty()) return;
  if (anthropic_thinking_budget(o)) {
    throw_error(errc::invalid_argument,
                fmt::format("{}: structured output (a forced tool) cannot be combined with extended "
                            "thinking", provider));
  }
  for (const auto& t : o.tools) {
    if (t.name == name) {
      throw_error(errc::invalid_argument,
                  fmt::format("{}: a request tool is named '{}', the name of the structured-output "
                              "tool: rename the tool or the response format", provider, name));
    }
  }
  bj::value schema = bj::object{{"type", "object"}};
  if (o.response_format.kind == ResponseFormat::Kind::json_schema) {
    schema = json::parse(o.response_format.schema, "response_format.schema");
    const bj::value* type = schema.is_object() ? schema.get_object().if_contains("type") : nullptr;
    if (!schema.is_object() || (type && *type != "object")) {
      throw_error(errc::invalid_argument,
                  fmt::format("{}: structured output needs a schema whose root is an object (it "
                              "becomes a tool's input_schema)", provider));
    }
  }
  bj::array& tools = body["tools"].is_array() ? body["tools"].get_array()
                                               : body["tools"].emplace_array();
  tools.push_back({{"name", name},
                   {"description", "Give your final answer by calling this tool: its input is the "
                                   "answer, as JSON matching the input schema."},
                   {"input_schema", std::move(schema)}});
  if (o.tools.empty()) {
    body["tool_choice"] = {{"type", "tool"}, {"name", name}};
  } else if (!o.tool_choice || o.tool_choice->mode == ToolChoice::Mode::automatic) {
    body["tool_choice"] = {{"type", "any"}};  // a request tool, or the answer
  }
}

void encode_tools(const GenerateOptions& o, bj::object& body) {
  if (!o.tools.empty()) {
    bj::array tools;
    for (const auto& t : o.tools) {
      bj::object tool{{"name", t.name},
                      {"input_schema", json::parse(t.parameters.empty() ? "{}" : t.parameters,
                                                   "tool parameters")}};
      if (!t.description.empty()) tool["description"] = t.description;
      add_cache_control(tool, t.cache_control);
      tools.push_back(std::move(tool));
    }
    body["tools"] = std::move(tools);
  }
  if (o.tool_choice) body["tool_choice"] = encode_tool_choice(*o.tool_choice);
}

[[noreturn]] void throw_error_body(const bj::value& whole, std::string_view provider,
                                   const Response* partial) {
  std::string text = bj::serialize(whole);
  ErrorBody e = parse_error_body(text);
  ErrorInfo info;
  info.provider = std::string(provider);
  info.body = std::move(text);
  if (partial) info.partial = std::make_shared<const Response>(*partial);
  throw_error(errc_for_error_body(e, 0),
              fmt::format("{}: error{}: {}", provider, e.type.empty() ? "" : " " + e.type,
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
                fmt::format("{}: not a JSON object: {}", provider,
                            ec ? ec.message() : "unexpected JSON type"),
                std::move(info));
  }
  const bj::object& o = v.get_object();
  if (string_at(o, "type") == "error" || object_at(o, "error")) throw_error_body(v, provider, partial);
  return std::move(v.get_object());
}

}  // namespace

void AnthropicUsage::apply(const bj::object& u) {
  if (auto v = int_at(u, "input_tokens")) input = *v;
  if (auto v = int_at(u, "cache_read_input_tokens")) cache_read = *v;
  if (auto v = int_at(u, "cache_creation_input_tokens")) cache_creation = *v;
  if (auto v = int_at(u, "output_tokens")) output = *v;
}

Usage AnthropicUsage::usage() const {
  Usage out;
  out.input_tokens = input + cache_read + cache_creation;
  out.output_tokens = output;
  out.total_tokens = out.input_tokens + output;
  out.cached_input_tokens = cache_read;
  out.cache_creation_input_tokens = cache_creation;
  return out;
}

std::string anthropic_output_tool(const GenerateOptions& o) {
  if (o.response_format.kind == ResponseFormat::Kind::text) return {};
  return valid_tool_name(o.response_format.name) ? o.response_format.name : "structured_output";
}

std::optional<std::int64_t> anthropic_thinking_budget(const GenerateOptions& o) {
  if (o.reasoning_budget_tokens) return *o.reasoning_budget_tokens;
  if (!o.reasoning_effort) return std::nullopt;
  switch (*o.reasoning_effort) {
    case ReasoningEffort::minimal: return std::nullopt;
    case ReasoningEffort::low: return 1024;
    case ReasoningEffort::medium: return 4096;
    case ReasoningEffort::high: return 16384;
  }
  return std::nullopt;
}

FinishReason map_anthropic_stop_reason(std::string_view reason) {
  if (reason == "max_tokens" || reason == "model_context_window_exceeded") return FinishReason::length;
  if (reason == "tool_use") return FinishReason::tool_calls;
  if (reason == "refusal") return FinishReason::content_filter;
  return FinishReason::stop;  // end_turn, stop_sequence, pause_turn
}

std::string encode_anthropic_request(const Request& request, const std::string& default_model,
                                     const AnthropicSettings& settings, bool stream) {
  const GenerateOptions& o = request.options;
  const std::string& model = request.model.empty() ? default_model : request.model;
  if (model.empty()) {
    throw_error(errc::invalid_argument,
                fmt::format("{}: no model: set Request::model or the provider's default model",
                            settings.name));
  }
  reject_unsupported(o, settings.name);
  bj::object body;
  body["model"] = model;
  const auto budget = anthropic_thinking_budget(o);
  std::int64_t max_tokens = settings.default_max_tokens;
  if (o.max_output_tokens) {
    max_tokens = *o.max_output_tokens;
  } else if (budget && *budget >= max_tokens) {
    max_tokens = *budget + settings.default_max_tokens;  // the budget counts against max_tokens
  }
  body["max_tokens"] = max_tokens;
  bj::value system = encode_system(request.messages);
  if (!(system.is_array() && system.get_array().empty())) body["system"] = std::move(system);
  body["messages"] = encode_messages(request.messages);
  if (stream) body["stream"] = true;
  if (o.temperature) body["temperature"] = *o.temperature;
  if (o.top_p) body["top_p"] = *o.top_p;
  if (o.top_k) body["top_k"] = *o.top_k;
  if (!o.stop.empty()) {
    bj::array stop;
    for (const auto& s : o.stop) stop.push_back(bj::value(s));
    body["stop_sequences"] = std::move(stop);
  }
  encode_tools(o, body);
  encode_output_tool(o, settings.name, body);
  if (budget) body["thinking"] = {{"type", "enabled"}, {"budget_tokens", *budget}};
  if (!o.extra_body.empty()) {
    bj::value extra = json::parse(o.extra_body, "extra_body");
    if (!extra.is_object()) throw_error(errc::invalid_argument, "extra_body must be a JSON object");
    for (auto& [k, v] : extra.get_object()) body[k] = v;
  }
  return bj::serialize(body);
}

Response decode_anthropic_response(std::string_view body, std::string_view provider,
                                   std::string_view output_tool) {
  bj::object o = parse_object(body, provider, nullptr);
  Response r;
  r.provider = std::string(provider);
  r.model = string_at(o, "model");
  r.raw = std::string(body);
  const bj::value* content = o.if_contains("content");
  if (!content || !content->is_array()) {
    throw_error(errc::protocol_error, fmt::format("{}: response has no content array", provider),
                ErrorInfo{std::string(provider), {}, {}, std::string(body), {}, {}, {}});
  }
  for (const auto& b : content->get_array()) {
    if (!b.is_object()) continue;
    const bj::object& block = b.get_object();
    const std::string type = string_at(block, "type");
    if (type == "text") {
      r.content += string_at(block, "text");
    } else if (type == "thinking") {
      r.reasoning += string_at(block, "thinking");
      r.reasoning_signature = string_at(block, "signature");
    } else if (type == "tool_use" && !output_tool.empty() && string_at(block, "name") == output_tool) {
      const bj::value* input = block.if_contains("input");
      r.content += input ? bj::serialize(*input) : std::string("{}");
    } else if (type == "tool_use") {
      ToolCall call{string_at(block, "id"), string_at(block, "name"), "{}"};
      if (const bj::value* input = block.if_contains("input"); input && !input->is_null()) {
        call.arguments = bj::serialize(*input);
      }
      if (call.id.empty()) call.id = synthesize_tool_call_id();
      r.tool_calls.push_back(std::move(call));
    }
  }
  r.finish_reason = map_anthropic_stop_reason(string_at(o, "stop_reason"));
  if (r.finish_reason == FinishReason::tool_calls && r.tool_calls.empty()) {
    r.finish_reason = FinishReason::stop;  // only the structured-output tool was called
  }
  if (const bj::object* u = object_at(o, "usage")) {
    AnthropicUsage raw;
    raw.apply(*u);
    r.usage = raw.usage();
  }
  return r;
}

// ---- Streaming -----------------------------------------------------------------------------

void AnthropicStreamAssembler::apply_usage(const bj::object& u) {
  usage_.apply(u);
  response_.usage = usage_.usage();
}

void AnthropicStreamAssembler::fail(const std::string& what) const {
  ErrorInfo info;
  info.provider = response_.provider;
  info.partial = std::make_shared<const Response>(response_);
  throw_error(errc::protocol_error, fmt::format("{}: {}", response_.provider, what), std::move(info));
}

AnthropicStreamAssembler::Block& AnthropicStreamAssembler::block_at(const void* event) {
  const bj::object& e = *static_cast<const bj::object*>(event);
  auto index = int_at(e, "index");
  if (!index || *index < 0 || *index >= 4096) fail("stream event without a valid block index");
  if (static_cast<std::size_t>(*index) >= blocks_.size()) blocks_.resize(*index + 1);
  return blocks_[*index];
}

std::vector<StreamEvent> AnthropicStreamAssembler::on_block_start(const void* event) {
  std::vector<StreamEvent> out;
  Block& block = block_at(event);
  const bj::object* cb = object_at(*static_cast<const bj::object*>(event), "content_block");
  if (!cb) fail("content_block_start without a content_block");
  block = Block{string_at(*cb, "type"), 0, {}, {}, {}, true};
  if (block.type == "text") {
    if (std::string text = string_at(*cb, "text"); !text.empty()) {
      response_.content += text;
      out.push_back(TextDelta{std::move(text)});
    }
  } else if (block.type == "thinking") {
    if (std::string text = string_at(*cb, "thinking"); !text.empty()) {
      response_.reasoning += text;
      out.push_back(ReasoningDelta{std::move(text)});
    }
  } else if (block.type == "tool_use" && !output_tool_.empty() &&
             string_at(*cb, "name") == output_tool_) {
    block.type = "output";  // the structured-output tool: its input is the content
    if (const bj::object* input = object_at(*cb, "input"); input && !input->empty()) {
      std::string text = bj::serialize(*input);
      response_.content += text;
      out.push_back(TextDelta{std::move(text)});
    }
  } else if (block.type == "tool_use") {
    block.call_index = calls_++;
    block.id = string_at(*cb, "id");
    if (block.id.empty()) block.id = synthesize_tool_call_id();
    block.name = string_at(*cb, "name");
    // A non-empty `input` at the start is the whole input (no deltas follow then).
    if (const bj::object* input = object_at(*cb, "input"); input && !input->empty()) {
      block.json = bj::serialize(*input);
    }
    out.push_back(ToolCallDelta{block.call_index, block.id, block.name, block.json});
  }
  return out;
}

std::vector<StreamEvent> AnthropicStreamAssembler::on_block_delta(const void* event) {
  std::vector<StreamEvent> out;
  Block& block = block_at(event);
  if (!block.open) fail("content_block_delta for a block that is not open");
  const bj::object* delta = object_at(*static_cast<const bj::object*>(event), "delta");
  if (!delta) fail("content_block_delta without a delta");
  const std::string type = string_at(*delta, "type");
  if (type == "text_delta") {
    std::string text = string_at(*delta, "text");
    response_.content += text;
    if (!text.empty()) out.push_back(TextDelta{std::move(text)});
  } else if (type == "thinking_delta") {
    std::string text = string_at(*delta, "thinking");
    response_.reasoning += text;
    if (!text.empty()) out.push_back(ReasoningDelta{std::move(text)});
  } else if (type == "signature_delta") {
    response_.reasoning_signature += string_at(*delta, "signature");
  } else if (type == "input_json_delta" && block.type == "output") {
    std::string piece = string_at(*delta, "partial_json");
    response_.content += piece;
    if (!piece.empty()) out.push_back(TextDelta{std::move(piece)});
  } else if (type == "input_json_delta") {
    if (block.type != "tool_use") fail("input_json_delta outside a tool_use block");
    std::string piece = string_at(*delta, "partial_json");
    block.json += piece;
    if (!piece.empty()) out.push_back(ToolCallDelta{block.call_index, {}, {}, std::move(piece)});
  }
  return out;
}

std::vector<StreamEvent> AnthropicStreamAssembler::on_block_stop(const void* event) {
  std::vector<StreamEvent> out;
  Block& block = block_at(event);
  if (!block.open) fail("content_block_stop for a block that is not open");
  block.open = false;
  if (block.type != "tool_use") return out;
  ToolCall call{block.id, block.name, "{}"};
  if (block.json.find_first_not_of(" \t\r\n") != std::string::npos) {
    boost::system::error_code ec;
    bj::value input = bj::parse(block.json, ec);
    if (ec || !input.is_object()) {
      fail(fmt::format("the input of tool call {} is not a JSON object: {}", block.id,
                       block.json.substr(0, 200)));
    }
    call.arguments = bj::serialize(input);  // the same text a non-streaming response gives
  }
  response_.tool_calls.push_back(call);
  out.push_back(ToolCallDone{block.call_index, std::move(call)});
  return out;
}

std::vector<StreamEvent> AnthropicStreamAssembler::feed(std::string_view event_type,
                                                        std::string_view data) {
  std::vector<StreamEvent> out;
  if (done_) return out;
  bj::object e = parse_object(data, response_.provider, &response_);
  std::string type = string_at(e, "type");
  if (type.empty()) type = std::string(event_type);
  if (type == "message_start") {
    const bj::object* message = object_at(e, "message");
    if (!message) fail("message_start without a message");
    response_.model = string_at(*message, "model");
    if (const bj::object* u = object_at(*message, "usage")) apply_usage(*u);
    started_ = true;
  } else if (!started_ && type != "ping") {
    if (type.starts_with("content_block") || type.starts_with("message_")) {
      fail(fmt::format("{} before message_start", type));
    }
  } else if (type == "content_block_start") {
    out = on_block_start(&e);
  } else if (type == "content_block_delta") {
    out = on_block_delta(&e);
  } else if (type == "content_block_stop") {
    out = on_block_stop(&e);
  } else if (type == "message_delta") {
    if (const bj::object* delta = object_at(e, "delta")) {
      if (std::string reason = string_at(*delta, "stop_reason"); !reason.empty()) {
        stop_reason_ = reason;
      }
    }
    if (const bj::object* u = object_at(e, "usage")) apply_usage(*u);  // cumulative
  } else if (type == "message_stop") {
    done_ = true;
    response_.finish_reason = map_anthropic_stop_reason(stop_reason_);
    if (response_.finish_reason == FinishReason::tool_calls && calls_ == 0) {
      response_.finish_reason = FinishReason::stop;  // only the structured-output tool was called
    }
    out.push_back(UsageEvent{response_.usage});
    out.push_back(Finish{response_.finish_reason});
  }
  return out;  // ping and unknown event types are ignored
}

void AnthropicStreamAssembler::finish() {
  if (!done_) fail("the stream ended before message_stop");
}

}  // namespace llmux::providers
