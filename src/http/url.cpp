#include "http/url.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string getenv_either(const char* upper, const char* lower_name) {
  if (const char* v = std::getenv(upper); v && *v) return v;
  if (const char* v = std::getenv(lower_name); v && *v) return v;
  return {};
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

// Whether one NO_PROXY entry exempts host:port.
bool no_proxy_matches(std::string entry, const Url& url) {
  entry = lower(trim(entry));
  if (entry.empty()) return false;
  if (entry == "*") return true;
  std::optional<std::uint16_t> port;
  // host:port (but not a bare IPv6 address)
  if (auto colon = entry.rfind(':');
      colon != std::string::npos && entry.find(':') == colon && entry.front() != '[') {
    int p = std::atoi(entry.c_str() + colon + 1);
    if (p > 0 && p < 65536) port = static_cast<std::uint16_t>(p);
    entry.resize(colon);
  }
  if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']') {
    entry = entry.substr(1, entry.size() - 2);
  }
  if (port && *port != url.port) return false;
  if (entry.front() == '.') entry.erase(0, 1);
  if (entry.starts_with("*.")) entry.erase(0, 2);
  const std::string host = lower(url.host);
  if (host == entry) return true;
  return host.size() > entry.size() && host.ends_with(entry) &&
         host[host.size() - entry.size() - 1] == '.';
}

}  // namespace

std::string Url::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

std::string Url::origin() const {
  return fmt::format("{}://{}:{}", tls ? "https" : "http", host, port);
}

Url parse_url(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    throw_error(errc::invalid_argument, fmt::format("malformed URL '{}': {}", text,
                                                    parsed.error().message()));
  }
  boost::urls::url_view v = *parsed;
  Url url;
  const std::string scheme = lower(v.scheme());
  if (scheme == "https") {
    url.tls = true;
  } else if (scheme != "http") {
    throw_error(errc::invalid_argument,
                fmt::format("URL '{}': scheme must be http or https", text));
  }
  if (!v.has_authority() || v.host().empty()) {
    throw_error(errc::invalid_argument, fmt::format("URL '{}' has no host", text));
  }
  url.host = v.host_type() == boost::urls::host_type::ipv6 ? std::string(v.host_address())
                                                           : std::string(v.encoded_host());
  url.host = lower(url.host);
  if (v.has_port()) {
    const std::string port(v.port());
    unsigned long number = 0;
    const bool digits = !port.empty() && port.size() <= 5 &&
                        std::all_of(port.begin(), port.end(),
                                    [](unsigned char c) { return std::isdigit(c); });
    if (digits) number = std::stoul(port);
    if (!digits || number == 0 || number > 65535) {
      throw_error(errc::invalid_argument, fmt::format("URL '{}' has an invalid port", text));
    }
    url.port = static_cast<std::uint16_t>(number);
  } else {
    url.port = url.tls ? 443 : 80;
  }
  url.target = std::string(v.encoded_path());
  if (url.target.empty()) url.target = "/";
  if (v.has_query()) url.target += "?" + std::string(v.encoded_query());
  if (v.has_userinfo()) url.userinfo = std::string(v.userinfo());
  return url;
}

std::string join_url(std::string_view base, std::string_view path) {
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (!path.empty() && path.front() != '/') out += '/';
  out += path;
  return out;
}

ProxyEnvironment ProxyEnvironment::from_environment() {
  return {getenv_either("HTTP_PROXY", "http_proxy"), getenv_either("HTTPS_PROXY", "https_proxy"),
          getenv_either("NO_PROXY", "no_proxy")};
}

std::optional<Url> select_proxy(const Url& url, const ProxyEnvironment& env) {
  const std::string& proxy = url.tls ? env.https_proxy : env.http_proxy;
  if (proxy.empty() || is_loopback(url.host)) return std::nullopt;
  std::string_view list = env.no_proxy;
  while (!list.empty()) {
    auto comma = list.find(',');
    if (no_proxy_matches(std::string(list.substr(0, comma)), url)) return std::nullopt;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  // A proxy given without a scheme ("proxy:3128") means http.
  std::string text = proxy.find("://") == std::string::npos ? "http://" + proxy : proxy;
  Url p = parse_url(text);
  if (p.tls) {
    throw_error(errc::invalid_argument,
                fmt::format("proxy '{}': only http:// proxies are supported", proxy));
  }
  return p;
}

}  // namespace llmux::http
