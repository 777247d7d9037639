// `llmux` subcommands. Each add_*_command registers one subcommand on the app; its callback
// does the work, writes results to stdout, and reports failure by throwing (llmux::Error, or
// CliError for usage problems). main() turns any exception into one line on stderr and a
// non-zero exit code.
#pragma once

#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

namespace llmux::cli {

// A usage error found after parsing (bad file, conflicting options): exit code 2.
class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void add_generate_command(CLI::App& app);
void add_providers_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_render_template_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_mock_server_command(CLI::App& app);
void add_bench_command(CLI::App& app);  // `bench`; its children: add_bench_client(bench), …
void add_bench_client(CLI::App& bench);
void add_bench_engine(CLI::App& bench);

}  // namespace llmux::cli
