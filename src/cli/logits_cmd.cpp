// `llmux logits --model FILE.gguf --tokens "ID ID ..." [--precision default|full]
// [--threads N]`: the logits of the last position after evaluating exactly these ids, one
// float per line ("%.9g") (DESIGN.md, "Command-line contract").
#include <charconv>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "engine/model/model.hpp"

namespace llmux::cli {
namespace {

struct LogitsArgs {
  std::string model;
  std::string tokens;
  std::string precision = "default";
  int threads = 0;
};

std::vector<engine::model::TokenId> parse_ids(const std::string& text) {
  std::vector<engine::model::TokenId> ids;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    if (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') {
      ++p;
      continue;
    }
    engine::model::TokenId id = 0;
    const auto [next, ec] = std::from_chars(p, end, id);
    if (ec != std::errc() || (next < end && *next != ' ' && *next != ',' && *next != '\t' &&
                              *next != '\n')) {
      throw CliError(fmt::format("--tokens: '{}' is not a list of integer token ids", text));
    }
    ids.push_back(id);
    p = next;
  }
  if (ids.empty()) throw CliError("--tokens: no token ids given");
  return ids;
}

void run_logits(const LogitsArgs& a) {
  const auto ids = parse_ids(a.tokens);
  const auto model = engine::model::Model::load(a.model);
  engine::model::ContextOptions options;
  options.precision = a.precision == "full" ? engine::model::Precision::full
                                            : engine::model::Precision::default_;
  options.n_threads = a.threads > 0 ? a.threads
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.n_ctx = static_cast<std::int64_t>(ids.size());
  engine::model::Context ctx(model, options);
  std::vector<engine::model::BatchToken> batch;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    batch.push_back({ids[i], static_cast<std::int64_t>(i), 0, i + 1 == ids.size()});
  }
  std::span<const float> logits;
  for (std::size_t start = 0; start < batch.size(); start += 512) {
    const std::size_t n = std::min<std::size_t>(512, batch.size() - start);
    logits = ctx.eval(std::span(batch).subspan(start, n));
  }
  std::string out;
  out.reserve(logits.size() * 14);
  for (float v : logits) {
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%.9g\n", static_cast<double>(v));
    out.append(buf, static_cast<std::size_t>(n));
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto args = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "logits", "Logits of the last position after evaluating token ids with a GGUF model");
  cmd->add_option("--model", args->model, "GGUF model file")->required();
  cmd->add_option("--tokens", args->tokens, "Token ids, separated by spaces")->required();
  cmd->add_option("--precision", args->precision, "default (float16 KV cache) or full (float32)")
      ->check(CLI::IsMember({"default", "full"}));
  cmd->add_option("--threads", args->threads, "Compute threads (default: all cores)")
      ->check(CLI::PositiveNumber);
  cmd->callback([args] { run_logits(*args); });
}

}  // namespace llmux::cli
