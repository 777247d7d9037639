// `llmux providers`: the known providers, their base URLs and environment variables.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include <llmux/factory.hpp>

#include "cli/commands.hpp"

namespace llmux::cli {

void add_providers_command(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("providers", "List known providers, base URLs and env vars");
  cmd->add_flag("--json", *json, "Print a JSON array");
  cmd->callback([json] {
    ProviderRegistry registry = ProviderRegistry::builtin();
    if (*json) {
      boost::json::array out;
      for (const ProviderInfo* p : registry.list()) {
        out.push_back({{"name", p->name},
                       {"description", p->description},
                       {"base_url", p->default_base_url},
                       {"base_url_env", p->base_url_env},
                       {"api_key_env", p->api_key_env},
                       {"requires_api_key", p->requires_api_key}});
      }
      fmt::print("{}\n", boost::json::serialize(out));
      return;
    }
    fmt::print("{:<20} {:<34} {:<40} {}\n", "PROVIDER", "BASE URL", "ENVIRONMENT", "DESCRIPTION");
    for (const ProviderInfo* p : registry.list()) {
      std::string env = p->api_key_env;
      if (!p->base_url_env.empty()) env += (env.empty() ? "" : ", ") + p->base_url_env;
      fmt::print("{:<20} {:<34} {:<40} {}\n", p->name, p->default_base_url.empty() ? "-" : p->default_base_url,
                 env.empty() ? "-" : env, p->description);
    }
  });
}

}  // namespace llmux::cli
