// The `fake` provider: deterministic responses computed from the request, with simulated
// latency, time to first token, token rate and injected failures. No network; used by tests,
// examples and benchmarks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <llmux/factory.hpp>

namespace llmux::providers {

struct FakeSettings {
  std::string model = "fake-model";
  std::chrono::milliseconds latency{0};  // before anything happens (network round trip)
  std::chrono::milliseconds ttft{0};     // then until the first token
  double tokens_per_second = 0;          // then one token per 1/rate; 0: all at once
  int output_tokens = 16;                // words generated when nothing stops earlier
  // Failure injection: `fail` is the error; the first `fail_first` requests fail, then each
  // further one fails with probability `fail_rate` (seeded by `fail_seed`, deterministic per
  // request number). With `fail_after_tokens` the failure comes after that many tokens.
  std::optional<errc> fail;
  int fail_first = 0;
  double fail_rate = 0;
  std::uint64_t fail_seed = 1;
  std::optional<int> fail_after_tokens;
  std::optional<std::chrono::milliseconds> retry_after;  // carried by injected failures
};

// Parses ProviderConfig::options ("latency_ms", "ttft_ms", "tokens_per_second",
// "output_tokens", "fail", "fail_first", "fail_rate", "fail_seed", "fail_after_tokens",
// "retry_after_ms"). Throws InvalidArgumentError on unknown keys and malformed values.
FakeSettings parse_fake_settings(const ProviderConfig& config);

// What the fake provider answers to a request, before timing: the deterministic plan.
struct FakePlan {
  std::vector<std::string> pieces;  // text deltas, one per output token
  std::vector<ToolCall> tool_calls;
  FinishReason finish_reason = FinishReason::stop;
  Usage usage;
};
FakePlan plan_fake_response(const Request& request, const FakeSettings& settings);

ProviderInfo fake_provider_info();

}  // namespace llmux::providers
