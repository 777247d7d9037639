// `llmux render-template`: prints exactly the prompt a chat template renders, as transformers'
// apply_chat_template would. The template comes from a .jinja file or a GGUF model (its
// tokenizer.chat_template, else a built-in fallback chosen from architecture and vocabulary);
// bos_token/eos_token come from the model's vocabulary and may be overridden with --var.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include <llmux/error.hpp>

#include "cli/commands.hpp"
#include "engine/chat_template/chat_template.hpp"
#include "engine/chat_template/model_template.hpp"
#include "engine/gguf/gguf.hpp"
#include "engine/gguf/metadata.hpp"

namespace llmux::cli {

namespace {

namespace ct = llmux::engine::chat_template;

struct RenderTemplateArgs {
  std::string template_path;
  std::string model_path;
  std::string messages_path;
  std::string tools_path;
  bool add_generation_prompt = false;
  std::vector<std::string> vars;
};

std::string read_text_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CliError(std::string("cannot read ") + what + " file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw CliError(std::string("cannot read ") + what + " file '" + path + "'");
  return ss.str();
}

// --var NAME=JSON values as one JSON object (later values win).
boost::json::object parse_vars(const std::vector<std::string>& vars) {
  boost::json::object out;
  for (const std::string& v : vars) {
    const auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CliError("--var expects NAME=JSON, got '" + v + "'");
    }
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(std::string_view(v).substr(eq + 1), ec);
    if (ec) {
      throw CliError("--var " + v.substr(0, eq) + ": the value is not valid JSON (" +
                     ec.message() + "); quote strings, e.g. --var 'name=\"text\"'");
    }
    out[v.substr(0, eq)] = std::move(value);
  }
  return out;
}

void run_render_template(const RenderTemplateArgs& args) {
  ct::ModelTemplate tpl;
  if (!args.template_path.empty()) {
    tpl.source = read_text_file(args.template_path, "template");
  } else {
    const auto file = engine::gguf::GgufFile::open(args.model_path);
    tpl = ct::template_for_model(file, engine::gguf::read_tokenizer_metadata(file));
  }
  const std::string messages = read_text_file(args.messages_path, "messages");
  const std::string tools =
      args.tools_path.empty() ? std::string() : read_text_file(args.tools_path, "tools");
  ct::RenderOptions options;
  options.add_generation_prompt = args.add_generation_prompt;
  options.bos_token = tpl.bos_token;
  options.eos_token = tpl.eos_token;
  const boost::json::object vars = parse_vars(args.vars);
  if (!vars.empty()) options.extra_variables_json = boost::json::serialize(vars);
  const ct::ChatTemplate chat_template(tpl.source);
  const std::string prompt = chat_template.render_json(messages, tools, options);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

void add_render_template_command(CLI::App& app) {
  auto args = std::make_shared<RenderTemplateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "render-template", "Print the prompt a chat template renders for a conversation");
  auto* tpl = cmd->add_option("--template", args->template_path, "A Jinja chat template file");
  auto* model = cmd->add_option("--model", args->model_path,
                                "A GGUF model: its chat template, or a built-in fallback");
  tpl->excludes(model);
  model->excludes(tpl);
  cmd->add_option("--messages", args->messages_path,
                  "JSON array of messages ({role, content, tool_calls, tool_call_id, name})")
      ->required();
  cmd->add_option("--tools", args->tools_path, "JSON array of OpenAI-style tool definitions");
  cmd->add_flag("--add-generation-prompt", args->add_generation_prompt,
                "End with the assistant turn's opening");
  cmd->add_option("--var", args->vars, "An extra template variable NAME=JSON (repeatable)");
  cmd->callback([args] {
    if (args->template_path.empty() && args->model_path.empty()) {
      throw CliError("render-template needs --template FILE.jinja or --model FILE.gguf");
    }
    run_render_template(*args);
  });
}

}  // namespace llmux::cli
