// `llmux generate`: one request to any provider, streamed or not, printed as text or JSON.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <llmux/llmux.hpp>

#include "cli/commands.hpp"
#include "core/json_codec.hpp"

namespace llmux::cli {
namespace {

struct GenerateArgs {
  std::string provider;
  std::string model;
  std::string base_url;
  std::string api_key;
  std::string system;
  std::int64_t max_tokens = 0;
  double temperature = 0;
  double top_p = 0;
  int top_k = 0;
  std::uint64_t seed = 0;
  std::vector<std::string> stop;
  std::string tools_file;
  std::string schema_file;
  bool stream = false;
  bool json = false;
  double timeout_s = 0;
  bool raw = false;
  int ctx_size = 0;
  int threads = 0;
  std::string precision;
  std::vector<std::string> provider_options;
  std::string prompt;

  // Which options were given (unset numeric options send nothing).
  CLI::Option* max_tokens_opt = nullptr;
  CLI::Option* temperature_opt = nullptr;
  CLI::Option* top_p_opt = nullptr;
  CLI::Option* top_k_opt = nullptr;
  CLI::Option* seed_opt = nullptr;
  CLI::Option* timeout_opt = nullptr;
  CLI::Option* ctx_size_opt = nullptr;
  CLI::Option* threads_opt = nullptr;
  CLI::Option* precision_opt = nullptr;
};

std::string read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CliError(fmt::format("{}: cannot read '{}'", what, path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_gguf_path(std::string_view model) {
  return model.size() > 5 && model.substr(model.size() - 5) == ".gguf";
}

// A --model naming a .gguf file selects the local engine; the local-only flags need one.
void resolve_local(GenerateArgs& a) {
  const bool local = is_gguf_path(a.model);
  const char* given = a.raw                 ? "--raw"
                      : a.ctx_size_opt->count() ? "--ctx-size"
                      : a.threads_opt->count()  ? "--threads"
                      : a.precision_opt->count() ? "--precision"
                                                 : nullptr;
  if (local) {
    if (!a.provider.empty() && a.provider != "local") {
      throw CliError(fmt::format("'{}' is a GGUF file, which only --provider local runs",
                                 a.model));
    }
    a.provider = "local";
    return;
  }
  if (given) {
    throw CliError(fmt::format("{} applies to local .gguf models only", given));
  }
}

ProviderConfig make_config(const GenerateArgs& a) {
  ProviderConfig config;
  config.base_url = a.base_url;
  config.api_key = a.api_key;
  config.model = a.model;
  for (const auto& kv : a.provider_options) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CliError(fmt::format("--provider-option '{}': expected KEY=VALUE", kv));
    }
    config.options[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (a.provider == "local") {
    if (a.ctx_size_opt->count()) config.options["ctx_size"] = std::to_string(a.ctx_size);
    if (a.threads_opt->count()) config.options["threads"] = std::to_string(a.threads);
    if (a.precision_opt->count()) config.options["precision"] = a.precision;
    config.options.emplace("progress", "1");
  }
  return config;
}

Request make_request(const GenerateArgs& a) {
  Request req;
  // The local engine names its model itself (general.name); a path is not a model name.
  if (a.provider != "local") req.model = a.model;
  if (a.raw) req.options.extra_body = R"({"raw":true})";
  if (!a.system.empty()) req.messages.push_back(Message::system(a.system));
  req.messages.push_back(Message::user(a.prompt));
  GenerateOptions& o = req.options;
  if (a.max_tokens_opt->count()) o.max_output_tokens = a.max_tokens;
  if (a.temperature_opt->count()) o.temperature = a.temperature;
  if (a.top_p_opt->count()) o.top_p = a.top_p;
  if (a.top_k_opt->count()) o.top_k = a.top_k;
  if (a.seed_opt->count()) o.seed = a.seed;
  o.stop = a.stop;
  if (!a.tools_file.empty()) {
    o.tools = json::parse_tool_definitions(read_file(a.tools_file, "--tools"));
  }
  if (!a.schema_file.empty()) {
    o.response_format = ResponseFormat::json_schema(
        json::parse_schema(read_file(a.schema_file, "--schema")));
  }
  return req;
}

void print_text_result(const Response& r, bool streamed) {
  if (!streamed) std::fputs(r.content.c_str(), stdout);
  if (!r.content.empty() || streamed) std::fputc('\n', stdout);
  for (const auto& c : r.tool_calls) {
    fmt::print("[tool call {}] {}({})\n", c.id, c.name, c.arguments);
  }
}

// Runs the request (streaming or not), printing deltas as they arrive when streaming.
asio::awaitable<Response> run_request(std::shared_ptr<Provider> provider, Request req,
                                      bool stream) {
  if (!stream) co_return co_await provider->async_generate(std::move(req), asio::use_awaitable);
  Stream s = provider->async_stream(std::move(req));
  while (auto event = co_await s.async_next(asio::use_awaitable)) {
    if (auto* t = std::get_if<TextDelta>(&*event)) {
      std::fwrite(t->text.data(), 1, t->text.size(), stdout);
      std::fflush(stdout);
    } else if (auto* r = std::get_if<ReasoningDelta>(&*event)) {
      std::fwrite(r->text.data(), 1, r->text.size(), stderr);
    }
  }
  co_return *s.response();
}

asio::awaitable<Response> run_with_timeout(std::shared_ptr<Provider> provider, Request req,
                                           bool stream, double timeout_s) {
  using namespace asio::experimental::awaitable_operators;
  if (timeout_s <= 0) co_return co_await run_request(std::move(provider), std::move(req), stream);
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(timeout_s)));
  auto result = co_await (run_request(provider, std::move(req), stream) ||
                          timer.async_wait(asio::use_awaitable));
  if (result.index() == 1) {
    throw_error(errc::timeout, fmt::format("request timed out after {} s", timeout_s));
  }
  co_return std::get<0>(std::move(result));
}

// CLI11 validators with one-line messages.
std::string positive_integer(const std::string& s) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v <= 0) {
    return fmt::format("'{}' is not a positive integer", s);
  }
  return {};
}

std::string unsigned_integer(const std::string& s) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return fmt::format("'{}' is not a non-negative integer", s);
  }
  return {};
}

std::string number(const std::string& s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) {
    return fmt::format("'{}' is not a finite number", s);
  }
  return {};
}

std::string default_provider() {
  const char* env = std::getenv("LLMUX_PROVIDER");
  return env ? env : "";
}

void run_generate(GenerateArgs& a) {
  if (a.provider.empty() && !is_gguf_path(a.model)) a.provider = default_provider();
  resolve_local(a);
  if (a.provider.empty()) {
    throw CliError("no provider: pass --provider NAME or set LLMUX_PROVIDER (see `llmux providers`)");
  }
  if (a.temperature_opt->count() && !(std::isfinite(a.temperature) && a.temperature >= 0)) {
    throw CliError("--temperature must be a finite number >= 0");
  }
  if (a.top_p_opt->count() && !(a.top_p > 0 && a.top_p <= 1)) {
    throw CliError("--top-p must be in (0, 1]");
  }
  if (a.timeout_opt->count() && !(std::isfinite(a.timeout_s) && a.timeout_s > 0)) {
    throw CliError("--timeout must be a number of seconds > 0");
  }
  Request req = make_request(a);
  Runtime runtime(1);
  auto provider = create_llm(a.provider, make_config(a), runtime);
  Response r = asio::co_spawn(runtime.get_executor(),
                              run_with_timeout(provider, std::move(req), a.stream, a.timeout_s),
                              asio::use_future)
                   .get();
  if (a.json) {
    if (a.stream) std::fputc('\n', stdout);
    std::string line = json::to_text(json::response_to_json(r));
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
  } else {
    print_text_result(r, a.stream);
  }
  std::fflush(stdout);
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Send one prompt to a provider and print the answer");
  cmd->add_option("--provider", args->provider, "Provider name (default: $LLMUX_PROVIDER)");
  cmd->add_option("--model", args->model, "Model name, or a .gguf file for the local engine");
  cmd->add_option("--base-url", args->base_url, "Override the provider's base URL");
  cmd->add_option("--api-key", args->api_key, "API key (default: the provider's env variable)");
  cmd->add_option("--system", args->system, "System prompt");
  args->max_tokens_opt = cmd->add_option("--max-tokens", args->max_tokens, "Maximum output tokens")
                             ->check(positive_integer);
  args->temperature_opt = cmd->add_option("--temperature", args->temperature,
                                          "Sampling temperature (0: greedy)")
                              ->check(number);
  args->top_p_opt = cmd->add_option("--top-p", args->top_p, "Nucleus sampling mass")->check(number);
  args->top_k_opt = cmd->add_option("--top-k", args->top_k, "Top-k sampling")->check(positive_integer);
  args->seed_opt = cmd->add_option("--seed", args->seed, "Sampling seed")->check(unsigned_integer);
  cmd->add_option("--stop", args->stop, "Stop sequence (repeatable)")->allow_extra_args(false);
  cmd->add_option("--tools", args->tools_file, "JSON file: array of OpenAI-style tool definitions");
  cmd->add_option("--schema", args->schema_file, "JSON file: JSON Schema for structured output");
  cmd->add_flag("--stream", args->stream, "Stream the answer as it is generated");
  cmd->add_flag("--json", args->json, "Print the result as one JSON object");
  args->timeout_opt = cmd->add_option("--timeout", args->timeout_s, "Total timeout in seconds")
                          ->check(number);
  cmd->add_flag("--raw", args->raw, "Local engine: no chat template");
  args->ctx_size_opt = cmd->add_option("--ctx-size", args->ctx_size, "Local engine: context size")
                           ->check(positive_integer);
  args->threads_opt = cmd->add_option("--threads", args->threads, "Local engine: compute threads")
                          ->check(positive_integer);
  args->precision_opt = cmd->add_option("--precision", args->precision, "Local engine: default|full")
                            ->check(CLI::IsMember({"default", "full"}));
  cmd->add_option("-o,--provider-option", args->provider_options,
                  "Provider-specific setting KEY=VALUE (repeatable), e.g. ttft_ms=50 for fake")
      ->allow_extra_args(false);
  cmd->add_option("PROMPT", args->prompt, "The prompt")->required();
  cmd->callback([args] { run_generate(*args); });
}

}  // namespace llmux::cli
