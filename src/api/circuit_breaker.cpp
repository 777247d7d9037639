#include "api/circuit_breaker.hpp"

#include <algorithm>

namespace llmux::detail {

void CircuitBreakers::open(Entry& e, Clock::time_point now) {
  e.state = State::open;
  e.opened_at = now;
  e.probe_in_flight = false;
}

CircuitBreakers::Admission CircuitBreakers::admit(const std::string& model, Clock::time_point now) {
  if (!enabled()) return {};
  std::lock_guard lock(mu_);
  Entry& e = entries_[model];
  if (e.state == State::open) {
    auto elapsed = now - e.opened_at;
    if (elapsed < policy_.cool_down) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(policy_.cool_down - elapsed);
      return {false, false, left};
    }
    e.state = State::half_open;
    e.probe_in_flight = false;
  }
  if (e.state == State::half_open) {
    if (e.probe_in_flight) return {false, false, std::chrono::milliseconds(0)};
    e.probe_in_flight = true;
    return {true, true, {}};
  }
  return {};
}

void CircuitBreakers::record(const std::string& model, Outcome outcome, bool probe,
                             Clock::time_point now) {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  Entry& e = entries_[model];
  if (probe && e.state == State::half_open) e.probe_in_flight = false;
  switch (outcome) {
    case Outcome::success:
      e.state = State::closed;
      e.consecutive_failures = 0;
      break;
    case Outcome::retryable_failure:
      if (e.state == State::half_open) {
        if (probe) open(e, now);
        break;
      }
      if (e.state == State::open) break;  // a request admitted before it opened
      if (++e.consecutive_failures >= policy_.failure_threshold) open(e, now);
      break;
    case Outcome::other:
      break;
  }
}

CircuitBreakers::State CircuitBreakers::state(const std::string& model, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(model);
  if (it == entries_.end()) return State::closed;
  const Entry& e = it->second;
  if (e.state == State::open && now - e.opened_at >= policy_.cool_down) return State::half_open;
  return e.state;
}

}  // namespace llmux::detail
