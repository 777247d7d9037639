#include "engine/chat_template/interpreter.hpp"

#include "engine/chat_template/builtins.hpp"
#include "engine/chat_template/template_error.hpp"

namespace llmux::engine::chat_template {

const Value* Frame::find(std::string_view name) const {
  for (const Frame* f = this; f; f = f->parent.get()) {
    if (const Value* v = f->vars.find(name)) return v;
  }
  return nullptr;
}

Interpreter::Interpreter(Limits limits, Clock clock)
    : limits_(limits), clock_(std::move(clock)) {}

Interpreter::~Interpreter() {
  for (const NamespacePtr& ns : namespaces_) ns->attrs.items.clear();
}

std::tm Interpreter::now() const {
  if (clock_) return clock_();
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

void Interpreter::error(const char* kind, std::string message) const {
  fail(kind, std::move(message), line_);
}

void Interpreter::step() {
  if (++steps_ > limits_.max_steps) {
    error("SecurityError", "template exceeded " + std::to_string(limits_.max_steps) +
                               " evaluation steps (sandbox limit)");
  }
}

void Interpreter::check_size(std::size_t bytes) const {
  if (bytes > limits_.max_output_bytes) {
    error("SecurityError", "output exceeds " + std::to_string(limits_.max_output_bytes) +
                               " bytes (sandbox limit)");
  }
}

std::string Interpreter::render(const Body& body, Dict context) {
  root_ = std::make_shared<Frame>();
  root_->vars = std::move(context);
  std::string out;
  exec_body(body, root_, out);
  return out;
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const FramePtr& frame,
                                         std::string& out) {
  for (const NodePtr& node : body) {
    const Flow flow = exec(*node, frame, out);
    if (flow != Flow::normal) return flow;
  }
  return Flow::normal;
}

Interpreter::Flow Interpreter::exec(const Node& node, const FramePtr& frame, std::string& out) {
  step();
  line_ = node.line;
  Flow flow = Flow::normal;
  switch (node.kind) {
    case Node::Kind::text:
      out += node.text;
      check_size(out.size());
      break;
    case Node::Kind::output:
      out += to_str(eval(*node.expr, frame));
      check_size(out.size());
      break;
    case Node::Kind::if_: exec_if(node, frame, out, flow); break;
    case Node::Kind::for_: exec_for(node, frame, out); break;
    case Node::Kind::set: assign(node.target, eval(*node.expr, frame), frame); break;
    case Node::Kind::set_block: {
      std::string text;
      exec_body(node.body, frame, text);
      assign(node.target, apply_block_filters(*node.expr, std::move(text), frame), frame);
      break;
    }
    case Node::Kind::filter_block: {
      std::string text;
      exec_body(node.body, frame, text);
      out += to_str(apply_block_filters(*node.expr, std::move(text), frame));
      check_size(out.size());
      break;
    }
    case Node::Kind::macro:
      frame->vars.set(node.text, make_macro(node, frame, node.text));
      break;
    case Node::Kind::call_block: exec_call_block(node, frame, out); break;
    case Node::Kind::with: {
      auto inner = std::make_shared<Frame>();
      inner->parent = frame;
      for (const auto& [target, expr] : node.assignments) assign(target, eval(*expr, frame), inner);
      flow = exec_body(node.body, inner, out);
      break;
    }
    case Node::Kind::scope: flow = exec_body(node.body, frame, out); break;
    case Node::Kind::break_: return Flow::break_;
    case Node::Kind::continue_: return Flow::continue_;
  }
  return flow;
}

void Interpreter::exec_if(const Node& node, const FramePtr& frame, std::string& out, Flow& flow) {
  for (std::size_t i = 0; i < node.conditions.size(); ++i) {
    line_ = node.conditions[i]->line;
    if (truthy(eval(*node.conditions[i], frame))) {
      flow = exec_body(node.bodies[i], frame, out);
      return;
    }
  }
  flow = exec_body(node.else_body, frame, out);
}

namespace {

// loop.cycle(...) of one loop; it reads the loop's current index.
Value make_cycle(std::shared_ptr<const std::size_t> index) {
  auto cycle = std::make_shared<Callable>();
  cycle->name = "cycle";
  cycle->fn = [index = std::move(index)](Interpreter& in, CallArgs& args) -> Value {
    if (args.positional.empty()) in.error("TypeError", "no items for cycling given");
    return args.positional[*index % args.positional.size()];
  };
  return Value(CallablePtr(std::move(cycle)));
}

Value loop_object(const std::vector<Value>& items, std::size_t i, const Value& cycle) {
  const auto n = static_cast<std::int64_t>(items.size());
  const auto k = static_cast<std::int64_t>(i);
  Dict d;
  d.items.reserve(12);
  d.items.emplace_back("index", Value(k + 1));
  d.items.emplace_back("index0", Value(k));
  d.items.emplace_back("revindex", Value(n - k));
  d.items.emplace_back("revindex0", Value(n - k - 1));
  d.items.emplace_back("first", Value(k == 0));
  d.items.emplace_back("last", Value(k == n - 1));
  d.items.emplace_back("length", Value(n));
  d.items.emplace_back("depth", Value(1));
  d.items.emplace_back("depth0", Value(0));
  d.items.emplace_back("previtem", i > 0 ? items[i - 1]
                                         : Value::undefined("there is no previous item"));
  d.items.emplace_back("nextitem", i + 1 < items.size()
                                       ? items[i + 1]
                                       : Value::undefined("there is no next item"));
  d.items.emplace_back("cycle", cycle);
  return Value::dict(std::move(d));
}

}  // namespace

void Interpreter::exec_for(const Node& node, const FramePtr& frame, std::string& out) {
  const Value iterable = eval(*node.expr, frame);
  std::vector<Value> storage;
  const std::vector<Value>* items = &storage;
  if (iterable.is_list() && !node.filter) {
    items = &iterable.as_list().items;  // no copy: the list is immutable and kept alive
  } else {
    storage = iterate(*this, iterable);
  }
  if (node.filter) {
    std::vector<Value> kept;
    for (Value& item : storage) {
      step();
      auto probe = std::make_shared<Frame>();
      probe->parent = frame;
      assign(node.target, item, probe);
      if (truthy(eval(*node.filter, probe))) kept.push_back(std::move(item));
    }
    storage = std::move(kept);
  }
  if (items->empty()) {
    exec_body(node.else_body, frame, out);
    return;
  }
  auto index = std::make_shared<std::size_t>(0);
  const Value cycle = make_cycle(index);
  // Each iteration starts from an empty scope. Without macros in the body nothing can keep a
  // reference to that scope, so one frame is cleared and reused (no allocation per iteration).
  FramePtr iteration;
  for (std::size_t i = 0; i < items->size(); ++i) {
    step();
    *index = i;
    if (!iteration || node.defines_macro) {
      iteration = std::make_shared<Frame>();
      iteration->parent = frame;
    } else {
      iteration->vars.items.clear();
    }
    if (node.uses_loop) iteration->vars.items.emplace_back("loop", loop_object(*items, i, cycle));
    assign(node.target, (*items)[i], iteration);
    if (exec_body(node.body, iteration, out) == Flow::break_) break;
  }
}

void Interpreter::assign(const Target& target, Value value, const FramePtr& frame) {
  if (!target.attr.empty()) {
    const Value* ns = frame->find(target.names[0]);
    if (!ns || !ns->is_namespace()) {
      error("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
    }
    ns->as_namespace()->attrs.set(target.attr, std::move(value));
    return;
  }
  if (!target.tuple) {
    frame->vars.set(target.names[0], std::move(value));
    return;
  }
  std::vector<Value> parts = iterate(*this, value);
  if (parts.size() < target.names.size()) {
    error("ValueError", "not enough values to unpack (expected " +
                            std::to_string(target.names.size()) + ", got " +
                            std::to_string(parts.size()) + ")");
  }
  if (parts.size() > target.names.size()) {
    error("ValueError", "too many values to unpack (expected " +
                            std::to_string(target.names.size()) + ")");
  }
  for (std::size_t i = 0; i < parts.size(); ++i) frame->vars.set(target.names[i], parts[i]);
}

Value Interpreter::apply_block_filters(const Expr& chain, std::string text,
                                       const FramePtr& frame) {
  auto inner = std::make_shared<Frame>();
  inner->parent = frame;
  inner->vars.set(kBlockValueName, Value(std::move(text)));
  return eval(chain, inner);
}

Value Interpreter::make_macro(const Node& node, const FramePtr& frame, std::string name) {
  auto c = std::make_shared<Callable>();
  c->name = name;
  c->macro = true;
  std::weak_ptr<Frame> defined_in = frame;
  const Node* n = &node;
  c->fn = [this, n, defined_in, name](Interpreter&, CallArgs& args) {
    return invoke_macro(*n, defined_in, args, name);
  };
  return Value(CallablePtr(std::move(c)));
}

Value Interpreter::invoke_macro(const Node& node, const std::weak_ptr<Frame>& defined_in,
                                CallArgs& args, const std::string& name) {
  if (args.positional.size() > node.params.size()) {
    error("TypeError", "macro '" + name + "' takes not more than " +
                           std::to_string(node.params.size()) + " argument(s)");
  }
  auto frame = std::make_shared<Frame>();
  frame->parent = defined_in.lock();
  if (!frame->parent) frame->parent = root_;
  for (const auto& [key, value] : args.keyword) {
    bool known = key == "caller";
    for (const auto& p : node.params) known = known || p.name == key;
    if (!known) error("TypeError", "macro '" + name + "' takes no keyword argument '" + key + "'");
  }
  for (std::size_t i = 0; i < node.params.size(); ++i) {
    const MacroParam& p = node.params[i];
    if (i < args.positional.size()) {
      frame->vars.set(p.name, args.positional[i]);
    } else if (const Value* kw = args.kwarg(p.name)) {
      frame->vars.set(p.name, *kw);
    } else if (p.default_value) {
      frame->vars.set(p.name, eval(*p.default_value, frame));
    } else {
      frame->vars.set(p.name, Value::undefined("parameter '" + p.name + "' was not provided"));
    }
  }
  if (const Value* caller = args.kwarg("caller")) frame->vars.set("caller", *caller);
  if (++depth_ > limits_.max_call_depth) {
    --depth_;
    error("SecurityError", "macro calls nested deeper than " +
                               std::to_string(limits_.max_call_depth) + " (sandbox limit)");
  }
  std::string out;
  const int saved_line = line_;
  try {
    exec_body(node.body, frame, out);
  } catch (...) {
    --depth_;
    throw;
  }
  --depth_;
  line_ = saved_line;
  return Value(std::move(out));
}

void Interpreter::exec_call_block(const Node& node, const FramePtr& frame, std::string& out) {
  Value caller = make_macro(node, frame, "caller");
  const Expr& call = *node.expr;
  Value callee = eval(*call.args[0], frame);
  CallArgs args;
  eval_args(call, 1, frame, args);
  args.keyword.emplace_back("caller", std::move(caller));
  out += to_str(this->call(callee, args));
  check_size(out.size());
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) require_defined(*this, callee);
  if (!callee.is_callable()) {
    error("TypeError", "'" + std::string(callee.type_name()) + "' object is not callable");
  }
  return callee.as_callable().fn(*this, args);
}

}  // namespace llmux::engine::chat_template
