// Internal to the parser: the recursive-descent Parser class, shared by parser.cpp (statements)
// and parser_expr.cpp (expressions). Not part of the chat_template API.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/chat_template/ast.hpp"
#include "engine/chat_template/lexer.hpp"
#include "engine/chat_template/parser.hpp"
#include "engine/chat_template/template_error.hpp"

namespace llmux::engine::chat_template::detail {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body parse_template() {
    std::string end;
    Body body = parse_body({}, &end);
    return body;
  }

 private:
  // ---- token helpers ------------------------------------------------------------------------
  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(std::size_t n = 1) const {
    return toks_[std::min(pos_ + n, toks_.size() - 1)];
  }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().type == Tok::op && cur().text == op; }
  bool is_name(const char* name) const { return cur().type == Tok::name && cur().text == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }

  [[noreturn]] void error(const std::string& msg) const {
    fail("TemplateSyntaxError", msg, cur().line);
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::eof: return "end of template";
      case Tok::block_end: return "end of statement block";
      case Tok::var_end: return "end of print statement";
      case Tok::data: return "template data";
      default: return "'" + t.text + "'";
    }
  }

  void expect_op(const char* op) {
    if (cur().type == Tok::eof) error("unexpected end of template, expected '" + std::string(op) + "'.");
    if (!skip_op(op)) error("expected token '" + std::string(op) + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().type != Tok::name) error("expected name, got " + describe(cur()));
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().type != Tok::block_end) {
      if (cur().type == Tok::eof) error("Unexpected end of template.");
      error("expected token 'end of statement block', got " + describe(cur()));
    }
    advance();
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxParseDepth) p_.error("template nesting too deep");
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  ExprPtr make(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // ---- statements ---------------------------------------------------------------------------
  Body parse_body(std::initializer_list<const char*> ends, std::string* which);
  NodePtr parse_statement();
  NodePtr parse_if(int line);
  NodePtr parse_for(int line);
  NodePtr parse_set(int line);
  NodePtr parse_macro(int line);
  NodePtr parse_call_block(int line);
  NodePtr parse_filter_block(int line);
  NodePtr parse_with(int line);
  NodePtr parse_scope(int line, const char* end);
  void parse_params(std::vector<MacroParam>& params);
  Target parse_target(bool with_namespace, const char* stop);
  ExprPtr parse_filter_chain(ExprPtr base);

  // ---- expressions --------------------------------------------------------------------------
  ExprPtr parse_expression(bool with_condexpr = true) {
    return with_condexpr ? parse_condexpr() : parse_or();
  }
  ExprPtr parse_tuple(bool with_condexpr, bool explicit_parens,
                      std::initializer_list<const char*> extra_end = {}, bool simplified = false);
  ExprPtr parse_condexpr();
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  // One left-associative binary level: operands from `next`, joined by any of `ops`.
  ExprPtr parse_left_assoc(std::initializer_list<const char*> ops, ExprPtr (Parser::*next)());
  ExprPtr parse_unary_filtered() { return parse_unary(); }
  ExprPtr parse_unary(bool with_filter = true);
  ExprPtr parse_primary();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  ExprPtr parse_subscribed();
  void parse_call_args(Expr& call);
  ExprPtr parse_list();
  ExprPtr parse_dict();
  ExprPtr parse_test(ExprPtr node);
  std::string parse_dotted_name();

  std::vector<Token> toks_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace llmux::engine::chat_template::detail
