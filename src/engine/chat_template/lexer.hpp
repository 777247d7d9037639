// Template lexer with Jinja2's rules as transformers configures them: trim_blocks, lstrip_blocks,
// `-`/`+` whitespace control, raw blocks, comments, newline normalization (\r\n and \r become
// \n) and removal of one trailing newline (keep_trailing_newline=False).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::engine::chat_template {

enum class Tok {
  data,         // template text, already whitespace-processed
  block_begin,  // {%
  block_end,    // %}
  var_begin,    // {{
  var_end,      // }}
  name,
  string,  // text holds the unescaped value
  integer,
  floating,
  op,  // text holds the operator: + - * / // % ** ~ [ ] ( ) { } == != < <= > >= = . : | , ;
  eof,
};

struct Token {
  Tok type = Tok::eof;
  std::string text;
  int line = 1;
  std::int64_t int_value = 0;
  double float_value = 0.0;
};

// Splits `source` into tokens. Throws TemplateError("TemplateSyntaxError") on an unterminated
// comment, raw block or string, an unknown character, or unbalanced brackets.
std::vector<Token> lex(std::string_view source);

}  // namespace llmux::engine::chat_template
