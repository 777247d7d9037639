// `llmux tokenize --model FILE.gguf [--json] [--add-special] [--parse-special] TEXT`: the token
// ids of TEXT under the model's own tokenizer (DESIGN.md, "Command-line contract").
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "engine/gguf/gguf.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace llmux::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string text;
  bool json = false;
  bool add_special = false;
  bool parse_special = false;
};

void run_tokenize(const TokenizeArgs& a) {
  auto file = engine::gguf::GgufFile::open(a.model);
  auto tok = engine::tokenizer::Tokenizer::from_gguf(file);
  const auto ids = tok.encode(a.text, {.add_special = a.add_special,
                                       .parse_special = a.parse_special});
  if (a.json) {
    fmt::print("[{}]\n", fmt::join(ids, ","));
  } else {
    fmt::print("{}\n", fmt::join(ids, " "));
  }
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Token ids of TEXT under a GGUF model's tokenizer");
  cmd->add_option("--model", args->model, "GGUF model (or vocabulary-only) file")->required();
  cmd->add_flag("--json", args->json, "Print a JSON array of integers");
  cmd->add_flag("--add-special", args->add_special, "Add BOS/EOS as the model's metadata says");
  cmd->add_flag("--parse-special", args->parse_special,
                "Turn text spelling a control token (e.g. <|im_end|>) into that token");
  cmd->add_option("TEXT", args->text, "Text to tokenize")->required();
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace llmux::cli
