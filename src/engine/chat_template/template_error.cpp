#include "engine/chat_template/template_error.hpp"

namespace llmux::engine::chat_template {

namespace {

std::string describe(const std::string& kind, const std::string& message, int line) {
  std::string out = kind + ": " + message;
  if (line > 0) out += " (template line " + std::to_string(line) + ")";
  return out;
}

}  // namespace

TemplateError::TemplateError(std::string kind, std::string message, int line)
    : llmux::Error(llmux::errc::invalid_argument, describe(kind, message, line)),
      kind_(std::move(kind)),
      message_(std::move(message)),
      line_(line) {}

void fail(const char* kind, std::string message, int line) {
  throw TemplateError(kind, std::move(message), line);
}

}  // namespace llmux::engine::chat_template
