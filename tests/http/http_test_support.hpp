// Shared pieces of the HTTP client and provider tests: a runtime for the test servers, a client
// runtime, and helpers to run coroutines to completion.
#pragma once

#include <sys/resource.h>

#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <llmux/llmux.hpp>

#include "testing/test_server.hpp"

namespace llmux::test {

// Enough descriptors for a thousand loopback connections (both ends in this process).
inline void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Runs an awaitable to completion on `ex` and returns its result (rethrowing its exception).
template <class T>
T run_on(Executor ex, asio::awaitable<T> task) {
  return asio::co_spawn(ex, std::move(task), asio::use_future).get();
}

inline std::string tls_file(const char* name) {
  return std::string(LLMUX_TEST_DATA_DIR) + "/tls/" + name;
}

}  // namespace llmux::test
