// Helpers shared by the async API tests.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include <llmux/llmux.hpp>

namespace llmux::test {

inline std::shared_ptr<Provider> make_fake(Executor ex,
                                           std::map<std::string, std::string> options = {}) {
  ProviderConfig config;
  config.options = std::move(options);
  return create_llm("fake", std::move(config), std::move(ex));
}

inline Request hello_request() {
  Request r;
  r.messages = {Message::system("You are terse."), Message::user("Say hello to the world")};
  r.options.temperature = 0.2;
  return r;
}

// Responses equal apart from timings, which differ from run to run.
inline Response without_timings(Response r) {
  r.timings = {};
  return r;
}

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace llmux::test
