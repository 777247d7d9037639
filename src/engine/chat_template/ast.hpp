// Syntax tree of a parsed template. Nodes are immutable after parsing and shared by every render.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/chat_template/value.hpp"

namespace llmux::engine::chat_template {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    literal,   // value
    name,      // name
    list,      // args
    tuple,     // args
    dict,      // kwargs-like pairs in `pairs`
    attr,      // args[0].name
    item,      // args[0][args[1]]
    slice,     // args[0][args[1]:args[2]:args[3]] (null parts allowed)
    call,      // args[0](args[1..], kwargs)
    filter,    // args[0] | name(args[1..], kwargs)
    test,      // args[0] is [not] name(args[1..], kwargs); negated
    not_,      // not args[0]
    neg,       // -args[0]
    pos,       // +args[0]
    binary,    // args[0] op args[1]; op in + - * / // % ** ~
    compare,   // args[0] ops[0] args[1] ops[1] args[2] ...
    and_,
    or_,
    cond,      // args[1] if args[0] else args[2] (args[2] may be null)
  };
  Kind kind = Kind::literal;
  int line = 0;
  Value value;
  std::string name;  // name / attribute / filter / test / binary operator
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::pair<ExprPtr, ExprPtr>> pairs;  // dict literal
  std::vector<std::string> ops;                    // compare operators ("in", "notin", "==", ...)
  bool negated = false;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

// An assignment target: a name, a tuple of names, or namespace attribute `ns.attr`.
struct Target {
  std::vector<std::string> names;  // one name, or several for tuple unpacking
  bool tuple = false;
  std::string attr;  // non-empty: names[0].attr = ...
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct Node {
  enum class Kind {
    text,          // text
    output,        // {{ expr }}
    if_,           // conditions[i] -> bodies[i]; else_body
    for_,          // target in expr [if filter] body [else else_body]
    set,           // target = expr
    set_block,     // {% set target [| filters] %}body{% endset %}; expr holds the filter chain
    macro,         // name(params) body
    call_block,    // {% call [(params)] expr %}body{% endcall %}
    filter_block,  // {% filter f %}body{% endfilter %}; expr holds the filter chain
    with,          // {% with a = 1 %}body{% endwith %}
    scope,         // a body rendered as is ({% generation %})
    break_,
    continue_,
  };
  Kind kind = Kind::text;
  int line = 0;
  std::string text;  // text / macro name
  ExprPtr expr;      // output, for iterable, set value, call expression
  ExprPtr filter;    // for-loop filter condition
  Target target;
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  Body body;
  Body else_body;
  std::vector<MacroParam> params;
  std::vector<std::pair<Target, ExprPtr>> assignments;  // with
  bool uses_loop = true;        // for_: whether the body can read `loop` (else it is not built)
  bool defines_macro = true;    // for_: whether the body defines a macro or caller (which
                                // keeps a reference to its iteration's scope)
};

// The placeholder expression a set_block/filter_block filter chain is applied to.
inline constexpr const char* kBlockValueName = "\x01block";

}  // namespace llmux::engine::chat_template
