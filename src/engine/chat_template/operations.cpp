// Python semantics of attribute and item access, iteration and the binary operators.
#include <cmath>
#include <limits>

#include "engine/chat_template/builtins.hpp"
#include "engine/chat_template/interpreter.hpp"
#include "engine/chat_template/text.hpp"

namespace llmux::engine::chat_template {

namespace {

std::string object_name(const Value& v) { return std::string(v.type_name()) + " object"; }

Value missing_attr(const Value& obj, const std::string& name) {
  return Value::undefined("'" + object_name(obj) + "' has no attribute '" + name + "'");
}

}  // namespace

void require_defined(const Interpreter& in, const Value& v) {
  if (v.is_undefined()) {
    const Undefined& u = v.as_undefined();
    in.error(u.unsafe ? "SecurityError" : "UndefinedError",
             u.hint.empty() ? "value is undefined" : u.hint);
  }
}

namespace {

// Methods that would mutate a list or dict: the immutable sandbox refuses them.
bool is_mutating_method(const Value& obj, const std::string& name) {
  static const char* const kList[] = {"append", "extend", "insert", "pop", "remove", "clear",
                                      "sort", "reverse"};
  static const char* const kDict[] = {"pop", "popitem", "clear", "update", "setdefault"};
  auto in = [&](const auto& names) {
    for (const char* n : names) {
      if (name == n) return true;
    }
    return false;
  };
  return (obj.is_list() && in(kList)) || (obj.is_dict() && in(kDict));
}

}  // namespace

// Jinja2's sandboxed getattr: the Python attribute (a method) first, then the item.
Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_namespace()) {
    if (const Value* v = obj.as_namespace()->attrs.find(name)) return *v;
    return missing_attr(obj, name);
  }
  if (!name.empty() && name[0] == '_') return missing_attr(obj, name);
  Value method = bound_method(obj, name);
  if (!method.is_undefined()) return method;
  if (is_mutating_method(obj, name)) {
    Undefined u{"access to attribute '" + name + "' of '" + std::string(obj.type_name()) +
                "' object is unsafe."};
    u.unsafe = true;
    return Value(std::move(u));
  }
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(name)) return *v;
  }
  return missing_attr(obj, name);
}

// Jinja2's getitem: the item first, then (for string keys) the attribute.
Value get_item(const Value& obj, const Value& key) {
  if (obj.is_dict() && key.is_string()) {
    if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    std::int64_t i = key.is_bool() ? std::int64_t{key.as_bool()} : key.as_int();
    if (obj.is_list()) {
      const auto& items = obj.as_list().items;
      const auto n = static_cast<std::int64_t>(items.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return items[static_cast<std::size_t>(i)];
      return Value::undefined(std::string(obj.type_name()) + " object has no element " +
                              std::to_string(key.is_int() ? key.as_int() : i));
    }
    const std::string& s = obj.as_string();
    const auto offs = text::offsets(s);
    const auto n = static_cast<std::int64_t>(offs.size() - 1);
    if (i < 0) i += n;
    if (i >= 0 && i < n) {
      const auto k = static_cast<std::size_t>(i);
      return Value(s.substr(offs[k], offs[k + 1] - offs[k]));
    }
    return Value::undefined("str object has no element " + std::to_string(key.as_int()));
  }
  if (key.is_string()) return get_attr(obj, key.as_string());
  return Value::undefined("'" + object_name(obj) + "' has no attribute '" + to_str(key) + "'");
}

std::vector<Value> iterate(Interpreter& in, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return {};
    case Value::Kind::list: return v.as_list().items;
    case Value::Kind::dict: {
      std::vector<Value> keys;
      keys.reserve(v.as_dict().items.size());
      for (const auto& [k, item] : v.as_dict().items) keys.emplace_back(k);
      return keys;
    }
    case Value::Kind::string: {
      const std::string& s = v.as_string();
      const auto offs = text::offsets(s);
      std::vector<Value> chars;
      chars.reserve(offs.size());
      for (std::size_t i = 0; i + 1 < offs.size(); ++i) {
        chars.emplace_back(s.substr(offs[i], offs[i + 1] - offs[i]));
      }
      return chars;
    }
    default:
      in.error("TypeError", "'" + std::string(v.type_name()) + "' object is not iterable");
  }
}

namespace {

std::int64_t int_of(const Value& v) { return v.is_bool() ? std::int64_t{v.as_bool()} : v.as_int(); }

[[noreturn]] void unsupported(Interpreter& in, const std::string& op, const Value& a,
                              const Value& b) {
  in.error("TypeError", "unsupported operand type(s) for " + op + ": '" +
                            std::string(a.type_name()) + "' and '" +
                            std::string(b.type_name()) + "'");
}

Value int_arith(Interpreter& in, const std::string& op, std::int64_t x, std::int64_t y) {
  std::int64_t r = 0;
  bool overflow = false;
  if (op == "+") {
    overflow = __builtin_add_overflow(x, y, &r);
  } else if (op == "-") {
    overflow = __builtin_sub_overflow(x, y, &r);
  } else if (op == "*") {
    overflow = __builtin_mul_overflow(x, y, &r);
  } else if (op == "//" || op == "%") {
    if (y == 0) in.error("ZeroDivisionError", "integer division or modulo by zero");
    if (x == std::numeric_limits<std::int64_t>::min() && y == -1) {
      overflow = op == "//";
      r = 0;
    } else {
      std::int64_t q = x / y;
      std::int64_t m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      r = op == "//" ? q : m;
    }
  } else if (op == "**") {
    if (y < 0) return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
    r = 1;
    for (std::int64_t i = 0; i < y && !overflow; ++i) {
      overflow = __builtin_mul_overflow(r, x, &r);
      if (r == 0 || r == 1) break;
      if (r == -1) {
        r = (y % 2 == 0) ? 1 : -1;
        break;
      }
    }
  }
  if (overflow) in.error("OverflowError", "integer result too large");
  return Value(r);
}

Value float_arith(Interpreter& in, const std::string& op, double x, double y) {
  if (op == "+") return Value(x + y);
  if (op == "-") return Value(x - y);
  if (op == "*") return Value(x * y);
  if (op == "/") {
    if (y == 0.0) in.error("ZeroDivisionError", "division by zero");
    return Value(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0.0) in.error("ZeroDivisionError", "float modulo");
    // CPython's float_divmod.
    double mod = std::fmod(x, y);
    double div = (x - mod) / y;
    if (mod != 0.0) {
      if ((y < 0) != (mod < 0)) {
        mod += y;
        div -= 1.0;
      }
    } else {
      mod = std::copysign(0.0, y);
    }
    double floordiv = 0.0;
    if (div != 0.0) {
      floordiv = std::floor(div);
      if (div - floordiv > 0.5) floordiv += 1.0;
    } else {
      floordiv = std::copysign(0.0, x / y);
    }
    return Value(op == "%" ? mod : floordiv);
  }
  if (op == "**") return Value(std::pow(x, y));
  return Value(0.0);
}

Value repeat(Interpreter& in, const Value& seq, std::int64_t n) {
  if (n <= 0) return seq.is_string() ? Value(std::string()) : Value::list({}, seq.as_list().tuple);
  const std::size_t unit = seq.is_string() ? seq.as_string().size()
                                           : seq.as_list().items.size() * sizeof(Value);
  if (unit != 0 && static_cast<std::uint64_t>(n) > in.limits().max_output_bytes / unit) {
    in.check_size(in.limits().max_output_bytes + 1);
  }
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    std::string out;
    out.reserve(s.size() * static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) out += s;
    return Value(std::move(out));
  }
  const auto& items = seq.as_list().items;
  std::vector<Value> out;
  for (std::int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.as_list().tuple);
}

}  // namespace

Value binary_op(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string out = to_str(a) + to_str(b);
    in.check_size(out.size());
    return Value(std::move(out));
  }
  require_defined(in, a);
  require_defined(in, b);
  if (a.is_number() && b.is_number()) {
    if (op == "/") return float_arith(in, op, a.number(), b.number());
    if (a.is_float() || b.is_float()) return float_arith(in, op, a.number(), b.number());
    return int_arith(in, op, int_of(a), int_of(b));
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      in.check_size(a.as_string().size() + b.as_string().size());
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && a.as_list().tuple == b.as_list().tuple) {
      std::vector<Value> out = a.as_list().items;
      out.insert(out.end(), b.as_list().items.begin(), b.as_list().items.end());
      return Value::list(std::move(out), a.as_list().tuple);
    }
    if (a.is_string()) {
      in.error("TypeError", "can only concatenate str (not \"" + std::string(b.type_name()) +
                                "\") to str");
    }
    if (a.is_list()) {
      in.error("TypeError", "can only concatenate list (not \"" + std::string(b.type_name()) +
                                "\") to list");
    }
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(in, a, int_of(b));
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(in, b, int_of(a));
  }
  if (op == "%" && a.is_string()) {
    in.error("TypeError", "printf-style string formatting is not supported");
  }
  unsupported(in, op, a, b);
}

namespace {

// -1, 0, 1 for Python's ordering of numbers, strings and lists.
int order(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) {
      const auto x = int_of(a);
      const auto y = int_of(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    const double x = a.number();
    const double y = b.number();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return order(in, op, x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  require_defined(in, a);
  require_defined(in, b);
  in.error("TypeError", "'" + op + "' not supported between instances of '" +
                            std::string(a.type_name()) + "' and '" +
                            std::string(b.type_name()) + "'");
}

bool contains(Interpreter& in, const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::undefined: return false;
    case Value::Kind::string:
      if (!item.is_string()) {
        in.error("TypeError", "'in <string>' requires string as left operand, not " +
                                  std::string(item.type_name()));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::list:
      for (const Value& v : container.as_list().items) {
        if (equals(v, item)) return true;
      }
      return false;
    case Value::Kind::dict:
      return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    default:
      in.error("TypeError", "argument of type '" + std::string(container.type_name()) +
                                "' is not iterable");
  }
}

}  // namespace

bool compare_op(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in") return contains(in, b, a);
  if (op == "notin") return !contains(in, b, a);
  const int c = order(in, op, a, b);
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;
}

}  // namespace llmux::engine::chat_template
