// `llmux mock-server`: a simulated OpenAI/Ollama inference server (src/testing/inference_sim.hpp)
// on 127.0.0.1, until SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>
#include <future>

#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include <llmux/llmux.hpp>

#include "cli/commands.hpp"
#include "testing/inference_sim.hpp"

namespace llmux::cli {
namespace {

struct MockServerArgs {
  int port = 0;
  std::size_t slots = 1;
  double ttft_ms = 0;
  double tok_per_s = 0;
  std::int64_t output_tokens = 16;
  double error_rate = 0;
  int error_status = 500;
  std::size_t queue_limit = 0;
  std::uint64_t seed = 0;
  std::string model = "llmux-mock";
  CLI::Option* queue_limit_opt = nullptr;
  CLI::Option* seed_opt = nullptr;
};

testing::SimulatorOptions to_options(const MockServerArgs& a) {
  if (!(a.ttft_ms >= 0 && a.ttft_ms <= 3.6e6)) throw CliError("--ttft-ms must be in [0, 3600000]");
  testing::SimulatorOptions o;
  o.slots = a.slots;
  o.ttft = std::chrono::microseconds(static_cast<std::int64_t>(a.ttft_ms * 1000.0 + 0.5));
  o.tokens_per_second = a.tok_per_s;
  o.output_tokens = a.output_tokens;
  o.error_rate = a.error_rate;
  o.error_status = a.error_status;
  if (a.queue_limit_opt->count()) o.queue_limit = a.queue_limit;
  if (a.seed_opt->count()) o.seed = a.seed;
  o.model = a.model;
  return o;
}

void run_mock_server(const MockServerArgs& a) {
  if (a.port < 0 || a.port > 65535) throw CliError("--port must be in 0..65535");
  testing::SimulatorOptions options = to_options(a);
  testing::validate(options);
  Runtime runtime(1);
  testing::InferenceServer server(runtime.get_executor(), options, static_cast<std::uint16_t>(a.port));
  // The first line is for scripts and tests: they read the port from it.
  fmt::print("llmux mock-server listening on {} (slots {}, ttft {} ms, {} tok/s, {} output tokens, "
             "error rate {}, queue limit {})\n",
             server.base_url(), options.slots, a.ttft_ms,
             options.tokens_per_second > 0 ? fmt::to_string(options.tokens_per_second) : "unlimited",
             options.output_tokens, options.error_rate,
             options.queue_limit ? fmt::to_string(*options.queue_limit) : "none");
  std::fflush(stdout);

  std::promise<int> stopped;
  asio::signal_set signals(runtime.get_executor(), SIGINT, SIGTERM);
  signals.async_wait([&stopped](boost::system::error_code ec, int signal) {
    stopped.set_value(ec ? 0 : signal);
  });
  stopped.get_future().wait();
  server.stop();
  const testing::SimulatorStats s = server.stats();
  fmt::print(stderr, "llmux mock-server: stopped; {} admitted, {} completed, {} refused (queue full), "
                     "{} simulated errors, {} bad requests, at most {} generating and {} queued at once\n",
             s.admitted, s.completed, s.rejected, s.errors, s.bad_requests, s.peak_active, s.peak_queued);
}

}  // namespace

void add_mock_server_command(CLI::App& app) {
  auto args = std::make_shared<MockServerArgs>();
  CLI::App* cmd = app.add_subcommand(
      "mock-server", "Run a simulated OpenAI/Ollama inference server on 127.0.0.1 (until Ctrl-C)");
  cmd->add_option("--port", args->port, "TCP port (0: any free port, printed on the first line)")
      ->required();
  cmd->add_option("--slots", args->slots, "Requests generated in parallel; the rest wait in a FIFO queue")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  cmd->add_option("--ttft-ms", args->ttft_ms, "Time from slot to first token, in ms")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--tok-per-s", args->tok_per_s, "Tokens per second per slot (0: no delay)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--output-tokens", args->output_tokens,
                  "Tokens per answer (fewer when the request's max_tokens/num_predict is smaller)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 24));
  cmd->add_option("--error-rate", args->error_rate, "Fraction of requests answered with --error-status")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--error-status", args->error_status, "HTTP status of simulated errors (default 500)")
      ->check(CLI::Range(400, 599));
  args->queue_limit_opt =
      cmd->add_option("--queue-limit", args->queue_limit,
                      "Requests allowed to wait for a slot; more get 503 (default: no limit)");
  args->seed_opt = cmd->add_option("--seed", args->seed, "Seed of the error draws (deterministic runs)");
  cmd->add_option("--model", args->model, "Model name listed and used when a request names none");
  cmd->callback([args] { run_mock_server(*args); });
}

}  // namespace llmux::cli
