// llmux: the command-line tool. See DESIGN.md ("Command-line contract").
#include <cstdio>
#include <exception>
#include <string>

#include <fmt/format.h>

#include <llmux/error.hpp>

#include "cli/commands.hpp"

namespace {

// One line, whatever the message holds.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"llmux: one async interface to remote LLM providers and local GGUF models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "llmux 0.1.0");
  llmux::cli::add_generate_command(app);
  llmux::cli::add_providers_command(app);
  llmux::cli::add_tokenize_command(app);
  llmux::cli::add_render_template_command(app);
  llmux::cli::add_logits_command(app);
  llmux::cli::add_mock_server_command(app);
  llmux::cli::add_bench_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "llmux: {}\n", one_line(e.what()));
    return 2;
  } catch (const llmux::cli::CliError& e) {
    fmt::print(stderr, "llmux: {}\n", one_line(e.what()));
    return 2;
  } catch (const llmux::Error& e) {
    fmt::print(stderr, "llmux: error ({}): {}\n", llmux::to_string(e.code()), one_line(e.what()));
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "llmux: error: {}\n", one_line(e.what()));
    return 1;
  }
  return 0;
}
