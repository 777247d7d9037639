// Values of the chat-template interpreter: the Python objects a Jinja2 template sees.
//
// A Value is undefined, none, a boolean, an integer (int64), a float, a string (UTF-8), a list
// (or tuple), a dict (insertion-ordered, string keys), a namespace (the only mutable object, as
// in Jinja2's sandbox) or a callable (a macro, a built-in global or a bound method). Lists, dicts
// and callables are shared immutable objects, so copying a Value is cheap.
//
// Conversions follow Python: `to_str` is `str(x)`, `repr` is `repr(x)`, `truthy` is `bool(x)`,
// `equals` is `==` (1 == 1.0 == True). Not thread-safe to mutate a Namespace concurrently; a
// render owns every Namespace it creates.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace llmux::engine::chat_template {

class Value;
class Interpreter;

struct Undefined {
  std::string hint;  // what was looked up, for error messages ("'x' is undefined")
  bool unsafe = false;  // a refused attribute: using it raises SecurityError
};
struct None {};

// Lists and dicts nest at most this deep (a sandbox limit: printing, comparing and freeing
// them recurses).
inline constexpr int kMaxNesting = 256;

struct List {
  std::vector<Value> items;
  bool tuple = false;  // printed as (a, b) instead of [a, b]
  int depth = 1;       // 1 + the deepest nested list or dict
};

struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);  // replaces an existing key in place
  int depth = 1;  // set by Value::dict
};

struct Namespace {
  Dict attrs;
};

// Arguments of a call: positional, then keyword (in call order).
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  const Value* kwarg(std::string_view name) const;
};

struct Callable {
  std::string name;
  bool macro = false;  // printed as <Macro 'name'>
  std::function<Value(Interpreter&, CallArgs&)> fn;
};

using ListPtr = std::shared_ptr<const List>;
using DictPtr = std::shared_ptr<const Dict>;
using NamespacePtr = std::shared_ptr<Namespace>;
using CallablePtr = std::shared_ptr<const Callable>;

class Value {
 public:
  enum class Kind { undefined, none, boolean, integer, floating, string, list, dict, ns, callable };

  Value() : v_(Undefined{}) {}
  Value(Undefined u) : v_(std::move(u)) {}
  Value(None n) : v_(n) {}
  Value(bool b) : v_(b) {}
  Value(std::int64_t i) : v_(i) {}
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(ListPtr l) : v_(std::move(l)) {}
  Value(DictPtr d) : v_(std::move(d)) {}
  Value(NamespacePtr n) : v_(std::move(n)) {}
  Value(CallablePtr c) : v_(std::move(c)) {}

  static Value undefined(std::string hint) { return Value(Undefined{std::move(hint)}); }
  // Throw TemplateError("SecurityError") past kMaxNesting.
  static Value list(std::vector<Value> items, bool tuple = false);
  static Value dict(Dict d);
  // Nesting depth of a list or dict (0 for everything else).
  int depth() const noexcept;

  Kind kind() const noexcept { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const noexcept { return kind() == Kind::undefined; }
  bool is_none() const noexcept { return kind() == Kind::none; }
  bool is_bool() const noexcept { return kind() == Kind::boolean; }
  bool is_int() const noexcept { return kind() == Kind::integer; }
  bool is_float() const noexcept { return kind() == Kind::floating; }
  bool is_number() const noexcept { return is_int() || is_float() || is_bool(); }
  bool is_string() const noexcept { return kind() == Kind::string; }
  bool is_list() const noexcept { return kind() == Kind::list; }
  bool is_dict() const noexcept { return kind() == Kind::dict; }
  bool is_namespace() const noexcept { return kind() == Kind::ns; }
  bool is_callable() const noexcept { return kind() == Kind::callable; }

  bool as_bool() const { return std::get<bool>(v_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const List& as_list() const { return *std::get<ListPtr>(v_); }
  const Dict& as_dict() const { return *std::get<DictPtr>(v_); }
  const NamespacePtr& as_namespace() const { return std::get<NamespacePtr>(v_); }
  const Callable& as_callable() const { return *std::get<CallablePtr>(v_); }
  const Undefined& as_undefined() const { return std::get<Undefined>(v_); }

  // Numeric value of an int, bool or float (Python's numeric tower).
  double number() const;
  // Python's type name, for messages: "str", "int", "list", "dict", "NoneType", ...
  std::string_view type_name() const noexcept;

 private:
  std::variant<Undefined, None, bool, std::int64_t, double, std::string, ListPtr, DictPtr,
               NamespacePtr, CallablePtr>
      v_;
};

bool truthy(const Value& v);
bool equals(const Value& a, const Value& b);
// Python's str(x); undefined gives "". Callables and namespaces print a placeholder.
std::string to_str(const Value& v);
std::string repr(const Value& v);
// Python's repr of a float ("1.0", "1e+16", "inf").
std::string float_repr(double d);

}  // namespace llmux::engine::chat_template
