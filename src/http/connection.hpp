// One HTTP connection (plain or TLS) and the per-origin connection pool. Internal to client.cpp
// and its tests.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "http/client.hpp"

namespace llmux::http {

namespace beast = boost::beast;
using Strand = asio::strand<Executor>;
using Deadline = std::chrono::steady_clock::time_point;

// All I/O of a connection runs on its own strand (Beast's streams require it when the
// io_context has several threads); callers reach it through co_spawn.
class Connection {
 public:
  Connection(Executor executor, std::string origin);

  Strand strand;
  std::string origin;  // pool key
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::optional<beast::http::response_parser<beast::http::buffer_body>> parser;
  bool absolute_form = false;  // plain HTTP through a proxy: request targets are absolute URLs
  bool reused = false;         // taken from the pool (may have been closed by the peer)

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  explicit ConnectionPool(std::size_t max_per_origin) : max_per_origin_(max_per_origin) {}

  // An idle connection, or nullptr with a reserved slot for a new one. Waits (cancellable, until
  // `deadline`) while the origin is at its cap.
  asio::awaitable<std::unique_ptr<Connection>> acquire(const std::string& origin,
                                                       Deadline deadline);
  // Returns a connection: kept idle (or handed to a waiter) when reusable, closed otherwise.
  void release(std::unique_ptr<Connection> connection, bool reusable);
  // Frees a slot reserved by acquire() whose connection could not be opened.
  void release_slot(const std::string& origin);

  std::size_t open_count(const std::string& origin) const;
  std::size_t idle_count(const std::string& origin) const;

 private:
  struct Waiter {
    explicit Waiter(Executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    bool granted = false;
    std::unique_ptr<Connection> connection;  // when granted with an idle connection
  };
  struct Origin {
    std::deque<std::unique_ptr<Connection>> idle;
    std::size_t open = 0;
    std::deque<std::shared_ptr<Waiter>> waiters;
  };
  // Gives a slot (and maybe a connection) to the first waiter. Requires mu_ held.
  bool hand_to_waiter(Origin& o, std::unique_ptr<Connection>& connection);

  mutable std::mutex mu_;
  std::map<std::string, Origin, std::less<>> origins_;
  std::size_t max_per_origin_;
};

}  // namespace llmux::http
