// Expression evaluation of the Interpreter.
#include "engine/chat_template/builtins.hpp"
#include "engine/chat_template/interpreter.hpp"
#include "engine/chat_template/template_error.hpp"
#include "engine/chat_template/text.hpp"

namespace llmux::engine::chat_template {

Value Interpreter::eval(const Expr& e, const FramePtr& frame) {
  step();
  // Expressions nest through macro calls too; bound the C++ recursion they cause.
  if (++eval_depth_ > limits_.max_eval_depth) {
    --eval_depth_;
    line_ = e.line;
    error("SecurityError", "expressions nested deeper than " +
                               std::to_string(limits_.max_eval_depth) + " (sandbox limit)");
  }
  struct Leave {
    int& depth;
    ~Leave() { --depth; }
  } leave{eval_depth_};
  return eval_node(e, frame);
}

Value Interpreter::eval_node(const Expr& e, const FramePtr& frame) {
  switch (e.kind) {
    case Expr::Kind::literal: return e.value;
    case Expr::Kind::name: return eval_name(e, frame);
    case Expr::Kind::list:
    case Expr::Kind::tuple: {
      std::vector<Value> items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(eval(*a, frame));
      return Value::list(std::move(items), e.kind == Expr::Kind::tuple);
    }
    case Expr::Kind::dict: {
      Dict d;
      for (const auto& [k, v] : e.pairs) {
        Value key = eval(*k, frame);
        if (!key.is_string()) {
          line_ = e.line;
          error("TypeError", "only string keys are supported in dict literals");
        }
        d.set(key.as_string(), eval(*v, frame));
      }
      return Value::dict(std::move(d));
    }
    case Expr::Kind::attr: {
      Value obj = eval(*e.args[0], frame);
      line_ = e.line;
      if (obj.is_undefined()) require_defined(*this, obj);
      return get_attr(obj, e.name);
    }
    case Expr::Kind::item: {
      Value obj = eval(*e.args[0], frame);
      Value key = eval(*e.args[1], frame);
      line_ = e.line;
      if (obj.is_undefined()) require_defined(*this, obj);
      return get_item(obj, key);
    }
    case Expr::Kind::slice: return eval_slice(e, frame);
    case Expr::Kind::call: return eval_call(e, frame);
    case Expr::Kind::filter: return eval_filter(e, frame);
    case Expr::Kind::test: return eval_test(e, frame);
    case Expr::Kind::not_: return Value(!truthy(eval(*e.args[0], frame)));
    case Expr::Kind::neg:
    case Expr::Kind::pos: {
      Value v = eval(*e.args[0], frame);
      line_ = e.line;
      require_defined(*this, v);
      if (!v.is_number()) {
        error("TypeError", std::string("bad operand type for unary ") +
                               (e.kind == Expr::Kind::neg ? "-" : "+") + ": '" +
                               std::string(v.type_name()) + "'");
      }
      if (e.kind == Expr::Kind::pos) return v.is_bool() ? Value(std::int64_t{v.as_bool()}) : v;
      if (v.is_float()) return Value(-v.as_float());
      const std::int64_t i = v.is_bool() ? std::int64_t{v.as_bool()} : v.as_int();
      if (i == INT64_MIN) error("OverflowError", "integer overflow");
      return Value(-i);
    }
    case Expr::Kind::binary: {
      Value a = eval(*e.args[0], frame);
      Value b = eval(*e.args[1], frame);
      line_ = e.line;
      return binary_op(*this, e.name, a, b);
    }
    case Expr::Kind::compare: return eval_compare(e, frame);
    case Expr::Kind::and_: {
      Value a = eval(*e.args[0], frame);
      return truthy(a) ? eval(*e.args[1], frame) : a;
    }
    case Expr::Kind::or_: {
      Value a = eval(*e.args[0], frame);
      return truthy(a) ? a : eval(*e.args[1], frame);
    }
    case Expr::Kind::cond: {
      if (truthy(eval(*e.args[0], frame))) return eval(*e.args[1], frame);
      if (e.args[2]) return eval(*e.args[2], frame);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
  }
  return {};
}

Value Interpreter::eval_name(const Expr& e, const FramePtr& frame) {
  if (const Value* v = frame->find(e.name)) return *v;
  Value g = global_function(e.name);
  if (!g.is_undefined()) return g;
  return Value::undefined("'" + e.name + "' is undefined");
}

void Interpreter::eval_args(const Expr& e, std::size_t first, const FramePtr& frame,
                            CallArgs& args) {
  for (std::size_t i = first; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i], frame));
  for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v, frame));
}

Value Interpreter::eval_call(const Expr& e, const FramePtr& frame) {
  Value callee = eval(*e.args[0], frame);
  CallArgs args;
  eval_args(e, 1, frame, args);
  line_ = e.line;
  return call(callee, args);
}

Value Interpreter::eval_filter(const Expr& e, const FramePtr& frame) {
  Value subject = eval(*e.args[0], frame);
  CallArgs args;
  eval_args(e, 1, frame, args);
  line_ = e.line;
  return apply_filter(*this, e.name, subject, args);
}

Value Interpreter::eval_test(const Expr& e, const FramePtr& frame) {
  Value subject = eval(*e.args[0], frame);
  CallArgs args;
  eval_args(e, 1, frame, args);
  line_ = e.line;
  const bool r = apply_test(*this, e.name, subject, args);
  return Value(e.negated ? !r : r);
}

Value Interpreter::eval_compare(const Expr& e, const FramePtr& frame) {
  Value left = eval(*e.args[0], frame);
  for (std::size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.args[i + 1], frame);
    line_ = e.line;
    if (!compare_op(*this, e.ops[i], left, right)) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

namespace {

// Python's slice.indices(length) and the selected positions.
std::vector<std::size_t> slice_positions(Interpreter& in, std::int64_t len, const Value* start,
                                         const Value* stop, const Value* step_v) {
  auto as_index = [&](const Value* v) -> std::optional<std::int64_t> {
    if (!v || v->is_none()) return std::nullopt;
    if (v->is_bool()) return std::int64_t{v->as_bool()};
    if (!v->is_int()) in.error("TypeError", "slice indices must be integers or None");
    return v->as_int();
  };
  const std::int64_t step = as_index(step_v).value_or(1);
  if (step == 0) in.error("ValueError", "slice step cannot be zero");
  auto clamp = [&](std::optional<std::int64_t> v, std::int64_t dflt) {
    if (!v) return dflt;
    std::int64_t x = *v;
    if (x < 0) {
      x += len;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= len) {
      x = step < 0 ? len - 1 : len;
    }
    return x;
  };
  const std::int64_t lo = clamp(as_index(start), step < 0 ? len - 1 : 0);
  const std::int64_t hi = clamp(as_index(stop), step < 0 ? -1 : len);
  std::vector<std::size_t> out;
  if (step > 0) {
    for (std::int64_t i = lo; i < hi; i += step) out.push_back(static_cast<std::size_t>(i));
  } else {
    for (std::int64_t i = lo; i > hi; i += step) out.push_back(static_cast<std::size_t>(i));
  }
  return out;
}

}  // namespace

Value Interpreter::eval_slice(const Expr& e, const FramePtr& frame) {
  Value obj = eval(*e.args[0], frame);
  Value parts[3];
  for (int i = 0; i < 3; ++i) {
    if (e.args[static_cast<std::size_t>(i) + 1]) parts[i] = eval(*e.args[static_cast<std::size_t>(i) + 1], frame);
    else parts[i] = Value(None{});
  }
  line_ = e.line;
  require_defined(*this, obj);
  if (obj.is_list()) {
    const auto& items = obj.as_list().items;
    std::vector<Value> out;
    for (std::size_t i : slice_positions(*this, static_cast<std::int64_t>(items.size()), &parts[0],
                                         &parts[1], &parts[2])) {
      out.push_back(items[i]);
    }
    return Value::list(std::move(out), obj.as_list().tuple);
  }
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    const auto offs = text::offsets(s);
    std::string out;
    for (std::size_t i : slice_positions(*this, static_cast<std::int64_t>(offs.size() - 1),
                                         &parts[0], &parts[1], &parts[2])) {
      out.append(s, offs[i], offs[i + 1] - offs[i]);
    }
    return Value(std::move(out));
  }
  return Value::undefined("'" + std::string(obj.type_name()) + " object' is not subscriptable");
}

}  // namespace llmux::engine::chat_template
