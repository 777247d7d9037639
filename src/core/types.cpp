#include <llmux/types.hpp>

namespace llmux {

std::string_view to_string(Role role) noexcept {
  switch (role) {
    case Role::system: return "system";
    case Role::user: return "user";
    case Role::assistant: return "assistant";
    case Role::tool: return "tool";
  }
  return "user";
}

std::string_view to_string(ReasoningEffort effort) noexcept {
  switch (effort) {
    case ReasoningEffort::minimal: return "minimal";
    case ReasoningEffort::low: return "low";
    case ReasoningEffort::medium: return "medium";
    case ReasoningEffort::high: return "high";
  }
  return "medium";
}

std::string_view to_string(FinishReason reason) noexcept {
  switch (reason) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::tool_calls: return "tool_calls";
    case FinishReason::content_filter: return "content_filter";
    case FinishReason::error: return "error";
    case FinishReason::cancelled: return "cancelled";
  }
  return "stop";
}

Message Message::system(std::string text) {
  return Message{Role::system, {ContentPart::from_text(std::move(text))}, {}, {}, {}};
}

Message Message::user(std::string text) {
  return Message{Role::user, {ContentPart::from_text(std::move(text))}, {}, {}, {}};
}

Message Message::assistant(std::string text, std::vector<ToolCall> calls) {
  Message m{Role::assistant, {}, std::move(calls), {}, {}};
  if (!text.empty()) m.content.push_back(ContentPart::from_text(std::move(text)));
  return m;
}

Message Message::tool_result(std::string tool_call_id, std::string text, std::string name) {
  return Message{Role::tool, {ContentPart::from_text(std::move(text))}, {},
                 std::move(tool_call_id), std::move(name)};
}

std::string Message::text() const {
  std::string out;
  for (const auto& part : content) {
    if (part.kind == ContentPart::Kind::text) out += part.text;
  }
  return out;
}

}  // namespace llmux
