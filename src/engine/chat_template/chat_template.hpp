// Chat templates: the Jinja templates shipped with models (GGUF `tokenizer.chat_template`),
// rendered byte-for-byte as transformers' `apply_chat_template` renders them.
//
// transformers renders with jinja2's ImmutableSandboxedEnvironment(trim_blocks=True,
// lstrip_blocks=True, extensions=[loopcontrols]), a `tojson` filter that is
// json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...), and the globals
// raise_exception(msg) and strftime_now(fmt). The variables are `messages`, `tools` (only when
// tools are given), `add_generation_prompt`, `bos_token`/`eos_token`, and any extra variables
// (e.g. `enable_thinking`). docs/chat_templates.md lists the supported Jinja subset.
//
// Contracts:
// - A ChatTemplate is immutable after construction; render() may run concurrently from any
//   number of threads.
// - Untrusted templates and inputs never crash or hang: every failure is a TemplateError (an
//   llmux::Error with errc::invalid_argument) carrying the Jinja-style kind, message and line;
//   JSON inputs that fail to parse give llmux::Error(errc::invalid_argument).
// - Rendering is bounded by Limits (steps, output bytes, call depth, range size).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <llmux/types.hpp>

#include "engine/chat_template/interpreter.hpp"
#include "engine/chat_template/template_error.hpp"

namespace llmux::engine::chat_template {

struct RenderOptions {
  bool add_generation_prompt = false;
  std::optional<std::string> bos_token;  // unset: the variable is undefined
  std::optional<std::string> eos_token;
  // A JSON object whose members become template variables (they win over the others),
  // e.g. {"enable_thinking": false}. Empty means none.
  std::string extra_variables_json;
  Clock clock;  // strftime_now's time; empty: the local time now
  Limits limits;
};

class ChatTemplate {
 public:
  // Parses the template; throws TemplateError ("TemplateSyntaxError") if it is invalid.
  explicit ChatTemplate(std::string_view source);

  // Renders OpenAI/transformers-style JSON: `messages_json` is an array of message objects
  // ({"role", "content", "tool_calls": [{"id", "type", "function": {"name", "arguments"}}],
  // "tool_call_id", "name", ...}, passed to the template as they are); `tools_json` is an array
  // of tool objects, or empty for "no tools" (then `tools` is undefined, as in transformers).
  std::string render_json(std::string_view messages_json, std::string_view tools_json,
                          const RenderOptions& options) const;

  // Renders llmux messages and tools (converted by messages_to_json / tools_to_json).
  std::string render(std::span<const Message> messages, std::span<const ToolDefinition> tools,
                     const RenderOptions& options) const;

  const std::string& source() const noexcept { return *source_; }

 private:
  std::shared_ptr<const std::string> source_;
  std::shared_ptr<const Body> body_;
};

// The JSON transformers expects for llmux messages: {"role", "content": text}, plus
// "tool_calls" (arguments parsed into a JSON value when they are valid JSON, else kept as a
// string) only when there are calls, "tool_call_id" and "name" only when set.
std::string messages_to_json(std::span<const Message> messages);
// [{"type": "function", "function": {"name", "description", "parameters"}}]; "[]" if empty.
std::string tools_to_json(std::span<const ToolDefinition> tools);

}  // namespace llmux::engine::chat_template
