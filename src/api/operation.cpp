#include "api/operation.hpp"

namespace llmux::detail {

asio::awaitable<bool> cancellation_requested() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

}  // namespace llmux::detail
