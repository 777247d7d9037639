// The HTTP client against the loopback test server: bodies, keep-alive, pools, timeouts per
// phase, cancellation, resets, TLS, proxies, concurrency.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "http/client.hpp"
#include "http/http_test_support.hpp"

namespace llmux {
namespace {

using http::Client;
using http::ClientOptions;
using http::HttpRequest;
using http::HttpResponse;
using testing::Step;
using testing::TestServer;
using testing::Transcript;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

class HttpClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<Client> make_client(ClientOptions options = {}) {
    if (!options.proxy) options.proxy = http::ProxyEnvironment{};  // never the environment's
    return Client::create(client_rt.get_executor(), std::move(options));
  }
  HttpResponse post(const std::shared_ptr<Client>& c, std::string url, std::string body = "{}",
                    std::optional<http::Timeouts> t = {}) {
    HttpRequest req{"POST", std::move(url), {{"Content-Type", "application/json"}}, std::move(body)};
    return test::run_on(client_rt.get_executor(), c->request(std::move(req), t));
  }
  // Reads a streamed body, returning each piece and when it arrived.
  std::vector<std::pair<std::string, double>> stream(const std::shared_ptr<Client>& c,
                                                     std::string url,
                                                     std::optional<http::Timeouts> t = {}) {
    auto task = [](std::shared_ptr<Client> c, std::string url, std::optional<http::Timeouts> t)
        -> asio::awaitable<std::vector<std::pair<std::string, double>>> {
      const auto t0 = Clock::now();
      HttpRequest req{"GET", url, {}, {}};  // named: g++ 12 mishandles temporaries in co_await
      auto s = co_await c->open(std::move(req), t);
      std::vector<std::pair<std::string, double>> pieces;
      while (auto piece = co_await s->read_some()) pieces.emplace_back(*piece, ms_since(t0));
      co_return pieces;
    };
    return test::run_on(client_rt.get_executor(), task(c, std::move(url), t));
  }

  Runtime server_rt{1};
  Runtime client_rt{1};
};

TEST_F(HttpClientTest, ContentLengthBodyAndRecordedRequest) {
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest& r) {
    return Transcript::response(201, "{\"echo\":" + r.body + "}", "application/json",
                                {{"x-request-id", "req-1"}});
  });
  auto client = make_client();
  HttpResponse r = post(client, server.base_url() + "/v1/chat?x=1", R"({"a":1})");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"echo":{"a":1}})");
  EXPECT_EQ(http::find_header(r.headers, "X-Request-Id"), "req-1");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v1/chat?x=1");
  EXPECT_EQ(reqs[0].body, R"({"a":1})");
  EXPECT_EQ(reqs[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(reqs[0].header("Content-Type"), "application/json");
  EXPECT_EQ(reqs[0].header("Content-Length"), "7");
}

TEST_F(HttpClientTest, ChunkedPiecesArriveAsTheyAreSent) {
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    return Transcript::chunked(200, {"one,", "two,", "three"}, 0ms, 60ms);
  });
  auto client = make_client();
  auto pieces = stream(client, server.base_url() + "/s");
  std::string all;
  for (auto& [p, at] : pieces) all += p;
  EXPECT_EQ(all, "one,two,three");
  ASSERT_GE(pieces.size(), 3u);
  EXPECT_LT(pieces.front().second, 50.0);  // the first piece did not wait for the rest
  EXPECT_GE(pieces.back().second, 100.0);
}

TEST_F(HttpClientTest, KeepAliveReusesOneConnection) {
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    return Transcript::response(200, "ok", "text/plain");
  });
  auto client = make_client();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(post(client, server.base_url() + "/").body, "ok");
  EXPECT_EQ(server.connections_accepted(), 1u);
  EXPECT_EQ(client->idle_connections("http://127.0.0.1:" + std::to_string(server.port())), 1u);
}

TEST_F(HttpClientTest, StalePooledConnectionIsRetriedOnAFreshOne) {
  // The server closes each connection after its response without saying so.
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    auto t = Transcript::response(200, "ok", "text/plain");
    t.then({Step::Action::close, 0ms, {}});
    return t;
  });
  auto client = make_client();
  EXPECT_EQ(post(client, server.base_url() + "/").body, "ok");
  std::this_thread::sleep_for(20ms);  // the close reaches the idle pooled connection
  EXPECT_EQ(post(client, server.base_url() + "/").body, "ok");
  EXPECT_EQ(server.connections_accepted(), 2u);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(HttpClientTest, FirstByteTimeout) {
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    return Transcript{{Step{Step::Action::hang, 0ms, {}}}, true};
  });
  auto client = make_client();
  const auto t0 = Clock::now();
  try {
    post(client, server.base_url() + "/", "{}", http::Timeouts{{}, 80ms, {}, {}});
    FAIL() << "no timeout";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("first byte"), std::string::npos) << e.what();
  }
  EXPECT_GE(ms_since(t0), 75.0);
  EXPECT_LT(ms_since(t0), 500.0);
}

TEST_F(HttpClientTest, IdleTimeoutBetweenChunks) {
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    return Transcript::chunked(200, {"a", "b"}, 0ms, 1000ms);
  });
  auto client = make_client();
  try {
    stream(client, server.base_url() + "/", http::Timeouts{{}, {}, 80ms, {}});
    FAIL() << "no timeout";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("idle"), std::string::npos) << e.what();
  }
}

TEST_F(HttpClientTest, TotalTimeoutAcrossSteadyChunks) {
  std::vector<std::string> pieces(50, "x");
  TestServer server(server_rt.get_executor(), [pieces](const testing::RecordedRequest&) {
    return Transcript::chunked(200, pieces, 0ms, 20ms);
  });
  auto client = make_client();
  const auto t0 = Clock::now();
  try {
    stream(client, server.base_url() + "/", http::Timeouts{{}, {}, 200ms, 150ms});
    FAIL() << "no timeout";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("total"), std::string::npos) << e.what();
  }
  EXPECT_LT(ms_since(t0), 600.0);
}

TEST_F(HttpClientTest, ConnectTimeoutAgainstAFullBacklog) {
  // A listener that never accepts, with its backlog filled: further SYNs are dropped.
  asio::io_context ctx;
  asio::ip::tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
  acceptor.listen(0);
  auto port = acceptor.local_endpoint().port();
  std::vector<int> fillers;  // raw non-blocking connects that stay pending or queued
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 8; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(20ms);
  auto client = make_client();
  const auto t0 = Clock::now();
  try {
    post(client, "http://127.0.0.1:" + std::to_string(port) + "/", "{}",
         http::Timeouts{100ms, {}, {}, {}});
    FAIL() << "connected to a full backlog";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("connect"), std::string::npos) << e.what();
    EXPECT_LT(ms_since(t0), 1000.0);
  }
  for (int fd : fillers) ::close(fd);
}

TEST_F(HttpClientTest, CancellationMidStreamClosesTheConnection) {
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    // The server only notices the closed connection when it writes the next piece.
    return Transcript::chunked(200, {"first", "second"}, 0ms, 300ms);
  });
  auto client = make_client();
  asio::cancellation_signal signal;
  std::promise<std::pair<std::string, double>> done;
  Clock::time_point emitted;
  auto task = [](std::shared_ptr<Client> c, std::string url) -> asio::awaitable<std::string> {
    HttpRequest req{"GET", url, {}, {}};
    auto s = co_await c->open(std::move(req));
    std::string got;
    try {
      while (auto piece = co_await s->read_some()) got += *piece;
    } catch (const CancelledError&) {
      co_return got + "|cancelled";
    }
    co_return got + "|ended";
  };
  asio::post(client_rt.get_executor(), [&] {
    asio::co_spawn(client_rt.get_executor(), task(client, server.base_url() + "/"),
                   asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, std::string r) {
                     done.set_value({e ? std::string("exception") : r, ms_since(emitted)});
                   }));
  });
  std::this_thread::sleep_for(100ms);
  asio::post(client_rt.get_executor(), [&] {
    emitted = Clock::now();
    signal.emit(asio::cancellation_type::terminal);
  });
  auto [result, latency] = done.get_future().get();
  EXPECT_EQ(result, "first|cancelled");
  EXPECT_LT(latency, 50.0);
  // The server sees the connection go away; the pool keeps nothing.
  const auto t0 = Clock::now();
  while (server.connections_open() > 0 && ms_since(t0) < 1000) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(server.connections_open(), 0u);
  EXPECT_EQ(client->open_connections("http://127.0.0.1:" + std::to_string(server.port())), 0u);
}

TEST_F(HttpClientTest, ResetMidBodyIsAConnectionError) {
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    auto t = Transcript::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    t.then({Step::Action::reset, 10ms, {}});
    return t;
  });
  auto client = make_client();
  EXPECT_THROW(post(client, server.base_url() + "/"), ConnectionError);
}

TEST_F(HttpClientTest, MalformedResponseIsAProtocolError) {
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    return Transcript::raw("HTTP/1.1 abc\r\n\r\n");
  });
  auto client = make_client();
  EXPECT_THROW(post(client, server.base_url() + "/"), ProtocolError);
}

TEST_F(HttpClientTest, BodyLimit) {
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    return Transcript::response(200, std::string(5000, 'x'), "text/plain");
  });
  ClientOptions o;
  o.max_response_bytes = 1000;
  auto client = make_client(o);
  EXPECT_THROW(post(client, server.base_url() + "/"), ProtocolError);
}

TEST_F(HttpClientTest, RefusedAndMalformedUrls) {
  auto client = make_client();
  // A port nobody listens on.
  asio::io_context ctx;
  asio::ip::tcp::acceptor a(ctx, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = a.local_endpoint().port();
  a.close();
  EXPECT_THROW(post(client, "http://127.0.0.1:" + std::to_string(port) + "/"), ConnectionError);
  EXPECT_THROW(post(client, "not a url"), InvalidArgumentError);
  EXPECT_THROW(post(client, "ftp://127.0.0.1/"), InvalidArgumentError);
  EXPECT_THROW(post(client, "http:///nohost"), InvalidArgumentError);
  EXPECT_THROW(post(client, "http://host.invalid/"), ConnectionError);
}

TEST_F(HttpClientTest, PoolCapQueuesRequests) {
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    return Transcript::response(200, "ok", "text/plain").delayed(50ms);
  });
  ClientOptions o;
  o.max_connections_per_origin = 2;
  auto client = make_client(o);
  auto task = [](std::shared_ptr<Client> c, std::string url) -> asio::awaitable<int> {
    HttpRequest req{"GET", url, {}, {}};
    auto r = co_await c->request(std::move(req));
    co_return r.status;
  };
  const auto t0 = Clock::now();
  std::vector<std::future<int>> futures;
  for (int i = 0; i < 6; ++i) {
    futures.push_back(asio::co_spawn(client_rt.get_executor(), task(client, server.base_url() + "/"),
                                     asio::use_future));
  }
  for (auto& f : futures) EXPECT_EQ(f.get(), 200);
  EXPECT_EQ(server.connections_accepted(), 2u);
  EXPECT_GE(ms_since(t0), 140.0);  // three rounds of 50 ms
}

TEST_F(HttpClientTest, TlsWithATestCa) {
  TestServer server(server_rt.get_executor(),
                    [](const testing::RecordedRequest&) {
                      return Transcript::response(200, "secure", "text/plain");
                    },
                    0, testing::TlsFiles{test::tls_file("server.pem"), test::tls_file("server.key")});
  ClientOptions o;
  o.ca_file = test::tls_file("ca.pem");
  auto client = make_client(o);
  EXPECT_EQ(post(client, server.base_url() + "/").body, "secure");
  EXPECT_EQ(post(client, server.base_url() + "/").body, "secure");
  EXPECT_EQ(server.connections_accepted(), 1u);

  ClientOptions wrong;
  wrong.ca_file = test::tls_file("other-ca.pem");
  auto untrusting = make_client(wrong);
  try {
    post(untrusting, server.base_url() + "/");
    FAIL() << "an untrusted certificate was accepted";
  } catch (const ConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("TLS handshake"), std::string::npos) << e.what();
  }
  // The certificate names 127.0.0.1 and localhost, nothing else.
  auto lookup = make_client(o);
  EXPECT_EQ(post(lookup, "https://localhost:" + std::to_string(server.port()) + "/").body, "secure");
  ClientOptions missing;
  missing.ca_file = "/nonexistent.pem";
  EXPECT_THROW(make_client(missing), InvalidArgumentError);
}

TEST_F(HttpClientTest, PlainHttpThroughAProxyUsesAbsoluteForm) {
  TestServer proxy(server_rt.get_executor(), [](const testing::RecordedRequest& r) {
    return Transcript::response(200, r.target + "|" + r.header("Proxy-Authorization") + "|" +
                                         r.header("Host"),
                                "text/plain");
  });
  ClientOptions o;
  o.proxy = http::ProxyEnvironment{"http://user:pass@127.0.0.1:" + std::to_string(proxy.port()), "",
                                   "internal.example"};
  auto client = make_client(o);
  EXPECT_EQ(post(client, "http://api.example.test/v1/models").body,
            "http://api.example.test/v1/models|Basic dXNlcjpwYXNz|api.example.test");
}

TEST_F(HttpClientTest, HttpsThroughAProxyRefusingConnect) {
  TestServer proxy(server_rt.get_executor(), [](const testing::RecordedRequest& r) {
    EXPECT_EQ(r.method, "CONNECT");
    EXPECT_EQ(r.target, "api.example.test:443");
    return Transcript::response(407, "", "text/plain");
  });
  ClientOptions o;
  o.proxy = http::ProxyEnvironment{"", "127.0.0.1:" + std::to_string(proxy.port()), ""};
  auto client = make_client(o);
  try {
    post(client, "https://api.example.test/v1/models");
    FAIL();
  } catch (const ConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("refused CONNECT"), std::string::npos) << e.what();
  }
}

TEST(ProxySelection, NoProxyRules) {
  http::ProxyEnvironment env{"http://proxy:3128", "http://sproxy:3128",
                             "internal.example, .corp.test,10.1.2.3,svc.local:8080"};
  auto pick = [&](const char* url) {
    auto p = http::select_proxy(http::parse_url(url), env);
    return p ? p->origin() : std::string("direct");
  };
  EXPECT_EQ(pick("http://api.example.com/"), "http://proxy:3128");
  EXPECT_EQ(pick("https://api.example.com/"), "http://sproxy:3128");
  EXPECT_EQ(pick("http://internal.example/"), "direct");
  EXPECT_EQ(pick("http://a.internal.example/"), "direct");
  EXPECT_EQ(pick("http://notinternal.example/"), "http://proxy:3128");
  EXPECT_EQ(pick("http://x.corp.test/"), "direct");
  EXPECT_EQ(pick("http://corp.test/"), "direct");
  EXPECT_EQ(pick("http://10.1.2.3/"), "direct");
  EXPECT_EQ(pick("http://svc.local:8080/"), "direct");
  EXPECT_EQ(pick("http://svc.local:9090/"), "http://proxy:3128");
  EXPECT_EQ(pick("http://localhost:8080/"), "direct");
  EXPECT_EQ(pick("http://127.0.0.1:8080/"), "direct");
  env.no_proxy = "*";
  EXPECT_EQ(pick("http://api.example.com/"), "direct");
}

TEST(UrlParsing, Parts) {
  auto u = http::parse_url("https://Api.Example.com/v1/chat?x=1");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "api.example.com");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.target, "/v1/chat?x=1");
  EXPECT_EQ(u.host_header(), "api.example.com");
  auto v6 = http::parse_url("http://[::1]:8080");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.target, "/");
  EXPECT_EQ(v6.host_header(), "[::1]:8080");
  EXPECT_EQ(http::join_url("http://h/v1/", "/chat/completions"), "http://h/v1/chat/completions");
  EXPECT_THROW(http::parse_url("http://h:0/"), InvalidArgumentError);
  EXPECT_THROW(http::parse_url("http://h:99999/"), InvalidArgumentError);
}

TEST_F(HttpClientTest, ThousandConcurrentRequestsOf100msOnOneThread) {
  test::raise_fd_limit();
  TestServer server(server_rt.get_executor(), [](const testing::RecordedRequest&) {
    return Transcript::response(200, "{}", "application/json").delayed(100ms);
  });
  ClientOptions o;
  o.max_connections_per_origin = 1000;
  auto client = make_client(o);
  auto task = [](std::shared_ptr<Client> c, std::string url) -> asio::awaitable<int> {
    HttpRequest req{"POST", url, {}, "{}"};
    auto r = co_await c->request(std::move(req));
    co_return r.status;
  };
  // Best of three batches: the machine running the suite may be busy with other work.
  double best = 1e9;
  for (int round = 0; round < 3 && best >= 300.0; ++round) {
    const auto t0 = Clock::now();
    std::vector<std::future<int>> futures;
    for (int i = 0; i < 1000; ++i) {
      futures.push_back(asio::co_spawn(client_rt.get_executor(),
                                       task(client, server.base_url() + "/"), asio::use_future));
    }
    int ok = 0;
    for (auto& f : futures) ok += f.get() == 200;
    const double elapsed = ms_since(t0);
    EXPECT_EQ(ok, 1000);
    EXPECT_GE(elapsed, 100.0);
    best = std::min(best, elapsed);
  }
  EXPECT_EQ(client_rt.thread_count(), 1u);
#ifndef LLMUX_SANITIZED
  EXPECT_LT(best, 300.0);
#else
  EXPECT_LT(best, 5000.0);  // instrumented; one after another would take 100 s
#endif
}

}  // namespace
}  // namespace llmux
