#include "testing/test_server.hpp"

#include <future>
#include <mutex>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>

namespace llmux::testing {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Site Overloaded";
    default: return "Status";
  }
}

std::string head(int status, const std::string& content_type, const Headers& extra) {
  std::string h = status_line(status);
  if (!content_type.empty()) h += "Content-Type: " + content_type + "\r\n";
  for (const auto& [k, v] : extra) h += k + ": " + v + "\r\n";
  return h;
}

}  // namespace

std::string status_line(int status) {
  return fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
}

Transcript Transcript::response(int status, std::string body, std::string content_type,
                                Headers extra_headers) {
  std::string bytes = head(status, content_type, extra_headers);
  bytes += fmt::format("Content-Length: {}\r\n\r\n", body.size());
  bytes += body;
  return raw(std::move(bytes));
}

Transcript Transcript::chunked(int status, std::vector<std::string> pieces,
                               std::chrono::milliseconds first_delay,
                               std::chrono::milliseconds gap, std::string content_type,
                               Headers extra_headers) {
  Transcript t;
  t.steps.push_back(
      {Step::Action::write, {}, head(status, content_type, extra_headers) + "Transfer-Encoding: chunked\r\n\r\n"});
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].empty()) continue;  // an empty chunk would end the body
    t.steps.push_back({Step::Action::write, i == 0 ? first_delay : gap,
                       fmt::format("{:x}\r\n{}\r\n", pieces[i].size(), pieces[i])});
  }
  t.steps.push_back({Step::Action::write, {}, "0\r\n\r\n"});
  return t;
}

Transcript Transcript::raw(std::string bytes) {
  Transcript t;
  t.steps.push_back({Step::Action::write, {}, std::move(bytes)});
  return t;
}

Transcript& Transcript::delayed(std::chrono::milliseconds delay) {
  if (steps.empty()) {
    steps.push_back({Step::Action::write, delay, {}});
  } else {
    steps.front().delay += delay;
  }
  return *this;
}

std::string RecordedRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return {};
}

// A request waiting for an asynchronous handler's answer. Touched on the strand only.
struct PendingAnswer {
  explicit PendingAnswer(const asio::strand<Executor>& strand)
      : timer(strand, asio::steady_timer::time_point::max()) {}
  asio::steady_timer timer;  // cancelled when the answer arrives or the server stops
  std::optional<Transcript> transcript;
};

struct TestServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(Executor ex, Handler h) : strand(asio::make_strand(ex)), acceptor(strand), handler(std::move(h)) {}
  Impl(Executor ex, AsyncHandler h)
      : strand(asio::make_strand(ex)), acceptor(strand), async_handler(std::move(h)) {}

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(std::shared_ptr<tcp::socket> socket);
  asio::awaitable<std::optional<Transcript>> answer(const RecordedRequest& request);
  void start(std::uint16_t port, const std::optional<TlsFiles>& tls);
  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, tcp::socket& socket);
  void close_all();

  asio::strand<Executor> strand;
  tcp::acceptor acceptor;
  Handler handler;
  AsyncHandler async_handler;
  bool record_requests = true;
  std::optional<asio::ssl::context> ssl;
  std::uint16_t port = 0;

  mutable std::mutex mu;
  std::vector<RecordedRequest> requests;
  std::size_t accepted = 0;
  std::size_t open = 0;
  // Touched on the strand only.
  std::vector<std::weak_ptr<tcp::socket>> sockets;
  std::vector<std::weak_ptr<PendingAnswer>> pending;
  bool stopped = false;
};

asio::awaitable<void> TestServer::Impl::accept_loop() {
  auto self = shared_from_this();
  for (;;) {
    error_code ec;
    auto socket = std::make_shared<tcp::socket>(strand);
    co_await acceptor.async_accept(*socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopped) co_return;
    sockets.push_back(socket);
    std::erase_if(sockets, [](const auto& w) { return w.expired(); });
    asio::co_spawn(strand, session(socket), asio::detached);
  }
}

asio::awaitable<void> TestServer::Impl::session(std::shared_ptr<tcp::socket> socket) {
  auto self = shared_from_this();
  {
    std::lock_guard lock(mu);
    ++accepted;
    ++open;
  }
  socket->set_option(tcp::no_delay(true));
  try {
    if (ssl) {
      asio::ssl::stream<tcp::socket&> stream(*socket, *ssl);
      error_code ec;
      co_await stream.async_handshake(asio::ssl::stream_base::server,
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) co_await serve(stream, *socket);
    } else {
      co_await serve(*socket, *socket);
    }
  } catch (const std::exception&) {
    // A session ends on any error; the client sees the connection close.
  }
  error_code ignored;
  socket->close(ignored);
  std::lock_guard lock(mu);
  --open;
}

template <class Stream>
asio::awaitable<void> TestServer::Impl::serve(Stream& stream, tcp::socket& socket) {
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64u << 20);
    error_code ec;
    co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const auto& msg = parser.get();
    RecordedRequest rec{std::string(msg.method_string()), std::string(msg.target()), {}, msg.body()};
    for (const auto& f : msg) rec.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    if (record_requests) {
      std::lock_guard lock(mu);
      requests.push_back(rec);
    }
    std::optional<Transcript> answered = co_await answer(rec);
    if (!answered || stopped) co_return;
    Transcript transcript = std::move(*answered);
    for (const Step& step : transcript.steps) {
      if (step.delay.count() > 0) {
        asio::steady_timer timer(strand, step.delay);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopped) co_return;
      }
      switch (step.action) {
        case Step::Action::write:
          if (!step.bytes.empty()) {
            co_await asio::async_write(stream, asio::buffer(step.bytes),
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
          }
          break;
        case Step::Action::close:
          socket.shutdown(tcp::socket::shutdown_both, ec);
          co_return;
        case Step::Action::reset:
          socket.set_option(asio::socket_base::linger(true, 0), ec);
          socket.close(ec);
          co_return;
        case Step::Action::hang: {
          char sink[1024];
          while (!ec) {
            co_await socket.async_read_some(asio::buffer(sink),
                                            asio::redirect_error(asio::use_awaitable, ec));
          }
          co_return;
        }
      }
    }
    transcript.hold.reset();
    if (!transcript.keep_alive) {
      socket.shutdown(tcp::socket::shutdown_send, ec);
      // Let the client read everything and close first.
      char sink[1024];
      while (!ec) {
        co_await socket.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
      }
      co_return;
    }
  }
}

asio::awaitable<std::optional<Transcript>> TestServer::Impl::answer(const RecordedRequest& request) {
  if (handler) co_return handler(request);
  auto waiting = std::make_shared<PendingAnswer>(strand);
  std::erase_if(pending, [](const auto& w) { return w.expired(); });
  pending.push_back(waiting);
  Responder respond = [waiting, strand = strand](Transcript t) {
    asio::post(strand, [waiting, t = std::move(t)]() mutable {
      waiting->transcript = std::move(t);
      waiting->timer.cancel();
    });
  };
  async_handler(request, std::move(respond));
  // The answer is posted to this strand, so it cannot arrive before this wait has started.
  error_code ec;
  co_await waiting->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return std::move(waiting->transcript);
}

void TestServer::Impl::close_all() {
  stopped = true;
  error_code ec;
  acceptor.close(ec);
  for (auto& weak : sockets) {
    if (auto s = weak.lock()) s->close(ec);
  }
  sockets.clear();
  for (auto& weak : pending) {
    if (auto p = weak.lock()) p->timer.cancel();
  }
  pending.clear();
}

void TestServer::Impl::start(std::uint16_t listen_port, const std::optional<TlsFiles>& tls) {
  if (tls) {
    ssl.emplace(asio::ssl::context::tls_server);
    ssl->use_certificate_chain_file(tls->certificate_chain);
    ssl->use_private_key_file(tls->private_key, asio::ssl::context::pem);
  }
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), listen_port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  port = acceptor.local_endpoint().port();
  asio::co_spawn(strand, accept_loop(), asio::detached);
}

TestServer::TestServer(Executor executor, Handler handler, std::uint16_t port,
                       std::optional<TlsFiles> tls)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(handler))) {
  impl_->start(port, tls);
}

TestServer::TestServer(Executor executor, AsyncHandler handler, std::uint16_t port,
                       ServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(handler))) {
  impl_->record_requests = options.record_requests;
  impl_->start(port, options.tls);
}

TestServer::~TestServer() { stop(); }

std::uint16_t TestServer::port() const noexcept { return impl_->port; }

std::string TestServer::base_url() const {
  return fmt::format("{}://127.0.0.1:{}", impl_->ssl ? "https" : "http", impl_->port);
}

std::vector<RecordedRequest> TestServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

std::size_t TestServer::connections_accepted() const {
  std::lock_guard lock(impl_->mu);
  return impl_->accepted;
}

std::size_t TestServer::connections_open() const {
  std::lock_guard lock(impl_->mu);
  return impl_->open;
}

void TestServer::stop() {
  if (impl_->strand.running_in_this_thread()) {
    impl_->close_all();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(impl_->strand, [impl = impl_, done] {
    impl->close_all();
    done->set_value();
  });
  // The executor may already have stopped running (a runtime destroyed first): don't wait forever.
  finished.wait_for(std::chrono::seconds(5));
}

}  // namespace llmux::testing
