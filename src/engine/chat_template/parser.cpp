#include "engine/chat_template/parser.hpp"

#include "engine/chat_template/parser_impl.hpp"

#include <initializer_list>

#include "engine/chat_template/lexer.hpp"
#include "engine/chat_template/template_error.hpp"

namespace llmux::engine::chat_template {

namespace {

bool mentions_loop(const Expr* e) {
  if (!e) return false;
  if (e->kind == Expr::Kind::name && e->name == "loop") return true;
  for (const auto& a : e->args) {
    if (mentions_loop(a.get())) return true;
  }
  for (const auto& [k, v] : e->kwargs) {
    if (mentions_loop(v.get())) return true;
  }
  for (const auto& [k, v] : e->pairs) {
    if (mentions_loop(k.get()) || mentions_loop(v.get())) return true;
  }
  return false;
}

// Whether any expression under `body` names `loop` (nested loops included: conservative).
bool mentions_loop(const Body& body) {
  for (const NodePtr& n : body) {
    if (mentions_loop(n->expr.get()) || mentions_loop(n->filter.get())) return true;
    for (const auto& c : n->conditions) {
      if (mentions_loop(c.get())) return true;
    }
    for (const auto& b : n->bodies) {
      if (mentions_loop(b)) return true;
    }
    for (const auto& p : n->params) {
      if (mentions_loop(p.default_value.get())) return true;
    }
    for (const auto& [t, e] : n->assignments) {
      if (mentions_loop(e.get())) return true;
    }
    if (n->target.names.size() == 1 && n->target.names[0] == "loop") return true;
    if (mentions_loop(n->body) || mentions_loop(n->else_body)) return true;
  }
  return false;
}

bool defines_macro(const Body& body) {
  for (const NodePtr& n : body) {
    if (n->kind == Node::Kind::macro || n->kind == Node::Kind::call_block) return true;
    for (const auto& b : n->bodies) {
      if (defines_macro(b)) return true;
    }
    if (defines_macro(n->body) || defines_macro(n->else_body)) return true;
  }
  return false;
}

}  // namespace

namespace detail {

Body Parser::parse_body(std::initializer_list<const char*> ends, std::string* which) {
  DepthGuard guard(*this);
  Body body;
  while (true) {
    const Token& t = cur();
    if (t.type == Tok::eof) {
      if (ends.size() != 0) {
        std::string names;
        for (const char* e : ends) names += std::string(names.empty() ? "" : " or ") + "'" + e + "'";
        error("Unexpected end of template. Jinja was looking for the following tags: " + names +
              ".");
      }
      return body;
    }
    if (t.type == Tok::data) {
      auto n = std::make_unique<Node>();
      n->kind = Node::Kind::text;
      n->line = t.line;
      n->text = t.text;
      body.push_back(std::move(n));
      advance();
    } else if (t.type == Tok::var_begin) {
      auto n = std::make_unique<Node>();
      n->kind = Node::Kind::output;
      n->line = t.line;
      advance();
      n->expr = parse_tuple(true, false);
      if (cur().type != Tok::var_end) error("expected token 'end of print statement', got " + describe(cur()));
      advance();
      body.push_back(std::move(n));
    } else if (t.type == Tok::block_begin) {
      advance();
      if (cur().type == Tok::name) {
        for (const char* e : ends) {
          if (cur().text == e) {
            *which = e;
            advance();
            return body;
          }
        }
      }
      body.push_back(parse_statement());
    } else {
      error("unexpected " + describe(t));
    }
  }
}

NodePtr Parser::parse_statement() {
  const int line = cur().line;
  if (cur().type != Tok::name) error("tag name expected");
  const std::string tag = cur().text;
  advance();
  if (tag == "if") return parse_if(line);
  if (tag == "for") return parse_for(line);
  if (tag == "set") return parse_set(line);
  if (tag == "macro") return parse_macro(line);
  if (tag == "call") return parse_call_block(line);
  if (tag == "filter") return parse_filter_block(line);
  if (tag == "with") return parse_with(line);
  if (tag == "generation") return parse_scope(line, "endgeneration");
  if (tag == "break" || tag == "continue") {
    expect_block_end();
    auto n = std::make_unique<Node>();
    n->kind = tag == "break" ? Node::Kind::break_ : Node::Kind::continue_;
    n->line = line;
    return n;
  }
  if (tag == "include" || tag == "import" || tag == "from" || tag == "extends" ||
      tag == "block") {
    fail("TemplateSyntaxError", "the '" + tag + "' tag is not supported in chat templates", line);
  }
  fail("TemplateSyntaxError", "Encountered unknown tag '" + tag + "'.", line);
}

NodePtr Parser::parse_if(int line) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::if_;
  n->line = line;
  while (true) {
    n->conditions.push_back(parse_tuple(false, false));
    expect_block_end();
    std::string which;
    n->bodies.push_back(parse_body({"elif", "else", "endif"}, &which));
    if (which == "elif") continue;
    if (which == "else") {
      expect_block_end();
      n->else_body = parse_body({"endif"}, &which);
    }
    expect_block_end();
    return n;
  }
}

NodePtr Parser::parse_for(int line) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::for_;
  n->line = line;
  n->target = parse_target(false, "in");
  if (!skip_name("in")) error("expected 'in', got " + describe(cur()));
  n->expr = parse_tuple(false, false, {"recursive"});
  if (skip_name("if")) n->filter = parse_expression();
  if (is_name("recursive")) error("recursive loops are not supported");
  expect_block_end();
  std::string which;
  n->body = parse_body({"endfor", "else"}, &which);
  if (which == "else") {
    expect_block_end();
    n->else_body = parse_body({"endfor"}, &which);
  }
  expect_block_end();
  n->uses_loop = mentions_loop(n->body);
  n->defines_macro = defines_macro(n->body);
  return n;
}

Target Parser::parse_target(bool with_namespace, const char* stop) {
  Target t;
  if (with_namespace && cur().type == Tok::name && peek().type == Tok::op && peek().text == ".") {
    t.names.push_back(expect_name());
    advance();
    t.attr = expect_name();
    return t;
  }
  while (true) {
    if (skip_op("(")) {
      // Parenthesized names: (a, b)
      while (!is_op(")")) {
        t.names.push_back(expect_name());
        if (!skip_op(",")) break;
      }
      expect_op(")");
      t.tuple = true;
    } else {
      t.names.push_back(expect_name());
    }
    if (!is_op(",")) break;
    advance();
    t.tuple = true;
    if (is_name(stop) || is_op("=")) break;
  }
  return t;
}

NodePtr Parser::parse_set(int line) {
  auto n = std::make_unique<Node>();
  n->line = line;
  n->target = parse_target(true, "");
  if (skip_op("=")) {
    n->kind = Node::Kind::set;
    n->expr = parse_tuple(true, false);
    expect_block_end();
    return n;
  }
  n->kind = Node::Kind::set_block;
  auto base = make(Expr::Kind::name, line);
  base->name = kBlockValueName;
  n->expr = parse_filter_chain(std::move(base));
  expect_block_end();
  std::string which;
  n->body = parse_body({"endset"}, &which);
  expect_block_end();
  return n;
}

ExprPtr Parser::parse_filter_chain(ExprPtr base) {
  while (skip_op("|")) {
    auto f = make(Expr::Kind::filter, cur().line);
    f->name = parse_dotted_name();
    f->args.push_back(std::move(base));
    if (is_op("(")) parse_call_args(*f);
    base = std::move(f);
  }
  return base;
}

void Parser::parse_params(std::vector<MacroParam>& params) {
  expect_op("(");
  while (!is_op(")")) {
    if (!params.empty()) expect_op(",");
    if (is_op(")")) break;
    MacroParam p;
    p.name = expect_name();
    if (skip_op("=")) p.default_value = parse_expression();
    params.push_back(std::move(p));
  }
  expect_op(")");
}

NodePtr Parser::parse_macro(int line) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::macro;
  n->line = line;
  n->text = expect_name();
  parse_params(n->params);
  expect_block_end();
  std::string which;
  n->body = parse_body({"endmacro"}, &which);
  if (cur().type == Tok::name && cur().text == n->text) advance();
  expect_block_end();
  return n;
}

NodePtr Parser::parse_call_block(int line) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::call_block;
  n->line = line;
  if (is_op("(")) parse_params(n->params);
  n->expr = parse_expression();
  if (n->expr->kind != Expr::Kind::call) error("expected call");
  expect_block_end();
  std::string which;
  n->body = parse_body({"endcall"}, &which);
  expect_block_end();
  return n;
}

NodePtr Parser::parse_filter_block(int line) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::filter_block;
  n->line = line;
  auto base = make(Expr::Kind::name, line);
  base->name = kBlockValueName;
  // The first filter has no leading pipe.
  auto f = make(Expr::Kind::filter, line);
  f->name = parse_dotted_name();
  f->args.push_back(std::move(base));
  if (is_op("(")) parse_call_args(*f);
  n->expr = parse_filter_chain(std::move(f));
  expect_block_end();
  std::string which;
  n->body = parse_body({"endfilter"}, &which);
  expect_block_end();
  return n;
}

NodePtr Parser::parse_with(int line) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::with;
  n->line = line;
  while (cur().type != Tok::block_end) {
    if (!n->assignments.empty()) expect_op(",");
    Target t = parse_target(false, "");
    expect_op("=");
    n->assignments.emplace_back(std::move(t), parse_expression());
  }
  expect_block_end();
  std::string which;
  n->body = parse_body({"endwith"}, &which);
  expect_block_end();
  return n;
}

NodePtr Parser::parse_scope(int line, const char* end) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::scope;
  n->line = line;
  expect_block_end();
  std::string which;
  n->body = parse_body({end}, &which);
  expect_block_end();
  return n;
}

}  // namespace detail

Body parse(std::string_view source) { return detail::Parser(lex(source)).parse_template(); }

}  // namespace llmux::engine::chat_template
