// Jinja2's built-in filters, tests and globals, Python's str/dict/list methods, and transformers'
// globals (raise_exception, strftime_now) and tojson filter.
#pragma once

#include <string>

#include "engine/chat_template/value.hpp"

namespace llmux::engine::chat_template {

class Interpreter;

// `subject | name(args)`. Unknown filters raise TemplateAssertionError "No filter named 'x'.".
Value apply_filter(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args);
// `subject is name(args)`. Unknown tests raise "No test named 'x'.".
bool apply_test(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args);
// The bound method `obj.name`, or an undefined value when there is none (or it would mutate).
Value bound_method(const Value& obj, const std::string& name);
// A global function (range, dict, namespace, raise_exception, strftime_now), or undefined.
Value global_function(const std::string& name);

// Python's json.dumps(x, ensure_ascii, indent, separators, sort_keys) of a value.
struct JsonFormat {
  bool ensure_ascii = false;
  int indent = -1;  // -1: single line
  std::string indent_text;  // when indent was given as a string
  bool has_indent = false;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
std::string to_json(Interpreter& in, const Value& v, const JsonFormat& format);

}  // namespace llmux::engine::chat_template
