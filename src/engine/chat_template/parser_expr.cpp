// Expression parsing: Jinja2's grammar and precedence (parse_tuple and below).
#include "engine/chat_template/parser_impl.hpp"

namespace llmux::engine::chat_template::detail {

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

ExprPtr Parser::parse_left_assoc(std::initializer_list<const char*> ops,
                                 ExprPtr (Parser::*next)()) {
  ExprPtr left = (this->*next)();
  for (;;) {
    const char* op = nullptr;
    for (const char* candidate : ops) {
      if (is_op(candidate)) op = candidate;
    }
    if (!op) return left;
    auto n = make(Expr::Kind::binary, cur().line);
    n->name = op;
    advance();
    n->args.push_back(std::move(left));
    n->args.push_back((this->*next)());
    left = std::move(n);
  }
}

ExprPtr Parser::parse_math1() { return parse_left_assoc({"+", "-"}, &Parser::parse_concat); }

ExprPtr Parser::parse_concat() { return parse_left_assoc({"~"}, &Parser::parse_math2); }

ExprPtr Parser::parse_math2() {
  return parse_left_assoc({"*", "/", "//", "%"}, &Parser::parse_pow);
}

ExprPtr Parser::parse_pow() { return parse_left_assoc({"**"}, &Parser::parse_unary_filtered); }

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

}  // namespace llmux::engine::chat_template::detail
