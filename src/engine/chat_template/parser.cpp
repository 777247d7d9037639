#include "engine/chat_template/parser.hpp"

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

// ---- expressions ----------------------------------------------------------------------------

ExprPtr Parser::parse_tuple(bool with_condexpr, bool explicit_parens,
                            std::initializer_list<const char*> extra_end, bool simplified) {
  const int line = cur().line;
  std::vector<ExprPtr> args;
  bool is_tuple = false;
  auto at_end = [&] {
    const Token& t = cur();
    if (t.type == Tok::var_end || t.type == Tok::block_end || t.type == Tok::eof) return true;
    if (t.type == Tok::op && t.text == ")") return true;
    for (const char* e : extra_end) {
      if (t.type == Tok::name && t.text == e) return true;
    }
    return false;
  };
  while (true) {
    if (!args.empty()) expect_op(",");
    if (at_end()) break;
    args.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
    if (is_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!args.empty()) return std::move(args[0]);
    if (!explicit_parens) error("Expected an expression, got " + describe(cur()));
  }
  auto t = make(Expr::Kind::tuple, line);
  t->args = std::move(args);
  return t;
}

ExprPtr Parser::parse_condexpr() {
  DepthGuard guard(*this);
  const int line = cur().line;
  ExprPtr expr1 = parse_or();
  while (skip_name("if")) {
    ExprPtr expr2 = parse_or();
    ExprPtr expr3;
    if (skip_name("else")) expr3 = parse_condexpr();
    auto c = make(Expr::Kind::cond, line);
    c->args.push_back(std::move(expr2));
    c->args.push_back(std::move(expr1));
    c->args.push_back(std::move(expr3));
    expr1 = std::move(c);
  }
  return expr1;
}

ExprPtr Parser::parse_or() {
  ExprPtr left = parse_and();
  while (is_name("or")) {
    const int line = cur().line;
    advance();
    auto n = make(Expr::Kind::or_, line);
    n->args.push_back(std::move(left));
    n->args.push_back(parse_and());
    left = std::move(n);
  }
  return left;
}

ExprPtr Parser::parse_and() {
  ExprPtr left = parse_not();
  while (is_name("and")) {
    const int line = cur().line;
    advance();
    auto n = make(Expr::Kind::and_, line);
    n->args.push_back(std::move(left));
    n->args.push_back(parse_not());
    left = std::move(n);
  }
  return left;
}

ExprPtr Parser::parse_not() {
  if (is_name("not")) {
    DepthGuard guard(*this);
    auto n = make(Expr::Kind::not_, cur().line);
    advance();
    n->args.push_back(parse_not());
    return n;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  const int line = cur().line;
  ExprPtr expr = parse_math1();
  ExprPtr cmp;
  while (true) {
    std::string op;
    if (cur().type == Tok::op &&
        (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
         cur().text == ">" || cur().text == ">=")) {
      op = cur().text;
      advance();
    } else if (is_name("in")) {
      op = "in";
      advance();
    } else if (is_name("not") && peek().type == Tok::name && peek().text == "in") {
      op = "notin";
      advance();
      advance();
    } else {
      break;
    }
    if (!cmp) {
      cmp = make(Expr::Kind::compare, line);
      cmp->args.push_back(std::move(expr));
    }
    cmp->ops.push_back(op);
    cmp->args.push_back(parse_math1());
  }
  return cmp ? std::move(cmp) : std::move(expr);
}

ExprPtr Parser::parse_math1() {
  ExprPtr left = parse_concat();
  while (is_op("+") || is_op("-")) {
    auto n = make(Expr::Kind::binary, cur().line);
    n->name = cur().text;
    advance();
    n->args.push_back(std::move(left));
    n->args.push_back(parse_concat());
    left = std::move(n);
  }
  return left;
}

ExprPtr Parser::parse_concat() {
  ExprPtr left = parse_math2();
  while (is_op("~")) {
    auto n = make(Expr::Kind::binary, cur().line);
    n->name = "~";
    advance();
    n->args.push_back(std::move(left));
    n->args.push_back(parse_math2());
    left = std::move(n);
  }
  return left;
}

ExprPtr Parser::parse_math2() {
  ExprPtr left = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    auto n = make(Expr::Kind::binary, cur().line);
    n->name = cur().text;
    advance();
    n->args.push_back(std::move(left));
    n->args.push_back(parse_pow());
    left = std::move(n);
  }
  return left;
}

ExprPtr Parser::parse_pow() {
  ExprPtr left = parse_unary();
  while (is_op("**")) {
    auto n = make(Expr::Kind::binary, cur().line);
    n->name = "**";
    advance();
    n->args.push_back(std::move(left));
    n->args.push_back(parse_unary());
    left = std::move(n);
  }
  return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  DepthGuard guard(*this);
  ExprPtr node;
  if (is_op("-") || is_op("+")) {
    node = make(is_op("-") ? Expr::Kind::neg : Expr::Kind::pos, cur().line);
    advance();
    node->args.push_back(parse_unary(false));
  } else {
    node = parse_postfix(parse_primary());
  }
  if (with_filter) node = parse_filter_expr(std::move(node));
  return node;
}

ExprPtr Parser::parse_primary() {
  DepthGuard guard(*this);
  const Token& t = cur();
  const int line = t.line;
  if (t.type == Tok::name) {
    auto n = make(Expr::Kind::literal, line);
    if (t.text == "true" || t.text == "True") {
      n->value = Value(true);
    } else if (t.text == "false" || t.text == "False") {
      n->value = Value(false);
    } else if (t.text == "none" || t.text == "None") {
      n->value = Value(None{});
    } else {
      n->kind = Expr::Kind::name;
      n->name = t.text;
    }
    advance();
    return n;
  }
  if (t.type == Tok::string) {
    std::string s;
    while (cur().type == Tok::string) {
      s += cur().text;
      advance();
    }
    auto n = make(Expr::Kind::literal, line);
    n->value = Value(std::move(s));
    return n;
  }
  if (t.type == Tok::integer || t.type == Tok::floating) {
    auto n = make(Expr::Kind::literal, line);
    n->value = t.type == Tok::integer ? Value(t.int_value) : Value(t.float_value);
    advance();
    return n;
  }
  if (is_op("(")) {
    advance();
    ExprPtr n = parse_tuple(true, true);
    expect_op(")");
    return n;
  }
  if (is_op("[")) return parse_list();
  if (is_op("{")) return parse_dict();
  if (t.type == Tok::eof) error("Unexpected end of template.");
  error("unexpected " + describe(t));
}

ExprPtr Parser::parse_list() {
  auto n = make(Expr::Kind::list, cur().line);
  expect_op("[");
  while (!is_op("]")) {
    if (!n->args.empty()) expect_op(",");
    if (is_op("]")) break;
    n->args.push_back(parse_expression());
  }
  expect_op("]");
  return n;
}

ExprPtr Parser::parse_dict() {
  auto n = make(Expr::Kind::dict, cur().line);
  expect_op("{");
  while (!is_op("}")) {
    if (!n->pairs.empty()) expect_op(",");
    if (is_op("}")) break;
    ExprPtr key = parse_expression();
    expect_op(":");
    n->pairs.emplace_back(std::move(key), parse_expression());
  }
  expect_op("}");
  return n;
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
  while (true) {
    if (is_op(".") || is_op("[")) {
      node = parse_subscript(std::move(node));
    } else if (is_op("(")) {
      auto c = make(Expr::Kind::call, cur().line);
      c->args.push_back(std::move(node));
      parse_call_args(*c);
      node = std::move(c);
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (is_op("|")) {
      auto f = make(Expr::Kind::filter, cur().line);
      advance();
      f->name = parse_dotted_name();
      f->args.push_back(std::move(node));
      if (is_op("(")) parse_call_args(*f);
      node = std::move(f);
    } else if (is_name("is")) {
      node = parse_test(std::move(node));
    } else if (is_op("(")) {
      auto c = make(Expr::Kind::call, cur().line);
      c->args.push_back(std::move(node));
      parse_call_args(*c);
      node = std::move(c);
    } else {
      return node;
    }
  }
}

std::string Parser::parse_dotted_name() {
  std::string name = expect_name();
  while (is_op(".")) {
    advance();
    name += "." + expect_name();
  }
  return name;
}

ExprPtr Parser::parse_test(ExprPtr node) {
  auto t = make(Expr::Kind::test, cur().line);
  advance();  // is
  if (skip_name("not")) t->negated = true;
  t->name = parse_dotted_name();
  t->args.push_back(std::move(node));
  const Token& c = cur();
  const bool arg_start =
      c.type == Tok::name || c.type == Tok::string || c.type == Tok::integer ||
      c.type == Tok::floating || (c.type == Tok::op && (c.text == "(" || c.text == "[" || c.text == "{"));
  if (is_op("(")) {
    parse_call_args(*t);
  } else if (arg_start && !is_name("else") && !is_name("or") && !is_name("and")) {
    if (is_name("is")) error("You cannot chain multiple tests with is");
    t->args.push_back(parse_postfix(parse_primary()));
  }
  return t;
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
  const int line = cur().line;
  if (skip_op(".")) {
    if (cur().type == Tok::name) {
      auto a = make(Expr::Kind::attr, line);
      a->name = cur().text;
      advance();
      a->args.push_back(std::move(node));
      return a;
    }
    if (cur().type != Tok::integer) error("expected name or number");
    auto i = make(Expr::Kind::item, line);
    auto k = make(Expr::Kind::literal, line);
    k->value = Value(cur().int_value);
    advance();
    i->args.push_back(std::move(node));
    i->args.push_back(std::move(k));
    return i;
  }
  expect_op("[");
  std::vector<ExprPtr> args;
  while (!is_op("]")) {
    if (!args.empty()) expect_op(",");
    args.push_back(parse_subscribed());
  }
  expect_op("]");
  if (args.empty()) error("expected subscript expression");
  if (args.size() == 1 && args[0]->kind == Expr::Kind::slice) {
    args[0]->args.insert(args[0]->args.begin(), std::move(node));
    return std::move(args[0]);
  }
  auto i = make(Expr::Kind::item, line);
  i->args.push_back(std::move(node));
  if (args.size() == 1) {
    i->args.push_back(std::move(args[0]));
  } else {
    auto t = make(Expr::Kind::tuple, line);
    t->args = std::move(args);
    i->args.push_back(std::move(t));
  }
  return i;
}

ExprPtr Parser::parse_subscribed() {
  const int line = cur().line;
  std::vector<ExprPtr> parts;
  if (skip_op(":")) {
    parts.push_back(nullptr);
  } else {
    ExprPtr node = parse_expression();
    if (!skip_op(":")) return node;
    parts.push_back(std::move(node));
  }
  if (is_op(":") || is_op("]") || is_op(",")) {
    parts.push_back(nullptr);
  } else {
    parts.push_back(parse_expression());
  }
  if (skip_op(":")) {
    parts.push_back(is_op("]") || is_op(",") ? nullptr : parse_expression());
  } else {
    parts.push_back(nullptr);
  }
  auto s = make(Expr::Kind::slice, line);
  s->args = std::move(parts);
  return s;
}

void Parser::parse_call_args(Expr& call) {
  expect_op("(");
  bool first = true;
  while (!is_op(")")) {
    if (!first) expect_op(",");
    first = false;
    if (is_op(")")) break;
    if (is_op("*") || is_op("**")) error("*args and **kwargs in calls are not supported");
    if (cur().type == Tok::name && peek().type == Tok::op && peek().text == "=") {
      std::string key = cur().text;
      advance();
      advance();
      call.kwargs.emplace_back(std::move(key), parse_expression());
    } else {
      if (!call.kwargs.empty()) error("positional argument follows keyword argument");
      call.args.push_back(parse_expression());
    }
  }
  expect_op(")");
}

}  // namespace

Body parse(std::string_view source) { return Parser(lex(source)).parse_template(); }

}  // namespace llmux::engine::chat_template
