// The one exception type of the chat-template interpreter.
//
// `kind()` names the error as Jinja2/Python would ("TemplateSyntaxError", "TemplateError" for
// raise_exception, "UndefinedError", "TypeError", "SecurityError" for sandbox limits, ...),
// `message()` is the bare message, `line()` the template line (0 when unknown). what() reads
// "Kind: message (template line N)". It is an llmux::Error with errc::invalid_argument, so callers
// that only know llmux errors still classify it.
#pragma once

#include <string>

#include <llmux/error.hpp>

namespace llmux::engine::chat_template {

class TemplateError : public llmux::Error {
 public:
  TemplateError(std::string kind, std::string message, int line);

  const std::string& kind() const noexcept { return kind_; }
  const std::string& message() const noexcept { return message_; }
  int line() const noexcept { return line_; }
  // "Kind: message", as Python prints `type(e).__name__ + ": " + str(e)`.
  std::string python_form() const { return kind_ + ": " + message_; }

 private:
  std::string kind_;
  std::string message_;
  int line_;
};

[[noreturn]] void fail(const char* kind, std::string message, int line = 0);

}  // namespace llmux::engine::chat_template
