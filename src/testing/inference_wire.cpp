#include "testing/inference_wire.hpp"

#include <algorithm>
#include <array>
#include <ctime>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

namespace llmux::testing {
namespace {

namespace bj = boost::json;
using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr std::array<std::string_view, 16> kWords = {
    "the",   "model", "answers", "with",  "simulated", "tokens", "at",     "a",
    "steady", "rate", "while",   "other", "requests",  "wait",   "in",     "line"};

std::string quoted(std::string_view text) { return bj::serialize(bj::string_view(text)); }

// The byte length of the text in a message's content: a string, or an array of parts with
// "text" members (OpenAI's content parts).
std::size_t content_bytes(const bj::value& content) {
  if (content.is_string()) return content.get_string().size();
  std::size_t n = 0;
  if (content.is_array()) {
    for (const auto& part : content.get_array()) {
      if (!part.is_object()) continue;
      if (auto* t = part.get_object().if_contains("text"); t && t->is_string()) {
        n += t->get_string().size();
      }
    }
  }
  return n;
}

// Reads an integer member; false (with `error`) when present but not an integer.
bool read_int(const bj::object& o, std::string_view key, std::optional<std::int64_t>& out,
              std::string& error) {
  const bj::value* v = o.if_contains(key);
  if (!v || v->is_null()) return true;
  if (v->is_int64()) {
    out = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= INT64_MAX) {
    out = static_cast<std::int64_t>(v->get_uint64());
  } else {
    error = fmt::format("'{}' must be an integer", key);
    return false;
  }
  return true;
}

bool read_bool(const bj::object& o, std::string_view key, bool& out, std::string& error) {
  const bj::value* v = o.if_contains(key);
  if (!v || v->is_null()) return true;
  if (!v->is_bool()) {
    error = fmt::format("'{}' must be a boolean", key);
    return false;
  }
  out = v->get_bool();
  return true;
}

bool read_limits(ChatProtocol protocol, const bj::object& o, ChatCall& call, std::string& error) {
  if (protocol == ChatProtocol::ollama) {
    const bj::value* options = o.if_contains("options");
    if (!options || options->is_null()) return true;
    if (!options->is_object()) {
      error = "'options' must be an object";
      return false;
    }
    std::optional<std::int64_t> n;
    if (!read_int(options->get_object(), "num_predict", n, error)) return false;
    if (n && *n > 0) call.max_tokens = n;  // -1 (infinite) and -2 (fill context): no limit
    return true;
  }
  std::optional<std::int64_t> n;
  if (!read_int(o, "max_completion_tokens", n, error)) return false;
  if (!n && !read_int(o, "max_tokens", n, error)) return false;
  if (n && *n < 1) {
    error = "max_tokens must be at least 1";
    return false;
  }
  call.max_tokens = n;
  const bj::value* so = o.if_contains("stream_options");
  if (so && so->is_object() && !read_bool(so->get_object(), "include_usage", call.include_usage, error)) {
    return false;
  }
  return true;
}

std::string ollama_time(std::chrono::system_clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns % 1'000'000'000);
}

std::int64_t round_ms(microseconds t) { return (t.count() + 500) / 1000; }

// A chunked response whose pieces are due at the given times (relative to the start). Pieces due
// in the same millisecond share one write; the head goes out with the first piece.
Transcript timed_chunked(std::string head, const std::vector<std::pair<microseconds, std::string>>& pieces) {
  Transcript t;
  std::string pending = std::move(head);
  std::int64_t written_at = 0;  // ms of the previous step
  std::int64_t due = pieces.empty() ? 0 : round_ms(pieces.front().first);
  auto flush = [&] {
    t.steps.push_back({Step::Action::write, milliseconds(due - written_at), std::move(pending)});
    pending.clear();
    written_at = due;
  };
  for (const auto& [at, piece] : pieces) {
    const std::int64_t ms = std::max(round_ms(at), written_at);
    if (ms != due && !pending.empty()) flush();
    due = ms;
    pending += fmt::format("{:x}\r\n{}\r\n", piece.size(), piece);
  }
  pending += "0\r\n\r\n";
  flush();
  return t;
}

std::string head(int status, std::string_view content_type, std::string_view extra = {}) {
  return fmt::format("{}Content-Type: {}\r\n{}", status_line(status), content_type, extra);
}

std::int64_t ns(microseconds t) { return t.count() * 1000; }

std::string openai_chunk(const Generation& g, const std::string& model, std::string_view delta,
                         std::string_view finish) {
  return fmt::format(
      "data: {{\"id\":\"{}\",\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},"
      "\"choices\":[{{\"index\":0,\"delta\":{},\"finish_reason\":{}}}]}}\n\n",
      g.id, g.created, model, delta, finish);
}

std::string openai_usage(std::int64_t prompt, std::int64_t completion) {
  return fmt::format("{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{}}}", prompt,
                     completion, prompt + completion);
}

Transcript render_openai(const ChatCall& call, const Generation& g, std::int64_t prompt) {
  const std::string model = quoted(g.model);
  const std::string finish = g.truncated ? "\"length\"" : "\"stop\"";
  const auto n = static_cast<std::int64_t>(g.tokens.size());
  if (!call.stream) {
    std::string text;
    for (const auto& tok : g.tokens) text += tok;
    std::string body = fmt::format(
        "{{\"id\":\"{}\",\"object\":\"chat.completion\",\"created\":{},\"model\":{},\"choices\":[{{"
        "\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":{}}},\"logprobs\":null,"
        "\"finish_reason\":{}}}],\"usage\":{}}}",
        g.id, g.created, model, quoted(text), finish, openai_usage(prompt, n));
    auto delay = round_ms(token_time(g, g.tokens.empty() ? 0 : g.tokens.size() - 1));
    return Transcript::response(200, std::move(body)).delayed(milliseconds(delay));
  }
  std::vector<std::pair<microseconds, std::string>> pieces;
  for (std::size_t i = 0; i < g.tokens.size(); ++i) {
    std::string delta = i == 0 ? fmt::format("{{\"role\":\"assistant\",\"content\":{}}}", quoted(g.tokens[i]))
                               : fmt::format("{{\"content\":{}}}", quoted(g.tokens[i]));
    pieces.emplace_back(token_time(g, i), openai_chunk(g, model, delta, "null"));
  }
  if (g.tokens.empty()) {
    pieces.emplace_back(g.ttft, openai_chunk(g, model, "{\"role\":\"assistant\",\"content\":\"\"}", "null"));
  }
  const microseconds end = pieces.back().first;
  std::string tail = openai_chunk(g, model, "{}", finish);
  if (call.include_usage) {
    tail += fmt::format(
        "data: {{\"id\":\"{}\",\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},"
        "\"choices\":[],\"usage\":{}}}\n\n",
        g.id, g.created, model, openai_usage(prompt, n));
  }
  tail += "data: [DONE]\n\n";
  pieces.emplace_back(end, std::move(tail));
  return timed_chunked(head(200, "text/event-stream",
                            "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"),
                       pieces);
}

Transcript render_ollama(const ChatCall& call, const Generation& g, std::int64_t prompt) {
  const std::string model = quoted(g.model);
  const auto n = static_cast<std::int64_t>(g.tokens.size());
  const auto start = std::chrono::system_clock::now();
  const microseconds end = token_time(g, g.tokens.empty() ? 0 : g.tokens.size() - 1);
  const microseconds eval = std::max(microseconds(1), g.token_interval * n);
  auto stats = fmt::format(
      "\"done\":true,\"done_reason\":\"{}\",\"total_duration\":{},\"load_duration\":0,"
      "\"prompt_eval_count\":{},\"prompt_eval_duration\":{},\"eval_count\":{},\"eval_duration\":{}",
      g.truncated ? "length" : "stop", ns(g.queued + end), prompt, ns(g.ttft), n, ns(eval));
  auto line = [&](microseconds at, std::string_view content, std::string_view rest) {
    return fmt::format(
        "{{\"model\":{},\"created_at\":\"{}\",\"message\":{{\"role\":\"assistant\",\"content\":{}}},{}}}\n",
        model, ollama_time(start + at), content, rest);
  };
  if (!call.stream) {
    std::string text;
    for (const auto& tok : g.tokens) text += tok;
    std::string body = line(end, quoted(text), stats);
    body.pop_back();  // no trailing newline in a single JSON body
    return Transcript::response(200, std::move(body)).delayed(milliseconds(round_ms(end)));
  }
  std::vector<std::pair<microseconds, std::string>> pieces;
  for (std::size_t i = 0; i < g.tokens.size(); ++i) {
    const microseconds at = token_time(g, i);
    pieces.emplace_back(at, line(at, quoted(g.tokens[i]), "\"done\":false"));
  }
  pieces.emplace_back(end, line(end, "\"\"", stats));
  return timed_chunked(head(200, "application/x-ndjson", "Transfer-Encoding: chunked\r\n\r\n"), pieces);
}

}  // namespace

std::optional<ChatCall> parse_chat_call(ChatProtocol protocol, std::string_view body,
                                        std::string& error) {
  boost::system::error_code ec;
  bj::value v = bj::parse(body, ec);
  if (ec || !v.is_object()) {
    error = "the request body is not a JSON object";
    return std::nullopt;
  }
  const bj::object& o = v.get_object();
  ChatCall call;
  call.protocol = protocol;
  call.stream = protocol == ChatProtocol::ollama;
  const bj::value* messages = o.if_contains("messages");
  if (!messages || !messages->is_array()) {
    error = "'messages' must be an array";
    return std::nullopt;
  }
  std::size_t bytes = 0;
  for (const auto& m : messages->get_array()) {
    if (!m.is_object()) {
      error = "each message must be an object";
      return std::nullopt;
    }
    if (auto* c = m.get_object().if_contains("content")) bytes += content_bytes(*c);
  }
  call.prompt_tokens = std::max<std::int64_t>(1, static_cast<std::int64_t>((bytes + 3) / 4));
  if (const bj::value* model = o.if_contains("model"); model && !model->is_null()) {
    if (!model->is_string()) {
      error = "'model' must be a string";
      return std::nullopt;
    }
    call.model = std::string(model->get_string());
  }
  if (!read_bool(o, "stream", call.stream, error)) return std::nullopt;
  if (!read_limits(protocol, o, call, error)) return std::nullopt;
  return call;
}

std::vector<std::string> plan_tokens(std::uint64_t sequence, std::int64_t n) {
  std::vector<std::string> tokens;
  tokens.reserve(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
  for (std::int64_t i = 0; i < n; ++i) {
    std::string_view word = kWords[(sequence * 5 + static_cast<std::uint64_t>(i) * 7) % kWords.size()];
    tokens.push_back(i == 0 ? std::string(word) : " " + std::string(word));
  }
  return tokens;
}

microseconds token_time(const Generation& g, std::size_t i) {
  return g.ttft + g.token_interval * static_cast<std::int64_t>(i);
}

Transcript render_generation(const ChatCall& call, const Generation& g, std::int64_t prompt_tokens) {
  return call.protocol == ChatProtocol::openai ? render_openai(call, g, prompt_tokens)
                                               : render_ollama(call, g, prompt_tokens);
}

Transcript render_error(ChatProtocol protocol, int status, std::string_view message) {
  std::string body;
  if (protocol == ChatProtocol::ollama) {
    body = fmt::format("{{\"error\":{}}}", quoted(message));
  } else {
    const char* type = status == 429   ? "rate_limit_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    body = fmt::format("{{\"error\":{{\"message\":{},\"type\":\"{}\",\"code\":null}}}}", quoted(message),
                       type);
  }
  Headers extra;
  if (status == 429 || status == 503) extra.emplace_back("Retry-After", "1");
  return Transcript::response(status, std::move(body), "application/json", std::move(extra));
}

Transcript render_openai_models(const std::string& model, std::int64_t created) {
  return Transcript::response(
      200, fmt::format("{{\"object\":\"list\",\"data\":[{{\"id\":{},\"object\":\"model\",\"created\":{},"
                       "\"owned_by\":\"llmux-mock\"}}]}}",
                       quoted(model), created));
}

Transcript render_ollama_tags(const std::string& model) {
  return Transcript::response(
      200, fmt::format("{{\"models\":[{{\"name\":{0},\"model\":{0},\"modified_at\":\"{1}\",\"size\":0,"
                       "\"digest\":\"\",\"details\":{{\"format\":\"gguf\",\"family\":\"mock\","
                       "\"parameter_size\":\"0\",\"quantization_level\":\"none\"}}}}]}}",
                       quoted(model), ollama_time(std::chrono::system_clock::now())));
}

}  // namespace llmux::testing
