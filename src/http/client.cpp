#include "http/client.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include "http/connection.hpp"

namespace llmux::http {
namespace {

namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

enum class Phase { connect, tls, proxy, write, first_byte, body };

// Awaits `op` spawned on `strand`, forwarding the caller's cancellation through a signal owned
// here. Boost 1.81's co_spawn forwards cancellation by posting a pointer to a signal inside its
// handler; a cancellation that arrives as the operation completes then uses that signal after
// it is freed (seen under ASan). Emitting from a shared signal on the strand itself makes
// co_spawn's dispatch run inline, while the operation is still alive.
template <class Strand, class T>
asio::awaitable<T> await_on(Strand strand, asio::awaitable<T> op) {
  auto signal = std::make_shared<asio::cancellation_signal>();
  asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  asio::cancellation_slot slot = state.slot();
  if (slot.is_connected()) {
    slot.assign([signal, strand](asio::cancellation_type type) {
      asio::post(strand, [signal, type] { signal->emit(type); });
    });
  }
  struct ClearSlot {
    asio::cancellation_slot slot;
    ~ClearSlot() {
      if (slot.is_connected()) slot.clear();
    }
  } clear{slot};
  auto token = asio::bind_cancellation_slot(signal->slot(), asio::use_awaitable);
  co_return co_await asio::co_spawn(strand, std::move(op), token);
}

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::connect: return "connect";
    case Phase::tls: return "TLS handshake";
    case Phase::proxy: return "proxy CONNECT";
    case Phase::write: return "sending the request";
    case Phase::first_byte: return "first byte";
    case Phase::body: return "idle between chunks";
  }
  return "?";
}

std::optional<std::chrono::milliseconds> phase_timeout(Phase p, const Timeouts& t) {
  switch (p) {
    case Phase::connect:
    case Phase::tls:
    case Phase::proxy: return t.connect;
    case Phase::write:
    case Phase::first_byte: return t.first_byte;
    case Phase::body: return t.idle;
  }
  return std::nullopt;
}

Clock::time_point phase_end(Phase p, const Timeouts& t, Deadline deadline) {
  auto limit = phase_timeout(p, t);
  if (!limit) return deadline;
  return std::min(deadline, Clock::now() + *limit);
}

// Arms the stream's timer for the next operations of phase `p`.
void arm(beast::tcp_stream& s, Phase p, const Timeouts& t, Deadline deadline) {
  auto end = phase_end(p, t, deadline);
  if (end == Deadline::max()) {
    s.expires_never();
  } else {
    s.expires_at(end);
  }
}

// Thrown when a pooled connection turns out to be closed before any response byte arrived.
struct StaleConnection : std::exception {
  const char* what() const noexcept override { return "stale pooled connection"; }
};

bool is_disconnect(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

asio::awaitable<void> check_cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    throw_error(errc::cancelled, "HTTP request cancelled");
  }
}

[[noreturn]] void fail(const error_code& ec, Phase phase, const Timeouts& t, Deadline deadline,
                       const std::string& origin) {
  if (ec == beast::error::timeout) {
    const bool total = Clock::now() + std::chrono::milliseconds(1) >= deadline;
    auto limit = total ? t.total : phase_timeout(phase, t);
    throw_error(errc::timeout,
                fmt::format("{} timeout ({} ms) talking to {}", total ? "total" : phase_name(phase),
                            limit ? limit->count() : 0, origin));
  }
  if (ec == asio::error::operation_aborted) {
    throw_error(errc::cancelled, fmt::format("HTTP request to {} cancelled", origin));
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    throw_error(errc::protocol_error,
                fmt::format("malformed HTTP response from {}: {}", origin, ec.message()));
  }
  if (ec == bhttp::error::partial_message || is_disconnect(ec)) {
    throw_error(errc::connection_error,
                fmt::format("connection to {} closed during {}: {}", origin, phase_name(phase),
                            ec.message()));
  }
  throw_error(errc::connection_error,
              fmt::format("{} failed for {}: {}", phase_name(phase), origin, ec.message()));
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

Timeouts merge(const Timeouts& base, const std::optional<Timeouts>& over) {
  if (!over) return base;
  Timeouts t = base;
  if (over->connect) t.connect = over->connect;
  if (over->first_byte) t.first_byte = over->first_byte;
  if (over->idle) t.idle = over->idle;
  if (over->total) t.total = over->total;
  return t;
}

}  // namespace

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return std::nullopt;
}

struct Client::Impl {
  Impl(Executor ex, ClientOptions opts)
      : executor(std::move(ex)),
        options(std::move(opts)),
        proxy_env(options.proxy ? *options.proxy : ProxyEnvironment::from_environment()),
        ssl(asio::ssl::context::tls_client),
        pool(std::make_shared<ConnectionPool>(std::max<std::size_t>(
            options.max_connections_per_origin, 1))) {
    error_code ec;
    ssl.set_default_verify_paths(ec);
    if (!options.ca_file.empty()) {
      ssl.load_verify_file(options.ca_file, ec);
      if (ec) {
        throw_error(errc::invalid_argument,
                    fmt::format("cannot load CA file '{}': {}", options.ca_file, ec.message()));
      }
    }
    ssl.set_verify_mode(options.verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none);
  }

  asio::awaitable<void> connect(Connection& c, const Url& url, const std::optional<Url>& proxy,
                                const Timeouts& t, Deadline deadline);
  asio::awaitable<void> tunnel(Connection& c, const Url& url, const Url& proxy, const Timeouts& t,
                               Deadline deadline);
  asio::awaitable<void> exchange(Connection& c, const HttpRequest& req, const Url& url,
                                 const std::optional<Url>& proxy, const Timeouts& t,
                                 Deadline deadline);

  Executor executor;
  ClientOptions options;
  ProxyEnvironment proxy_env;
  asio::ssl::context ssl;
  std::shared_ptr<ConnectionPool> pool;
};

asio::awaitable<void> Client::Impl::connect(Connection& c, const Url& url,
                                            const std::optional<Url>& proxy, const Timeouts& t,
                                            Deadline deadline) {
  using namespace asio::experimental::awaitable_operators;
  const Url& peer = proxy ? *proxy : url;
  c.plain.emplace(c.strand);
  error_code ec;
  tcp::resolver resolver(c.strand);
  tcp::resolver::results_type endpoints;
  const auto resolve_end = phase_end(Phase::connect, t, deadline);
  if (is_ip_literal(peer.host)) {
    // No resolver round trip (it runs on a background thread) for addresses.
    tcp::endpoint ep(asio::ip::make_address(peer.host), peer.port);
    endpoints = tcp::resolver::results_type::create(ep, peer.host, std::to_string(peer.port));
  } else if (resolve_end == Deadline::max()) {
    endpoints = co_await resolver.async_resolve(peer.host, std::to_string(peer.port),
                                                asio::redirect_error(asio::use_awaitable, ec));
  } else {
    asio::steady_timer timer(c.strand, resolve_end);
    auto winner = co_await (resolver.async_resolve(peer.host, std::to_string(peer.port),
                                                   asio::redirect_error(asio::use_awaitable, ec)) ||
                            timer.async_wait(asio::use_awaitable));
    if (winner.index() == 1) fail(beast::error::timeout, Phase::connect, t, deadline, url.origin());
    endpoints = std::get<0>(std::move(winner));
  }
  co_await check_cancelled();
  if (ec) {
    throw_error(errc::connection_error,
                fmt::format("cannot resolve host '{}': {}", peer.host, ec.message()));
  }
  arm(*c.plain, Phase::connect, t, deadline);
  co_await c.plain->async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) fail(ec, Phase::connect, t, deadline, peer.origin());
  c.plain->socket().set_option(tcp::no_delay(true), ec);

  if (proxy && url.tls) co_await tunnel(c, url, *proxy, t, deadline);
  c.absolute_form = proxy && !url.tls;
  if (!url.tls) co_return;

  c.secure.emplace(std::move(*c.plain), ssl);
  c.plain.reset();
  if (!is_ip_literal(url.host) && !SSL_set_tlsext_host_name(c.secure->native_handle(), url.host.c_str())) {
    throw_error(errc::connection_error, fmt::format("cannot set TLS SNI for '{}'", url.host));
  }
  if (options.verify_peer) c.secure->set_verify_callback(asio::ssl::host_name_verification(url.host));
  arm(c.tcp(), Phase::tls, t, deadline);
  co_await c.secure->async_handshake(asio::ssl::stream_base::client,
                                     asio::redirect_error(asio::use_awaitable, ec));
  if (ec) fail(ec, Phase::tls, t, deadline, url.origin());
}

asio::awaitable<void> Client::Impl::tunnel(Connection& c, const Url& url, const Url& proxy,
                                           const Timeouts& t, Deadline deadline) {
  const std::string authority = url.host_header().find(':') == std::string::npos
                                    ? url.host_header() + ":" + std::to_string(url.port)
                                    : url.host_header();
  bhttp::request<bhttp::empty_body> req{bhttp::verb::connect, authority, 11};
  req.set(bhttp::field::host, authority);
  if (!proxy.userinfo.empty()) {
    req.set(bhttp::field::proxy_authorization, "Basic " + base64(proxy.userinfo));
  }
  error_code ec;
  arm(*c.plain, Phase::proxy, t, deadline);
  co_await bhttp::async_write(*c.plain, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) fail(ec, Phase::proxy, t, deadline, proxy.origin());
  bhttp::response_parser<bhttp::empty_body> parser;
  parser.skip(true);  // a CONNECT response has no body
  co_await bhttp::async_read(*c.plain, c.buffer, parser,
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) fail(ec, Phase::proxy, t, deadline, proxy.origin());
  if (parser.get().result_int() / 100 != 2) {
    throw_error(errc::connection_error,
                fmt::format("proxy {} refused CONNECT to {}: {} {}", proxy.origin(), authority,
                            parser.get().result_int(), std::string(parser.get().reason())));
  }
  c.buffer.consume(c.buffer.size());
}

asio::awaitable<void> Client::Impl::exchange(Connection& c, const HttpRequest& request,
                                             const Url& url, const std::optional<Url>& proxy,
                                             const Timeouts& t, Deadline deadline) {
  bhttp::request<bhttp::string_body> req;
  const bhttp::verb verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) {
    throw_error(errc::invalid_argument, fmt::format("unknown HTTP method '{}'", request.method));
  }
  req.method(verb);
  req.version(11);
  if (c.absolute_form) {
    req.target(fmt::format("http://{}{}", url.host_header(), url.target));
    if (proxy && !proxy->userinfo.empty()) {
      req.set(bhttp::field::proxy_authorization, "Basic " + base64(proxy->userinfo));
    }
  } else {
    req.target(url.target);
  }
  req.set(bhttp::field::host, url.host_header());
  req.set(bhttp::field::user_agent, "llmux/0.1");
  for (const auto& [name, value] : request.headers) req.insert(name, value);
  req.body() = request.body;
  req.prepare_payload();
  req.keep_alive(true);

  error_code ec;
  arm(c.tcp(), Phase::write, t, deadline);
  if (c.secure) {
    co_await bhttp::async_write(*c.secure, req, asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await bhttp::async_write(*c.plain, req, asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec) {
    if (c.reused && is_disconnect(ec)) throw StaleConnection();
    fail(ec, Phase::write, t, deadline, url.origin());
  }
  c.parser.emplace();
  c.parser->body_limit(boost::none);  // limits are applied by the reader
  c.parser->header_limit(64 * 1024);
  if (c.secure) {
    co_await bhttp::async_read_header(*c.secure, c.buffer, *c.parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await bhttp::async_read_header(*c.plain, c.buffer, *c.parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec) {
    if (c.reused && is_disconnect(ec) && c.buffer.size() == 0) throw StaleConnection();
    fail(ec, Phase::first_byte, t, deadline, url.origin());
  }
}

// ---- ResponseStream ------------------------------------------------------------------------

ResponseStream::ResponseStream(std::unique_ptr<Connection> connection,
                               std::shared_ptr<ConnectionPool> pool, Timeouts timeouts,
                               std::chrono::steady_clock::time_point deadline)
    : connection_(std::move(connection)),
      pool_(std::move(pool)),
      timeouts_(timeouts),
      deadline_(deadline) {
  for (const auto& field : connection_->parser->get()) {
    headers_.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
}

ResponseStream::~ResponseStream() { release(false); }

int ResponseStream::status() const noexcept {
  return connection_ ? static_cast<int>(connection_->parser->get().result_int()) : status_;
}

void ResponseStream::release(bool reusable) {
  if (!connection_) return;
  status_ = static_cast<int>(connection_->parser->get().result_int());
  pool_->release(std::move(connection_), reusable);
}

asio::awaitable<std::optional<std::string>> ResponseStream::read_some() {
  if (!connection_) co_return std::nullopt;
  auto strand = connection_->strand;
  co_return co_await await_on(strand, read_some_on_strand());
}

// Parses body bytes already received into `buf` after its first `n` bytes, without reading the
// socket: typically the end of a chunked body that came in the same segment as the last data.
// Returns the new number of bytes in `buf`. A parse error is left for the next read to report.
std::size_t ResponseStream::parse_buffered(Connection& c, char* buf, std::size_t n, std::size_t cap) {
  auto& parser = *c.parser;
  while (!parser.is_done() && c.buffer.size() > 0 && n < cap) {
    parser.get().body().data = buf + n;
    parser.get().body().size = cap - n;
    error_code ec;
    const std::size_t used = parser.put(c.buffer.data(), ec);
    c.buffer.consume(used);
    n = cap - parser.get().body().size;
    if ((ec && ec != bhttp::error::need_buffer) || used == 0) break;
  }
  return n;
}

asio::awaitable<std::optional<std::string>> ResponseStream::read_some_on_strand() {
  Connection& c = *connection_;
  auto& parser = *c.parser;
  char buf[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = buf;
    parser.get().body().size = sizeof buf;
    error_code ec;
    arm(c.tcp(), Phase::body, timeouts_, deadline_);
    if (c.secure) {
      co_await bhttp::async_read_some(*c.secure, c.buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await bhttp::async_read_some(*c.plain, c.buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      const std::string origin = c.origin;
      release(false);
      fail(ec, Phase::body, timeouts_, deadline_, origin);
    }
    std::size_t n = sizeof buf - parser.get().body().size;
    if (n > 0) {
      n = parse_buffered(c, buf, n, sizeof buf);
      // When this piece ended the body, the connection goes back to the pool now: a caller that
      // stops at the protocol's own end marker (SSE "[DONE]") must not cost a new connection.
      if (parser.is_done()) release(parser.keep_alive());
      co_return std::string(buf, n);
    }
  }
  release(parser.keep_alive());
  co_return std::nullopt;
}

asio::awaitable<std::string> ResponseStream::read_all(std::size_t limit) {
  std::string body;
  while (auto piece = co_await read_some()) {
    if (body.size() + piece->size() > limit) {
      release(false);
      throw_error(errc::protocol_error,
                  fmt::format("response body larger than the limit of {} bytes", limit));
    }
    body += *piece;
  }
  co_return body;
}

// ---- Client --------------------------------------------------------------------------------

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

std::shared_ptr<Client> Client::create(Executor executor, ClientOptions options) {
  return std::shared_ptr<Client>(
      new Client(std::make_unique<Impl>(std::move(executor), std::move(options))));
}

const ClientOptions& Client::options() const noexcept { return impl_->options; }

std::size_t Client::open_connections(const std::string& origin) const {
  return impl_->pool->open_count(origin);
}

std::size_t Client::idle_connections(const std::string& origin) const {
  return impl_->pool->idle_count(origin);
}

asio::awaitable<std::unique_ptr<ResponseStream>> Client::open(HttpRequest request,
                                                              std::optional<Timeouts> timeouts) {
  auto self = shared_from_this();  // the pool and TLS context outlive this operation
  const Url url = parse_url(request.url);
  const std::optional<Url> proxy = select_proxy(url, impl_->proxy_env);
  const Timeouts t = merge(impl_->options.timeouts, timeouts);
  const Deadline deadline = t.total ? Clock::now() + *t.total : Deadline::max();
  const std::string key = proxy ? url.origin() + " via " + proxy->origin() : url.origin();
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> c = co_await impl_->pool->acquire(key, deadline);
    if (!c) {
      c = std::make_unique<Connection>(impl_->executor, key);
      try {
        auto strand = c->strand;
        co_await await_on(strand, impl_->connect(*c, url, proxy, t, deadline));
      } catch (...) {
        c.reset();
        impl_->pool->release_slot(key);
        throw;
      }
    }
    try {
      auto strand = c->strand;
      co_await await_on(strand, impl_->exchange(*c, request, url, proxy, t, deadline));
    } catch (const StaleConnection&) {
      impl_->pool->release(std::move(c), false);
      if (attempt == 0) continue;
      throw_error(errc::connection_error,
                  fmt::format("connection to {} closed before the response", url.origin()));
    } catch (...) {
      impl_->pool->release(std::move(c), false);
      throw;
    }
    co_return std::make_unique<ResponseStream>(std::move(c), impl_->pool, t, deadline);
  }
}

asio::awaitable<HttpResponse> Client::request(HttpRequest request,
                                              std::optional<Timeouts> timeouts) {
  auto stream = co_await open(std::move(request), timeouts);
  HttpResponse response;
  response.status = stream->status();
  response.headers = stream->headers();
  response.body = co_await stream->read_all(impl_->options.max_response_bytes);
  co_return response;
}

}  // namespace llmux::http
