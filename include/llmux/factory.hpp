// Creating providers by name: create_llm(), ProviderConfig and the provider registry.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <llmux/provider.hpp>

namespace llmux {

class Runtime;

// Deadlines of one request, each optional: connect (DNS, TCP, proxy, TLS), first token
// (request sent -> first response byte), idle (between streamed chunks), total.
struct Timeouts {
  std::optional<std::chrono::milliseconds> connect;
  std::optional<std::chrono::milliseconds> first_token;
  std::optional<std::chrono::milliseconds> idle;
  std::optional<std::chrono::milliseconds> total;
};

struct ProviderConfig {
  std::string base_url;  // empty: the provider's environment variable, then its default
  std::string api_key;   // empty: the provider's environment variable, if it has one
  std::string model;     // the default model for requests that name none
  std::vector<std::pair<std::string, std::string>> headers;  // extra HTTP headers
  // Provider-specific settings as text, e.g. for "fake": {"ttft_ms", "50"}. Unknown keys are
  // rejected by the provider with InvalidArgumentError.
  std::map<std::string, std::string> options;
  // Whether unset base_url and api_key are read from the provider's environment variables.
  bool use_environment = true;
  // HTTP providers: deadlines, connections kept per host, TLS trust.
  Timeouts timeouts;
  std::size_t max_connections = 256;
  std::string ca_file;     // PEM bundle trusted in addition to the system store
  bool verify_tls = true;  // certificate and host name verification
  // Retries, circuit breaker, concurrency limit, clock and request observers
  // (include/llmux/resilience.hpp). Default: one attempt, no breaker, no limit.
  ResilienceConfig resilience;
};

struct ProviderInfo {
  std::string name;
  std::string description;
  std::string default_base_url;  // empty for providers without one
  std::string base_url_env;      // e.g. "OPENAI_BASE_URL"; empty if none
  std::string api_key_env;       // e.g. "OPENAI_API_KEY"; empty if none
  bool requires_api_key = false;
  // Builds the provider from a config whose base_url/api_key are already resolved.
  std::function<std::shared_ptr<Provider>(Executor, const ProviderConfig&)> create;
};

// A set of provider factories. Not global: builtin() returns a fresh registry holding llmux's
// own providers, which the caller may extend. Thread safety: const members are thread-safe.
class ProviderRegistry {
 public:
  static ProviderRegistry builtin();

  // Adds or replaces the provider of info.name.
  void add(ProviderInfo info);
  const ProviderInfo* find(std::string_view name) const;
  // All providers, sorted by name.
  std::vector<const ProviderInfo*> list() const;

  // Resolves base_url and api_key (config, then environment, then default) and creates the
  // provider. Throws UnknownProviderError for an unknown name, AuthenticationError when a
  // required key is missing, InvalidArgumentError for a bad config.
  std::shared_ptr<Provider> create(std::string_view name, ProviderConfig config,
                                   Executor executor) const;

 private:
  std::map<std::string, ProviderInfo, std::less<>> providers_;
};

// create_llm("openai", {.model = "gpt-4o-mini"}, runtime) — a provider from the built-in registry.
std::shared_ptr<Provider> create_llm(std::string_view provider, ProviderConfig config,
                                     Executor executor);
std::shared_ptr<Provider> create_llm(std::string_view provider, ProviderConfig config,
                                     Runtime& runtime);

}  // namespace llmux
