// The async HTTP/1.1 client on Beast: per-origin keep-alive pools with a cap, TLS with system CA
// verification and SNI, content-length and chunked bodies, timeouts per phase, cancellation that
// closes the connection, HTTP(S)_PROXY / NO_PROXY.
//
// Coroutine API for providers (inside src/ only). Every function may be called from any
// coroutine on any executor; a Client is thread-safe. Errors are llmux::Error: TimeoutError
// (naming the phase), CancelledError, ConnectionError, ProtocolError, InvalidArgumentError.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <llmux/provider.hpp>

#include "http/url.hpp"

namespace llmux::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of a header (case-insensitive name), or nullopt.
std::optional<std::string> find_header(const Headers& headers, std::string_view name);

struct Timeouts {
  std::optional<std::chrono::milliseconds> connect;     // DNS, TCP, proxy tunnel and TLS
  std::optional<std::chrono::milliseconds> first_byte;  // request sent → response head
  std::optional<std::chrono::milliseconds> idle;        // between body reads
  std::optional<std::chrono::milliseconds> total;       // the whole exchange
};

struct ClientOptions {
  std::size_t max_connections_per_origin = 256;  // open connections per scheme://host:port
  std::string ca_file;      // PEM bundle trusted in addition to the system store
  bool verify_peer = true;  // TLS certificate and host name verification
  Timeouts timeouts;
  // Proxies: nullopt reads HTTP_PROXY / HTTPS_PROXY / NO_PROXY once, at construction.
  std::optional<ProxyEnvironment> proxy;
  std::size_t max_response_bytes = 64u << 20;  // non-streaming bodies
};

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  Headers headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

class Connection;
class ConnectionPool;

// A response whose body is still arriving. Destroying it before the end closes the connection;
// reading to the end returns a keep-alive connection to its pool.
class ResponseStream {
 public:
  // Internal (Client::open): a connection whose response head has been read.
  ResponseStream(std::unique_ptr<Connection> connection, std::shared_ptr<ConnectionPool> pool,
                 Timeouts timeouts, std::chrono::steady_clock::time_point deadline);
  ~ResponseStream();
  ResponseStream(const ResponseStream&) = delete;
  ResponseStream& operator=(const ResponseStream&) = delete;

  int status() const noexcept;
  const Headers& headers() const noexcept { return headers_; }

  // The next piece of the body (transfer encoding removed), or nullopt at its end.
  asio::awaitable<std::optional<std::string>> read_some();
  // The rest of the body; ProtocolError beyond `limit` bytes.
  asio::awaitable<std::string> read_all(std::size_t limit);

 private:
  asio::awaitable<std::optional<std::string>> read_some_on_strand();
  std::size_t parse_buffered(Connection& c, char* buf, std::size_t n, std::size_t cap);
  void release(bool reusable);
  std::unique_ptr<Connection> connection_;
  std::shared_ptr<ConnectionPool> pool_;
  Timeouts timeouts_;
  std::chrono::steady_clock::time_point deadline_;
  Headers headers_;
  int status_ = 0;  // kept once the connection is released
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  static std::shared_ptr<Client> create(Executor executor, ClientOptions options = {});
  ~Client();

  // Sends the request and returns once the response head has arrived. Retries once on a fresh
  // connection when a pooled one turns out to be closed before any response byte.
  asio::awaitable<std::unique_ptr<ResponseStream>> open(HttpRequest request,
                                                        std::optional<Timeouts> timeouts = {});
  // open() + read_all(max_response_bytes).
  asio::awaitable<HttpResponse> request(HttpRequest request, std::optional<Timeouts> timeouts = {});

  const ClientOptions& options() const noexcept;
  // Connections currently open to `origin` ("http://127.0.0.1:8080"), idle ones included.
  std::size_t open_connections(const std::string& origin) const;
  std::size_t idle_connections(const std::string& origin) const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmux::http
