// Circuit breakers of one provider, one per model: closed -> open after N consecutive retryable
// failures -> half-open after the cool-down (one probe at a time) -> closed on success.
// Thread-safe: every member may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <llmux/resilience.hpp>

namespace llmux::detail {

class CircuitBreakers {
 public:
  enum class State { closed, open, half_open };

  struct Admission {
    bool allowed = true;
    bool probe = false;                    // this request is the half-open probe
    std::chrono::milliseconds retry_in{0}; // !allowed: time left of the cool-down (0 if probing)
  };
  enum class Outcome { success, retryable_failure, other };

  explicit CircuitBreakers(CircuitBreakerPolicy policy) : policy_(policy) {}

  bool enabled() const noexcept { return policy_.failure_threshold > 0; }
  // Whether a request for `model` may go to the provider now. A probe admission must be followed
  // by exactly one record(…, probe = true).
  Admission admit(const std::string& model, Clock::time_point now);
  void record(const std::string& model, Outcome outcome, bool probe, Clock::time_point now);
  State state(const std::string& model, Clock::time_point now) const;

 private:
  struct Entry {
    State state = State::closed;
    int consecutive_failures = 0;
    Clock::time_point opened_at{};
    bool probe_in_flight = false;
  };
  void open(Entry& e, Clock::time_point now);

  CircuitBreakerPolicy policy_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace llmux::detail
