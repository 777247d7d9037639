// `llmux bench`: benchmarks. `bench client` runs the same N requests one at a time, then with
// at most c in flight for each concurrency level c, through the public async API of any provider,
// and reports wall time, requests/s, output tokens/s, TTFT and latency percentiles, errors and
// the speedup over the sequential run (DESIGN.md, "Command-line contract").
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <llmux/llmux.hpp>

#include "cli/commands.hpp"
#include "core/json_codec.hpp"

namespace llmux::cli {
namespace {

using Clock = std::chrono::steady_clock;
namespace bj = boost::json;

struct BenchClientArgs {
  std::string provider;
  std::string base_url;
  std::string model;
  std::string api_key;
  std::size_t requests = 0;
  std::string concurrency = "1,4,16,64";
  bool stream = false;
  bool json = false;
  std::int64_t max_tokens = 0;
  std::string prompt = "Write a short story about request number {}.";
  double timeout_s = 0;
  std::vector<std::string> provider_options;
  std::string extra_body;
  CLI::Option* max_tokens_opt = nullptr;
};

struct Sample {
  bool ok = false;
  double latency_ms = 0;
  std::optional<double> ttft_ms;
  std::int64_t output_tokens = 0;
  std::exception_ptr error;
};

struct RunStats {
  std::size_t c = 1;
  double wall_s = 0;
  double rps = 0;
  double output_tok_s = 0;
  double speedup = 0;
  std::optional<double> ttft_ms_p50;
  double latency_ms_p50 = 0, latency_ms_p90 = 0, latency_ms_p99 = 0;
  std::size_t errors = 0;
  std::exception_ptr first_error;
};

std::vector<std::size_t> parse_concurrency(const std::string& text) {
  std::vector<std::size_t> levels;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t v = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || ptr != item.data() + item.size() || v == 0 || v > 100000) {
      throw CliError(fmt::format("--concurrency: '{}' is not a level in 1..100000", item));
    }
    levels.push_back(v);
  }
  if (levels.empty()) throw CliError("--concurrency: give at least one level, e.g. 1,4,16,64");
  return levels;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

bool is_output_event(const StreamEvent& e) {
  return std::holds_alternative<TextDelta>(e) || std::holds_alternative<ReasoningDelta>(e) ||
         std::holds_alternative<ToolCallDelta>(e);
}

asio::awaitable<Sample> run_one(std::shared_ptr<Provider> provider, Request request, bool stream) {
  Sample s;
  const auto start = Clock::now();
  try {
    Response r;
    if (stream) {
      Stream events = provider->async_stream(std::move(request));
      while (auto event = co_await events.async_next(asio::use_awaitable)) {
        if (!s.ttft_ms && is_output_event(*event)) s.ttft_ms = ms_since(start);
      }
      if (auto done = events.response()) r = std::move(*done);
    } else {
      r = co_await provider->async_generate(std::move(request), asio::use_awaitable);
      if (r.timings.time_to_first_token) {
        s.ttft_ms = std::chrono::duration<double, std::milli>(*r.timings.time_to_first_token).count();
      }
    }
    s.output_tokens = r.usage.output_tokens;
    s.ok = true;
  } catch (...) {
    s.error = std::current_exception();
  }
  s.latency_ms = ms_since(start);
  co_return s;
}

// The requests of one run, the samples they produce, and the workers pulling from them.
struct RunState {
  const std::vector<Request>* requests = nullptr;
  std::shared_ptr<Provider> provider;
  bool stream = false;
  std::vector<Sample> samples;
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::atomic<std::size_t> workers_left{0};
  std::promise<void> finished;
};

asio::awaitable<void> worker(std::shared_ptr<RunState> run) {
  for (;;) {
    const std::size_t i = run->next.fetch_add(1);
    if (i >= run->requests->size()) co_return;
    run->samples[i] = co_await run_one(run->provider, (*run->requests)[i], run->stream);
    run->done.fetch_add(1);
  }
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

RunStats summarize(const std::vector<Sample>& samples, std::size_t c, double wall_s) {
  RunStats st;
  st.c = c;
  st.wall_s = wall_s;
  std::vector<double> latency, ttft;
  std::int64_t tokens = 0;
  for (const Sample& s : samples) {
    if (!s.ok) {
      if (!st.first_error) st.first_error = s.error;
      ++st.errors;
      continue;
    }
    latency.push_back(s.latency_ms);
    if (s.ttft_ms) ttft.push_back(*s.ttft_ms);
    tokens += s.output_tokens;
  }
  std::sort(latency.begin(), latency.end());
  std::sort(ttft.begin(), ttft.end());
  const double ok = static_cast<double>(latency.size());
  st.rps = wall_s > 0 ? ok / wall_s : 0;
  st.output_tok_s = wall_s > 0 ? static_cast<double>(tokens) / wall_s : 0;
  if (!ttft.empty()) st.ttft_ms_p50 = percentile(ttft, 50);
  st.latency_ms_p50 = percentile(latency, 50);
  st.latency_ms_p90 = percentile(latency, 90);
  st.latency_ms_p99 = percentile(latency, 99);
  return st;
}

// Runs every request with at most c in flight; a progress line on stderr when it is a terminal.
RunStats run_level(Runtime& runtime, const std::shared_ptr<Provider>& provider,
                   const std::vector<Request>& requests, bool stream, std::size_t c,
                   const std::string& label) {
  auto run = std::make_shared<RunState>();
  run->requests = &requests;
  run->provider = provider;
  run->stream = stream;
  run->samples.resize(requests.size());
  const std::size_t workers = std::min(c, requests.size());
  run->workers_left = workers;
  auto finished = run->finished.get_future();
  const auto start = Clock::now();
  for (std::size_t w = 0; w < workers; ++w) {
    asio::co_spawn(runtime.get_executor(), worker(run), [run](std::exception_ptr) {
      if (run->workers_left.fetch_sub(1) == 1) run->finished.set_value();
    });
  }
  const bool progress = ::isatty(STDERR_FILENO) == 1;
  while (finished.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
    if (progress) fmt::print(stderr, "\r{}: {}/{} requests", label, run->done.load(), requests.size());
  }
  if (progress) fmt::print(stderr, "\r\033[K");
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  return summarize(run->samples, c, wall_s);
}

double rounded(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

std::string error_text(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown error";
  }
}

void print_json(double sequential_s, const std::vector<RunStats>& runs) {
  bj::array out_runs;
  for (const RunStats& r : runs) {
    bj::object o;
    o["c"] = r.c;
    o["wall_s"] = rounded(r.wall_s, 6);
    o["rps"] = rounded(r.rps, 3);
    o["output_tok_s"] = rounded(r.output_tok_s, 2);
    o["speedup"] = rounded(r.speedup, 3);
    o["ttft_ms_p50"] = r.ttft_ms_p50 ? bj::value(rounded(*r.ttft_ms_p50, 3)) : bj::value(nullptr);
    o["latency_ms_p50"] = rounded(r.latency_ms_p50, 3);
    o["latency_ms_p90"] = rounded(r.latency_ms_p90, 3);
    o["latency_ms_p99"] = rounded(r.latency_ms_p99, 3);
    o["errors"] = r.errors;
    out_runs.push_back(std::move(o));
  }
  bj::object root;
  root["sequential_s"] = rounded(sequential_s, 6);
  root["runs"] = std::move(out_runs);
  fmt::print("{}\n", json::to_text(root));
}

void print_table(const BenchClientArgs& a, const RunStats& seq, const std::vector<RunStats>& runs) {
  fmt::print("llmux bench client: {} requests to {}{}, {}\n", a.requests, a.provider,
             a.base_url.empty() ? "" : " at " + a.base_url, a.stream ? "streaming" : "not streaming");
  fmt::print("{:<12}{:>9}{:>9}{:>11}{:>10}{:>10}{:>10}{:>10}{:>8}{:>9}\n", "run", "wall s", "req/s",
             "out tok/s", "TTFT p50", "lat p50", "lat p90", "lat p99", "errors", "speedup");
  auto row = [](const std::string& name, const RunStats& r) {
    fmt::print("{:<12}{:>9.3f}{:>9.2f}{:>11.1f}{:>10}{:>10.1f}{:>10.1f}{:>10.1f}{:>8}{:>8.2f}x\n", name,
               r.wall_s, r.rps, r.output_tok_s,
               r.ttft_ms_p50 ? fmt::format("{:.1f}", *r.ttft_ms_p50) : std::string("-"),
               r.latency_ms_p50, r.latency_ms_p90, r.latency_ms_p99, r.errors, r.speedup);
  };
  row("sequential", seq);
  for (const RunStats& r : runs) row(fmt::format("c={}", r.c), r);
  fmt::print("(times in ms unless marked; TTFT: first streamed output, '-' when not measurable)\n");
}

ProviderConfig make_config(const BenchClientArgs& a) {
  ProviderConfig config;
  config.base_url = a.base_url;
  config.api_key = a.api_key;
  config.model = a.model;
  if (a.timeout_s > 0) {
    config.timeouts.total = std::chrono::milliseconds(static_cast<std::int64_t>(a.timeout_s * 1000));
  }
  for (const auto& kv : a.provider_options) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CliError(fmt::format("--provider-option '{}': expected KEY=VALUE", kv));
    }
    config.options[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return config;
}

std::vector<Request> make_requests(const BenchClientArgs& a) {
  std::vector<Request> requests(a.requests);
  for (std::size_t i = 0; i < a.requests; ++i) {
    std::string text = a.prompt;
    if (auto pos = text.find("{}"); pos != std::string::npos) text.replace(pos, 2, std::to_string(i + 1));
    requests[i].model = a.model;
    requests[i].messages.push_back(Message::user(std::move(text)));
    if (a.max_tokens_opt->count()) requests[i].options.max_output_tokens = a.max_tokens;
    requests[i].options.extra_body = a.extra_body;
  }
  return requests;
}

void run_bench_client(BenchClientArgs& a) {
  if (a.provider.empty()) {
    if (const char* env = std::getenv("LLMUX_PROVIDER")) a.provider = env;
  }
  if (a.provider.empty()) {
    throw CliError("no provider: pass --provider NAME or set LLMUX_PROVIDER (see `llmux providers`)");
  }
  if (!(std::isfinite(a.timeout_s) && a.timeout_s >= 0)) throw CliError("--timeout must be >= 0");
  const std::vector<std::size_t> levels = parse_concurrency(a.concurrency);
  const std::vector<Request> requests = make_requests(a);
  Runtime runtime(1);
  auto provider = create_llm(a.provider, make_config(a), runtime);

  RunStats seq = run_level(runtime, provider, requests, a.stream, 1, "sequential");
  if (seq.errors == requests.size()) std::rethrow_exception(seq.first_error);  // nothing worked
  seq.speedup = 1;
  std::vector<RunStats> runs;
  for (std::size_t c : levels) {
    RunStats r = run_level(runtime, provider, requests, a.stream, c, fmt::format("c={}", c));
    r.speedup = r.wall_s > 0 ? seq.wall_s / r.wall_s : 0;
    runs.push_back(std::move(r));
  }
  if (a.json) {
    print_json(seq.wall_s, runs);
  } else {
    print_table(a, seq, runs);
  }
  std::size_t errors = seq.errors;
  std::exception_ptr first = seq.first_error;
  for (const RunStats& r : runs) {
    errors += r.errors;
    if (!first) first = r.first_error;
  }
  if (first) fmt::print(stderr, "llmux bench client: {} failed requests; first: {}\n", errors, error_text(first));
  std::fflush(stdout);
}

}  // namespace

void add_bench_client(CLI::App& bench) {
  auto args = std::make_shared<BenchClientArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "client", "The same N requests one at a time, then at each concurrency level (async API)");
  cmd->add_option("--provider", args->provider, "Provider name (default: $LLMUX_PROVIDER)");
  cmd->add_option("--base-url", args->base_url, "Override the provider's base URL");
  cmd->add_option("--model", args->model, "Model name");
  cmd->add_option("--api-key", args->api_key, "API key (default: the provider's env variable)");
  cmd->add_option("--requests", args->requests, "Requests per run")
      ->required()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24));
  cmd->add_option("--concurrency", args->concurrency, "Comma-separated concurrency levels (default 1,4,16,64)");
  cmd->add_flag("--stream", args->stream, "Stream the answers (TTFT = first streamed output)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  args->max_tokens_opt = cmd->add_option("--max-tokens", args->max_tokens, "Maximum output tokens per request")
                             ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
  cmd->add_option("--prompt", args->prompt, "Prompt; {} becomes the request number");
  cmd->add_option("--extra-body", args->extra_body,
                  "JSON object merged into each request (provider-specific; local: "
                  "{\"raw\":true,\"ignore_eos\":true} for fixed-length runs)");
  cmd->add_option("--timeout", args->timeout_s, "Total timeout per request, seconds (0: none)");
  cmd->add_option("-o,--provider-option", args->provider_options, "Provider-specific setting KEY=VALUE")
      ->allow_extra_args(false);
  cmd->callback([args] { run_bench_client(*args); });
}

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks: client (any provider), engine (local)");
  bench->require_subcommand(1);
  add_bench_client(*bench);
  add_bench_engine(*bench);
}

}  // namespace llmux::cli
