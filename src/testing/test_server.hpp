// A scriptable loopback HTTP/1.1 server for tests: each request is answered by replaying a
// transcript — raw byte pieces with delays, then keep-alive, close, reset or hang. Plain or TLS.
// Used by the HTTP and provider tests, and the base of `llmux mock-server`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <llmux/provider.hpp>

namespace llmux::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Step {
  enum class Action {
    write,  // write `bytes` after `delay`
    close,  // after `delay`, close the connection cleanly (FIN)
    reset,  // after `delay`, abort the connection (RST)
    hang,   // never answer again; the connection stays open until the peer or stop() closes it
  };
  Action action = Action::write;
  std::chrono::milliseconds delay{0};
  std::string bytes;
};

struct Transcript {
  std::vector<Step> steps;
  bool keep_alive = true;  // after the steps, read the next request on the same connection
  // Released once the steps have been played, or when the connection ended before that (e.g. an
  // inference simulator's slot lease).
  std::shared_ptr<void> hold;

  // A complete response with Content-Length.
  static Transcript response(int status, std::string body,
                             std::string content_type = "application/json",
                             Headers extra_headers = {});
  // A chunked response whose body pieces are sent `gap` apart (the first after `first_delay`).
  static Transcript chunked(int status, std::vector<std::string> pieces,
                            std::chrono::milliseconds first_delay = {},
                            std::chrono::milliseconds gap = {},
                            std::string content_type = "text/event-stream",
                            Headers extra_headers = {});
  static Transcript raw(std::string bytes);

  Transcript& then(Step step) {
    steps.push_back(std::move(step));
    return *this;
  }
  // Prepends a delay before the first byte.
  Transcript& delayed(std::chrono::milliseconds delay);
};

// The status line for a code ("HTTP/1.1 404 Not Found\r\n").
std::string status_line(int status);

struct RecordedRequest {
  std::string method;
  std::string target;
  Headers headers;
  std::string body;
  std::string header(std::string_view name) const;  // "" when absent
};

using Handler = std::function<Transcript(const RecordedRequest&)>;
// An asynchronous handler answers later: it calls `respond` exactly once, from any thread, and the
// connection waits until then (stop() ends the wait).
using Responder = std::function<void(Transcript)>;
using AsyncHandler = std::function<void(const RecordedRequest&, Responder respond)>;

struct TlsFiles {
  std::string certificate_chain;  // PEM file
  std::string private_key;        // PEM file
};

struct ServerOptions {
  std::optional<TlsFiles> tls;
  bool record_requests = true;  // keep every request for requests(); off for long-running servers
};

// Thread safety: all members may be called from any thread. The handler runs on the server's
// strand, one call at a time.
class TestServer {
 public:
  // Listens on 127.0.0.1 (port 0: any free port) and starts accepting at once.
  TestServer(Executor executor, Handler handler, std::uint16_t port = 0,
             std::optional<TlsFiles> tls = std::nullopt);
  TestServer(Executor executor, AsyncHandler handler, std::uint16_t port, ServerOptions options);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const noexcept;
  std::string base_url() const;  // "http://127.0.0.1:PORT" (https when TLS)

  std::vector<RecordedRequest> requests() const;  // empty unless record_requests
  std::size_t connections_accepted() const;
  std::size_t connections_open() const;

  // Closes the listener and every connection. Idempotent.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace llmux::testing
