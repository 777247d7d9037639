// The evaluator: renders a parsed template against a context, as Jinja2's
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, loopcontrols) does with
// transformers' globals.
//
// Sandbox: no file or module access exists at all; lists and dicts are immutable (only
// namespace() objects can be assigned to); every evaluation step, loop iteration, call depth,
// range() size and output byte is bounded by Limits, and exceeding one raises
// TemplateError("SecurityError"). An Interpreter serves one render on one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>

#include "engine/chat_template/ast.hpp"
#include "engine/chat_template/value.hpp"

namespace llmux::engine::chat_template {

struct Limits {
  std::size_t max_output_bytes = std::size_t{64} << 20;  // also bounds every string built
  std::uint64_t max_steps = 5'000'000;                   // expression/statement evaluations
  int max_call_depth = 100;                              // nested macro/caller calls
  int max_eval_depth = 400;                              // nested expression evaluations
  std::int64_t max_range = 100'000;                      // Jinja2 sandbox's MAX_RANGE
};

// Broken-down local time for strftime_now; injectable for reproducible renders.
using Clock = std::function<std::tm()>;

struct Frame {
  std::shared_ptr<Frame> parent;
  Dict vars;
  const Value* find(std::string_view name) const;
};
using FramePtr = std::shared_ptr<Frame>;

class Interpreter {
 public:
  Interpreter(Limits limits, Clock clock);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `body` with `context` as the template's variables.
  std::string render(const Body& body, Dict context);

  // Used by the built-in filters, tests and globals.
  Value call(const Value& callee, CallArgs& args);
  void step();
  [[noreturn]] void error(const char* kind, std::string message) const;
  void check_size(std::size_t bytes) const;
  const Limits& limits() const noexcept { return limits_; }
  std::tm now() const;
  // Namespaces are the only mutable objects, so the only way to build reference cycles; the
  // interpreter empties every one it created when it is destroyed, which frees any cycle.
  void track_namespace(const NamespacePtr& ns) { namespaces_.push_back(ns); }

 private:
  enum class Flow { normal, break_, continue_ };

  Flow exec_body(const Body& body, const FramePtr& frame, std::string& out);
  Flow exec(const Node& node, const FramePtr& frame, std::string& out);
  void exec_for(const Node& node, const FramePtr& frame, std::string& out);
  void exec_if(const Node& node, const FramePtr& frame, std::string& out, Flow& flow);
  void exec_call_block(const Node& node, const FramePtr& frame, std::string& out);
  Value make_macro(const Node& node, const FramePtr& frame, std::string name);
  Value invoke_macro(const Node& node, const std::weak_ptr<Frame>& defined_in, CallArgs& args,
                     const std::string& name);
  void assign(const Target& target, Value value, const FramePtr& frame);
  Value apply_block_filters(const Expr& chain, std::string text, const FramePtr& frame);

 public:
  Value eval(const Expr& e, const FramePtr& frame);

 private:
  Value eval_node(const Expr& e, const FramePtr& frame);
  Value eval_name(const Expr& e, const FramePtr& frame);
  Value eval_call(const Expr& e, const FramePtr& frame);
  Value eval_filter(const Expr& e, const FramePtr& frame);
  Value eval_test(const Expr& e, const FramePtr& frame);
  Value eval_compare(const Expr& e, const FramePtr& frame);
  Value eval_slice(const Expr& e, const FramePtr& frame);
  void eval_args(const Expr& e, std::size_t first, const FramePtr& frame, CallArgs& args);

  Limits limits_;
  Clock clock_;
  FramePtr root_;
  std::vector<NamespacePtr> namespaces_;
  std::uint64_t steps_ = 0;
  int depth_ = 0;
  int eval_depth_ = 0;
  int line_ = 0;
};

// Operations shared by the evaluator and the built-ins.
Value get_attr(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
// The items a `for` loop visits; throws TypeError for non-iterables.
std::vector<Value> iterate(Interpreter& in, const Value& v);
Value binary_op(Interpreter& in, const std::string& op, const Value& a, const Value& b);
bool compare_op(Interpreter& in, const std::string& op, const Value& a, const Value& b);
// Raises UndefinedError if v is undefined (an operation needs a real value).
void require_defined(const Interpreter& in, const Value& v);

}  // namespace llmux::engine::chat_template
