#include <cstdlib>

#include <fmt/format.h>

#include <llmux/factory.hpp>
#include <llmux/runtime.hpp>

#include "providers/anthropic.hpp"
#include "providers/fake.hpp"
#include "providers/local.hpp"
#include "providers/ollama.hpp"
#include "providers/openai_compat.hpp"

namespace llmux {
namespace {

std::string env_or_empty(const std::string& name) {
  if (name.empty()) return {};
  const char* v = std::getenv(name.c_str());
  return v ? std::string(v) : std::string();
}

}  // namespace

ProviderRegistry ProviderRegistry::builtin() {
  ProviderRegistry r;
  r.add(providers::fake_provider_info());
  r.add(providers::local_provider_info());
  r.add(providers::anthropic_provider_info());
  r.add(providers::ollama_provider_info());
  for (auto& info : providers::openai_compatible_provider_infos()) r.add(std::move(info));
  return r;
}

void ProviderRegistry::add(ProviderInfo info) {
  if (info.name.empty() || !info.create) {
    throw_error(errc::invalid_argument, "ProviderRegistry::add: a provider needs a name and a factory");
  }
  std::string name = info.name;
  providers_.insert_or_assign(std::move(name), std::move(info));
}

const ProviderInfo* ProviderRegistry::find(std::string_view name) const {
  auto it = providers_.find(name);
  return it == providers_.end() ? nullptr : &it->second;
}

std::vector<const ProviderInfo*> ProviderRegistry::list() const {
  std::vector<const ProviderInfo*> out;
  out.reserve(providers_.size());
  for (const auto& [name, info] : providers_) out.push_back(&info);
  return out;
}

std::shared_ptr<Provider> ProviderRegistry::create(std::string_view name, ProviderConfig config,
                                                   Executor executor) const {
  const ProviderInfo* info = find(name);
  if (!info) {
    std::string known;
    for (const auto& [n, i] : providers_) known += (known.empty() ? "" : ", ") + n;
    throw_error(errc::unknown_provider,
                fmt::format("unknown provider '{}' (known: {})", name, known));
  }
  if (config.use_environment) {
    if (config.base_url.empty()) config.base_url = env_or_empty(info->base_url_env);
    if (config.api_key.empty()) config.api_key = env_or_empty(info->api_key_env);
  }
  if (config.base_url.empty()) config.base_url = info->default_base_url;
  if (info->requires_api_key && config.api_key.empty()) {
    ErrorInfo ei;
    ei.provider = info->name;
    throw_error(errc::authentication,
                info->api_key_env.empty()
                    ? fmt::format("provider '{}' needs an API key", info->name)
                    : fmt::format("provider '{}' needs an API key: set {} or pass one",
                                  info->name, info->api_key_env),
                std::move(ei));
  }
  auto provider = info->create(std::move(executor), config);
  provider->configure_resilience(std::move(config.resilience));
  return provider;
}

std::shared_ptr<Provider> create_llm(std::string_view provider, ProviderConfig config,
                                     Executor executor) {
  return ProviderRegistry::builtin().create(provider, std::move(config), std::move(executor));
}

std::shared_ptr<Provider> create_llm(std::string_view provider, ProviderConfig config,
                                     Runtime& runtime) {
  return create_llm(provider, std::move(config), runtime.get_executor());
}

}  // namespace llmux
