// HTTPS through an HTTP proxy: a CONNECT tunnel to the TLS test server, end to end.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "http/client.hpp"
#include "http/http_test_support.hpp"

namespace llmux {
namespace {

using tcp = asio::ip::tcp;
using boost::system::error_code;

asio::awaitable<void> pipe(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
  char buf[8192];
  for (;;) {
    error_code ec;
    std::size_t n = co_await from->async_read_some(asio::buffer(buf),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    co_await asio::async_write(*to, asio::buffer(buf, n), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  error_code ignored;
  to->shutdown(tcp::socket::shutdown_send, ignored);
}

// A minimal CONNECT proxy that tunnels every request to 127.0.0.1:`target_port` and records
// the request line it received.
struct TunnelProxy {
  TunnelProxy(Executor ex, std::uint16_t target_port)
      : acceptor(ex, {asio::ip::make_address("127.0.0.1"), 0}), target(target_port) {
    asio::co_spawn(ex, accept_loop(), asio::detached);
  }
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto client = std::make_shared<tcp::socket>(acceptor.get_executor());
      error_code ec;
      co_await acceptor.async_accept(*client, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(acceptor.get_executor(), tunnel(client), asio::detached);
    }
  }
  asio::awaitable<void> tunnel(std::shared_ptr<tcp::socket> client) {
    asio::streambuf head;
    error_code ec;
    co_await asio::async_read_until(*client, head, "\r\n\r\n", asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::string text(asio::buffers_begin(head.data()), asio::buffers_end(head.data()));
    request_line = text.substr(0, text.find("\r\n"));
    auto upstream = std::make_shared<tcp::socket>(acceptor.get_executor());
    co_await upstream->async_connect({asio::ip::make_address("127.0.0.1"), target},
                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    co_await asio::async_write(*client, asio::buffer(ok), asio::redirect_error(asio::use_awaitable, ec));
    asio::co_spawn(acceptor.get_executor(), pipe(client, upstream), asio::detached);
    co_await pipe(upstream, client);
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  tcp::acceptor acceptor;
  std::uint16_t target;
  std::string request_line;
};

TEST(HttpProxy, HttpsThroughAConnectTunnel) {
  Runtime server_rt(1);
  Runtime client_rt(1);
  testing::TestServer server(
      server_rt.get_executor(),
      [](const testing::RecordedRequest& r) {
        return testing::Transcript::response(200, "tunnelled:" + r.header("Host"), "text/plain");
      },
      0, testing::TlsFiles{test::tls_file("server.pem"), test::tls_file("server.key")});
  TunnelProxy proxy(server_rt.get_executor(), server.port());

  http::ClientOptions options;
  options.ca_file = test::tls_file("ca.pem");
  // "localhost" is never proxied, and the certificate names only 127.0.0.1 and localhost: turn
  // verification of the name off and reach the server under another name through the tunnel.
  options.verify_peer = false;
  options.proxy = http::ProxyEnvironment{"", "http://127.0.0.1:" + std::to_string(proxy.port()), ""};
  auto client = http::Client::create(client_rt.get_executor(), options);
  http::HttpRequest req{"GET", "https://api.example.test:8443/v1/models", {}, {}};
  auto response = test::run_on(client_rt.get_executor(), client->request(std::move(req)));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "tunnelled:api.example.test:8443");
  EXPECT_EQ(proxy.request_line, "CONNECT api.example.test:8443 HTTP/1.1");
}

}  // namespace
}  // namespace llmux
