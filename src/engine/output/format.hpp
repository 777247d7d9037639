// Which output conventions a model follows: how it writes tool calls, and whether it wraps its
// reasoning in <think>…</think>. Chosen from the chat template's source (what the model was
// trained to emit is what its template renders for assistant turns) and, as a fallback, from
// the GGUF architecture.
#pragma once

#include <string_view>
#include <vector>

namespace llmux::engine::output {

enum class ToolFormat {
  none,         // no tool-call syntax known: tool calls are never parsed
  hermes,       // Qwen2.5/Qwen3/Hermes/SmolLM3: <tool_call>\n{"name":…,"arguments":{…}}\n</tool_call>
  llama3_json,  // Llama 3.1/3.2: the whole message is {"name":…,"parameters":{…}}, optionally
                // after <|python_tag|>
  mistral,      // Mistral: [TOOL_CALLS][{"name":…,"arguments":{…},"id":…}] or
                // [TOOL_CALLS]name[ARGS]{…} (newer), optionally name[CALL_ID]id[ARGS]{…}
};

struct Format {
  ToolFormat tools = ToolFormat::none;
  bool reasoning = false;  // <think>…</think> at the start of the output is reasoning
  friend bool operator==(const Format&, const Format&) = default;
};

std::string_view to_string(ToolFormat format) noexcept;

// The format of a model, from its chat template (tokenizer.chat_template) and GGUF
// general.architecture. Template markers win: "<tool_call>" -> hermes, "[TOOL_CALLS]" ->
// mistral, "<|python_tag|>" or a Llama 3 header with "parameters" -> llama3_json. A template
// that renders `tool_calls` in some other syntax (DeepSeek-R1, Granite) -> none. A template
// that never mentions tool calls leaves it to the architecture: qwen2/qwen3 (and their MoE variants) -> hermes; llama with
// a Mistral "[INST]" template -> mistral; llama with "<|start_header_id|>" -> llama3_json.
// reasoning: the template mentions "<think>", or the architecture is qwen3/qwen3moe.
// Never throws; unknown input gives {none, false}.
Format detect_format(std::string_view chat_template, std::string_view architecture) noexcept;

// The literal markers the output parser looks for in this format: tool-call tags (hermes:
// <tool_call> </tool_call>; llama3_json: <|python_tag|>; mistral: [TOOL_CALLS] [ARGS]
// [CALL_ID]) and, with reasoning, <think> </think>. Several are control tokens in their
// vocabularies (Mistral's [TOOL_CALLS], Llama's <|python_tag|>), which a detokenizer drops by
// default: render the text of those tokens (and only those, like llama.cpp's "preserved
// tokens") so the parser sees them.
std::vector<std::string_view> parser_markers(const Format& format);

// Whether a rendered prompt leaves a <think> block open, so the model's output starts inside
// its reasoning (DeepSeek-R1, Qwen3 "thinking" templates end the generation prompt with
// "<think>\n"): the last "<think>" comes after the last "</think>" and only whitespace follows.
// Pass the result as ParserOptions::starts_in_reasoning.
bool prompt_opens_reasoning(std::string_view rendered_prompt) noexcept;

}  // namespace llmux::engine::output
