#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "http/connection.hpp"

namespace llmux::http {

Connection::Connection(Executor executor, std::string origin_)
    : strand(asio::make_strand(std::move(executor))), origin(std::move(origin_)) {}

asio::awaitable<std::unique_ptr<Connection>> ConnectionPool::acquire(const std::string& origin,
                                                                     Deadline deadline) {
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard lock(mu_);
    Origin& o = origins_[origin];
    if (!o.idle.empty()) {
      auto c = std::move(o.idle.back());  // most recently used: least likely to be stale
      o.idle.pop_back();
      c->reused = true;
      co_return c;
    }
    if (o.open < max_per_origin_) {
      ++o.open;
      co_return nullptr;
    }
    waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    waiter->timer.expires_at(deadline);
    o.waiters.push_back(waiter);
  }
  boost::system::error_code ec;
  co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  auto cancelled = (co_await asio::this_coro::cancellation_state).cancelled();

  std::unique_lock lock(mu_);
  Origin& o = origins_[origin];
  if (!waiter->granted) {
    std::erase(o.waiters, waiter);
    lock.unlock();
    if (cancelled != asio::cancellation_type::none) {
      throw_error(errc::cancelled, "request cancelled while waiting for a connection");
    }
    throw_error(errc::timeout,
                fmt::format("timed out waiting for a free connection to {} (limit {})", origin,
                            max_per_origin_));
  }
  lock.unlock();
  if (cancelled != asio::cancellation_type::none) {
    if (waiter->connection) {
      release(std::move(waiter->connection), true);
    } else {
      release_slot(origin);
    }
    throw_error(errc::cancelled, "request cancelled while waiting for a connection");
  }
  if (waiter->connection) waiter->connection->reused = true;
  co_return std::move(waiter->connection);
}

bool ConnectionPool::hand_to_waiter(Origin& o, std::unique_ptr<Connection>& connection) {
  if (o.waiters.empty()) return false;
  auto w = std::move(o.waiters.front());
  o.waiters.pop_front();
  w->granted = true;
  w->connection = std::move(connection);
  asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
  return true;
}

void ConnectionPool::release(std::unique_ptr<Connection> connection, bool reusable) {
  if (!connection) return;
  std::unique_lock lock(mu_);
  Origin& o = origins_[connection->origin];
  if (!reusable) {
    std::unique_ptr<Connection> none;
    if (!hand_to_waiter(o, none)) --o.open;  // else the slot passes to the waiter
    lock.unlock();
    connection.reset();  // closes the socket
    return;
  }
  connection->parser.reset();
  if (!hand_to_waiter(o, connection)) o.idle.push_back(std::move(connection));
}

void ConnectionPool::release_slot(const std::string& origin) {
  std::lock_guard lock(mu_);
  Origin& o = origins_[origin];
  std::unique_ptr<Connection> none;
  if (!hand_to_waiter(o, none)) --o.open;
}

std::size_t ConnectionPool::open_count(const std::string& origin) const {
  std::lock_guard lock(mu_);
  auto it = origins_.find(origin);
  return it == origins_.end() ? 0 : it->second.open;
}

std::size_t ConnectionPool::idle_count(const std::string& origin) const {
  std::lock_guard lock(mu_);
  auto it = origins_.find(origin);
  return it == origins_.end() ? 0 : it->second.idle.size();
}

}  // namespace llmux::http
