#include "engine/output/format.hpp"

namespace llmux::engine::output {
namespace {

bool contains(std::string_view haystack, std::string_view needle) noexcept {
  return haystack.find(needle) != std::string_view::npos;
}

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_qwen(std::string_view arch) noexcept {
  return arch == "qwen2" || arch == "qwen3" || arch == "qwen2moe" || arch == "qwen3moe";
}

ToolFormat tools_from_template(std::string_view t) noexcept {
  if (contains(t, "<tool_call>")) return ToolFormat::hermes;
  if (contains(t, "[TOOL_CALLS]")) return ToolFormat::mistral;
  if (contains(t, "<|python_tag|>")) return ToolFormat::llama3_json;
  if (contains(t, "<|start_header_id|>") && contains(t, "\"parameters\"")) {
    return ToolFormat::llama3_json;
  }
  return ToolFormat::none;
}

ToolFormat tools_from_architecture(std::string_view t, std::string_view arch) noexcept {
  if (is_qwen(arch)) return ToolFormat::hermes;
  if (arch == "llama" || arch == "mistral") {
    if (contains(t, "[INST]")) return ToolFormat::mistral;
    if (contains(t, "<|start_header_id|>")) return ToolFormat::llama3_json;
  }
  return ToolFormat::none;
}

}  // namespace

std::string_view to_string(ToolFormat format) noexcept {
  switch (format) {
    case ToolFormat::none: return "none";
    case ToolFormat::hermes: return "hermes";
    case ToolFormat::llama3_json: return "llama3_json";
    case ToolFormat::mistral: return "mistral";
  }
  return "none";
}

Format detect_format(std::string_view chat_template, std::string_view architecture) noexcept {
  Format f;
  f.tools = tools_from_template(chat_template);
  // A template that renders tool calls in another syntax (DeepSeek's <｜tool▁calls▁begin｜>,
  // Granite's <|tool_call|>) must not fall back to the architecture's usual one.
  const bool other_tool_syntax = contains(chat_template, "tool_calls");
  if (f.tools == ToolFormat::none && !other_tool_syntax) {
    f.tools = tools_from_architecture(chat_template, architecture);
  }
  f.reasoning = contains(chat_template, "<think>") || architecture == "qwen3" ||
                architecture == "qwen3moe";
  return f;
}

std::vector<std::string_view> parser_markers(const Format& format) {
  std::vector<std::string_view> markers;
  switch (format.tools) {
    case ToolFormat::hermes: markers = {"<tool_call>", "</tool_call>"}; break;
    case ToolFormat::llama3_json: markers = {"<|python_tag|>"}; break;
    case ToolFormat::mistral: markers = {"[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"}; break;
    case ToolFormat::none: break;
  }
  if (format.reasoning) {
    markers.push_back("<think>");
    markers.push_back("</think>");
  }
  return markers;
}

bool prompt_opens_reasoning(std::string_view prompt) noexcept {
  const std::size_t open = prompt.rfind("<think>");
  if (open == std::string_view::npos) return false;
  const std::size_t close = prompt.rfind("</think>");
  if (close != std::string_view::npos && close > open) return false;
  for (std::size_t i = open + 7; i < prompt.size(); ++i) {
    if (!is_space(prompt[i])) return false;
  }
  return true;
}

}  // namespace llmux::engine::output
