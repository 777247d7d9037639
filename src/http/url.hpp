// Parsing of the URLs llmux connects to (Boost.URL underneath), and proxy selection from the
// HTTP_PROXY / HTTPS_PROXY / NO_PROXY environment variables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::http {

struct Url {
  bool tls = false;        // https
  std::string host;        // without brackets for IPv6
  std::uint16_t port = 0;  // explicit or the scheme's default
  std::string target;      // path and query, at least "/"
  std::string userinfo;    // "user:password" (proxies), percent-decoded

  // "host:port" as it goes in a Host header (IPv6 in brackets; default ports omitted).
  std::string host_header() const;
  // scheme://host:port — identifies a connection pool.
  std::string origin() const;
};

// Parses an absolute http(s) URL. Throws InvalidArgumentError with a clear message otherwise.
Url parse_url(std::string_view text);

// Joins a base URL ("https://api.openai.com/v1") and a path ("/chat/completions").
std::string join_url(std::string_view base, std::string_view path);

struct ProxyEnvironment {
  std::string http_proxy;   // HTTP_PROXY / http_proxy
  std::string https_proxy;  // HTTPS_PROXY / https_proxy
  std::string no_proxy;     // NO_PROXY / no_proxy

  static ProxyEnvironment from_environment();
};

// The proxy for `url`, if any: NO_PROXY (comma-separated hosts, domain suffixes with or without
// a leading dot, host:port, IP addresses, "*") exempts a host. Loopback is never proxied.
std::optional<Url> select_proxy(const Url& url, const ProxyEnvironment& env);

}  // namespace llmux::http
