#include "providers/tool_calls.hpp"

#include <charconv>
#include <ctime>
#include <random>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

namespace llmux::providers {

std::string synthesize_tool_call_id() {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::mt19937_64 gen((static_cast<std::uint64_t>(device()) << 32) ^ device());
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlphabet[pick(gen)];
  return id;
}

boost::json::object arguments_object(const ToolCall& call) {
  if (call.arguments.find_first_not_of(" \t\r\n") == std::string::npos) return {};
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(call.arguments, ec);
  if (ec || !v.is_object()) {
    throw_error(errc::invalid_argument,
                fmt::format("the arguments of tool call '{}' ({}) are not a JSON object: {}",
                            call.id, call.name, call.arguments.substr(0, 200)));
  }
  return std::move(v.get_object());
}

std::string tool_name_for_result(const std::vector<Message>& messages, std::size_t index) {
  const Message& result = messages.at(index);
  if (!result.name.empty()) return result.name;
  for (std::size_t i = index; i-- > 0;) {
    for (const auto& call : messages[i].tool_calls) {
      if (call.id == result.tool_call_id) return call.name;
    }
  }
  return {};
}

namespace {

bool read_int(std::string_view& s, std::size_t digits, int& out) {
  if (s.size() < digits) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + digits, out);
  if (ec != std::errc() || ptr != s.data() + digits) return false;
  s.remove_prefix(digits);
  return true;
}

bool expect(std::string_view& s, std::string_view chars) {
  if (s.empty() || chars.find(s.front()) == std::string_view::npos) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

std::int64_t parse_rfc3339(std::string_view s) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_int(s, 4, year) || !expect(s, "-") || !read_int(s, 2, month) || !expect(s, "-") ||
      !read_int(s, 2, day) || !expect(s, "Tt ") || !read_int(s, 2, hour) || !expect(s, ":") ||
      !read_int(s, 2, minute) || !expect(s, ":") || !read_int(s, 2, second)) {
    return 0;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return 0;
  }
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') s.remove_prefix(1);
  }
  int offset_minutes = 0;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    const int sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
    int oh = 0, om = 0;
    if (!read_int(s, 2, oh) || !expect(s, ":") || !read_int(s, 2, om)) return 0;
    offset_minutes = sign * (oh * 60 + om);
  } else if (!expect(s, "Zz")) {
    return 0;
  }
  if (!s.empty()) return 0;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<std::int64_t>(timegm(&tm)) - offset_minutes * 60;
}

void rethrow_with_context(const Error& e, const std::string& provider, const Response* partial) {
  ErrorInfo info = e.info();
  if (info.provider.empty()) info.provider = provider;
  if (!info.partial && partial) info.partial = std::make_shared<const Response>(*partial);
  std::string message = e.what();
  if (!message.starts_with(provider + ":")) message = provider + ": " + message;
  throw_error(e.code(), message, std::move(info));
}

void emit_whole_response(const Response& response, const EventSink& sink) {
  if (!response.reasoning.empty()) sink.emit(ReasoningDelta{response.reasoning});
  if (!response.content.empty()) sink.emit(TextDelta{response.content});
  for (std::size_t i = 0; i < response.tool_calls.size(); ++i) {
    const ToolCall& c = response.tool_calls[i];
    sink.emit(ToolCallDelta{i, c.id, c.name, c.arguments});
    sink.emit(ToolCallDone{i, c});
  }
  sink.emit(UsageEvent{response.usage});
  sink.emit(Finish{response.finish_reason});
}

http::ClientOptions client_options(const ProviderConfig& config) {
  http::ClientOptions options;
  options.max_connections_per_origin = config.max_connections;
  options.ca_file = config.ca_file;
  options.verify_peer = config.verify_tls;
  const Timeouts& t = config.timeouts;
  options.timeouts = {t.connect, t.first_token, t.idle, t.total};
  return options;
}

}  // namespace llmux::providers
