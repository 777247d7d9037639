// Parser of the Jinja2 subset: statements if/elif/else, for (with filter and else), set (name,
// tuple, namespace attribute, block form), macro, call, filter, with, break/continue, raw, and
// transformers' generation block; the full Jinja2 expression grammar with its precedence.
// Throws TemplateError("TemplateSyntaxError") with the line; nesting depth is bounded.
#pragma once

#include <string_view>

#include "engine/chat_template/ast.hpp"

namespace llmux::engine::chat_template {

inline constexpr int kMaxParseDepth = 200;

Body parse(std::string_view source);

}  // namespace llmux::engine::chat_template
