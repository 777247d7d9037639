#include "providers/http_errors.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

namespace llmux::providers {
namespace {

namespace bj = boost::json;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return lower(haystack).find(needle) != std::string::npos;
}

std::string text_of(const bj::value* v) {
  if (!v) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64()) return std::to_string(v->get_int64());
  return {};
}

std::optional<double> parse_double(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v) || v < 0) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(const http::Headers& headers,
                                                           std::chrono::system_clock::time_point now) {
  using std::chrono::milliseconds;
  if (auto ms = http::find_header(headers, "retry-after-ms")) {
    if (auto v = parse_double(*ms)) return milliseconds(static_cast<std::int64_t>(std::llround(*v)));
  }
  auto value = http::find_header(headers, "retry-after");
  if (!value) return std::nullopt;
  if (auto seconds = parse_double(*value)) {
    return milliseconds(static_cast<std::int64_t>(std::llround(*seconds * 1000)));
  }
  auto at = retry_after_date(headers);
  if (!at) return std::nullopt;
  auto delta = std::chrono::duration_cast<milliseconds>(*at - now);
  return std::max(delta, milliseconds(0));
}

std::optional<std::chrono::system_clock::time_point> retry_after_date(const http::Headers& headers) {
  if (auto ms = http::find_header(headers, "retry-after-ms")) {
    if (parse_double(*ms)) return std::nullopt;
  }
  auto value = http::find_header(headers, "retry-after");
  if (!value || parse_double(*value)) return std::nullopt;
  std::tm tm{};
  const char* end = strptime(value->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::optional<bool> should_retry_of(const http::Headers& headers) {
  auto value = http::find_header(headers, "x-should-retry");
  if (!value) return std::nullopt;
  std::string v = lower(*value);
  if (v == "true") return true;
  if (v == "false") return false;
  return std::nullopt;
}

std::string request_id_of(const http::Headers& headers) {
  for (const char* name : {"x-request-id", "request-id", "x-amzn-requestid", "cf-ray"}) {
    if (auto v = http::find_header(headers, name)) return *v;
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> rate_limits_of(const http::Headers& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : headers) {
    std::string name = lower(k);
    if (name.starts_with("x-ratelimit-") || name.starts_with("anthropic-ratelimit-") ||
        name.starts_with("ratelimit-")) {
      out.emplace_back(name, v);
    }
  }
  return out;
}

ErrorBody parse_error_body(std::string_view body) {
  ErrorBody e;
  boost::system::error_code ec;
  bj::value v = bj::parse(body, ec);
  if (ec || !v.is_object()) return e;
  const bj::object& o = v.get_object();
  if (const bj::value* err = o.if_contains("error")) {
    if (err->is_string()) {
      e.message = std::string(err->get_string());
    } else if (err->is_object()) {
      const bj::object& eo = err->get_object();
      e.message = text_of(eo.if_contains("message"));
      e.type = text_of(eo.if_contains("type"));
      e.code = text_of(eo.if_contains("code"));
    }
  }
  if (e.message.empty()) e.message = text_of(o.if_contains("message"));
  if (e.message.empty()) e.message = text_of(o.if_contains("detail"));
  if (e.type.empty()) e.type = text_of(o.if_contains("type"));
  return e;
}

errc errc_for_error_body(const ErrorBody& e, int status) {
  const std::string code = lower(e.code), type = lower(e.type);
  if (code == "context_length_exceeded" || contains(e.message, "maximum context length") ||
      contains(e.message, "context length") || contains(e.message, "context window") ||
      contains(e.message, "prompt is too long")) {
    return errc::context_length_exceeded;
  }
  if (code == "model_not_found" || (type == "not_found_error" && contains(e.message, "model"))) {
    return errc::model_not_found;
  }
  if (code == "insufficient_quota") return errc::permission_denied;
  if (type == "authentication_error" || code == "invalid_api_key") return errc::authentication;
  if (type == "permission_error") return errc::permission_denied;
  if (type == "rate_limit_error" || code == "rate_limit_exceeded") return errc::rate_limited;
  if (type == "overloaded_error") return errc::overloaded;
  if (type == "invalid_request_error" && status < 500) return errc::invalid_request;
  if (type == "api_error" || type == "server_error") return errc::server_error;
  return status >= 500 || status == 0 ? errc::server_error : errc::invalid_request;
}

std::exception_ptr http_status_error(std::string_view provider, int status,
                                     const http::Headers& headers, std::string body) {
  ErrorBody parsed = parse_error_body(body);
  errc code;
  switch (status) {
    case 400: code = errc::invalid_request; break;
    case 401: code = errc::authentication; break;
    case 403: code = errc::permission_denied; break;
    case 404: code = contains(parsed.message, "model") || parsed.code == "model_not_found"
                         ? errc::model_not_found
                         : errc::invalid_request;
      break;
    case 408: code = errc::timeout; break;
    case 409: code = errc::server_error; break;
    case 429: code = parsed.code == "insufficient_quota" ? errc::permission_denied : errc::rate_limited;
      break;
    case 503:
    case 529: code = errc::overloaded; break;
    default: code = status >= 500 ? errc::server_error : errc::invalid_request;
  }
  if (status == 400 || status == 413 || status == 422) {
    errc refined = errc_for_error_body(parsed, status);
    if (refined == errc::context_length_exceeded || refined == errc::model_not_found) code = refined;
  }
  ErrorInfo info;
  info.provider = std::string(provider);
  info.http_status = status;
  info.retry_after = parse_retry_after(headers);
  info.retry_at = retry_after_date(headers);
  info.should_retry = should_retry_of(headers);
  info.request_id = request_id_of(headers);
  info.rate_limits = rate_limits_of(headers);
  std::string_view detail = parsed.message;
  if (detail.empty()) detail = std::string_view(body).substr(0, 300);
  if (detail.empty()) detail = "(empty body)";
  std::string message = fmt::format("{}: HTTP {}: {}{}", provider, status, detail,
                                    parsed.message.empty() && body.size() > 300 ? "…" : "");
  if (!info.request_id.empty()) message += fmt::format(" (request id {})", info.request_id);
  info.body = std::move(body);
  return make_error(code, message, std::move(info));
}

}  // namespace llmux::providers
