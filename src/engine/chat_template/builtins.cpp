// Globals, tests, Python methods and json.dumps.
#include "engine/chat_template/builtins.hpp"

#include <algorithm>
#include <cmath>

#include "engine/chat_template/interpreter.hpp"
#include "engine/chat_template/text.hpp"

namespace llmux::engine::chat_template {

namespace {

const Value* arg(const CallArgs& a, std::size_t index, std::string_view name) {
  if (index < a.positional.size()) return &a.positional[index];
  return a.kwarg(name);
}

const std::string& string_arg(Interpreter& in, const CallArgs& a, std::size_t index,
                              std::string_view name, const char* fn) {
  const Value* v = arg(a, index, name);
  if (!v) in.error("TypeError", std::string(fn) + "() missing required argument '" + std::string(name) + "'");
  if (!v->is_string()) {
    in.error("TypeError", std::string(fn) + "() argument must be str, not " + std::string(v->type_name()));
  }
  return v->as_string();
}

std::optional<std::string> optional_string(Interpreter& in, const CallArgs& a, std::size_t index,
                                           std::string_view name) {
  const Value* v = arg(a, index, name);
  if (!v || v->is_none()) return std::nullopt;
  if (!v->is_string()) in.error("TypeError", "expected str argument, got " + std::string(v->type_name()));
  return v->as_string();
}

std::int64_t int_arg(Interpreter& in, const CallArgs& a, std::size_t index, std::string_view name,
                     std::int64_t dflt) {
  const Value* v = arg(a, index, name);
  if (!v || v->is_none()) return dflt;
  if (v->is_bool()) return v->as_bool();
  if (!v->is_int()) in.error("TypeError", "expected int argument, got " + std::string(v->type_name()));
  return v->as_int();
}

Value string_list(std::vector<std::string> parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& p : parts) items.emplace_back(std::move(p));
  return Value::list(std::move(items));
}

bool affix_match(const Value& affix, const std::string& s, bool prefix, Interpreter& in) {
  auto one = [&](const Value& v) {
    if (!v.is_string()) in.error("TypeError", "startswith/endswith first arg must be str or a tuple of str");
    const std::string& a = v.as_string();
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list()) {
    return std::any_of(affix.as_list().items.begin(), affix.as_list().items.end(), one);
  }
  return one(affix);
}

template <typename Pred>
bool all_code_points(const std::string& s, Pred pred) {
  if (s.empty()) return false;
  std::size_t pos = 0;
  while (pos < s.size()) {
    if (!pred(text::decode(s, pos))) return false;
  }
  return true;
}

Value string_method(const std::string& s, const std::string& name, Interpreter& in, CallArgs& a) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    return Value(text::strip(s, optional_string(in, a, 0, "chars"), name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    auto sep = optional_string(in, a, 0, "sep");
    if (sep && sep->empty()) in.error("ValueError", "empty separator");
    const auto max = int_arg(in, a, 1, "maxsplit", -1);
    return string_list(name == "split" ? text::split(s, sep, max) : text::rsplit(s, sep, max));
  }
  if (name == "splitlines") return string_list(text::splitlines(s));
  if (name == "startswith" || name == "endswith") {
    const Value* affix = arg(a, 0, "prefix");
    if (!affix) in.error("TypeError", name + "() takes at least 1 argument (0 given)");
    return Value(affix_match(*affix, s, name == "startswith", in));
  }
  if (name == "replace") {
    const std::string out = text::replace(s, string_arg(in, a, 0, "old", "replace"),
                                          string_arg(in, a, 1, "new", "replace"),
                                          int_arg(in, a, 2, "count", -1),
                                          in.limits().max_output_bytes);
    in.check_size(out.size());
    return Value(out);
  }
  if (name == "upper") return Value(text::upper(s));
  if (name == "lower") return Value(text::lower(s));
  if (name == "title") return Value(text::title(s));
  if (name == "capitalize") return Value(text::capitalize(s));
  if (name == "find") return Value(text::find(s, string_arg(in, a, 0, "sub", "find")));
  if (name == "count") return Value(text::count(s, string_arg(in, a, 0, "sub", "count")));
  if (name == "join") {
    const Value* it = arg(a, 0, "iterable");
    if (!it) in.error("TypeError", "join() takes exactly one argument (0 given)");
    std::string out;
    std::size_t i = 0;
    for (const Value& v : iterate(in, *it)) {
      if (!v.is_string()) {
        in.error("TypeError", "sequence item " + std::to_string(i) + ": expected str instance, " +
                                  std::string(v.type_name()) + " found");
      }
      if (i++) out += s;
      out += v.as_string();
      in.check_size(out.size());
    }
    return Value(std::move(out));
  }
  if (name == "isdigit") {
    return Value(all_code_points(s, [](char32_t c) { return c >= '0' && c <= '9'; }));
  }
  if (name == "isspace") return Value(all_code_points(s, text::is_space));
  if (name == "isalpha") {
    return Value(all_code_points(s, [](char32_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }));
  }
  if (name == "isalnum") {
    return Value(all_code_points(s, [](char32_t c) {
      return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9');
    }));
  }
  if (name == "islower") return Value(text::lower(s) == s && text::upper(s) != s);
  if (name == "isupper") return Value(text::upper(s) == s && text::lower(s) != s);
  return Value::undefined("");
}

Value dict_method(const Value& self, const std::string& name, Interpreter& in, CallArgs& a) {
  const Dict& d = self.as_dict();
  if (name == "items") {
    std::vector<Value> out;
    for (const auto& [k, v] : d.items) out.push_back(Value::list({Value(k), v}, true));
    return Value::list(std::move(out));
  }
  if (name == "keys") {
    std::vector<Value> out;
    for (const auto& [k, v] : d.items) out.emplace_back(k);
    return Value::list(std::move(out));
  }
  if (name == "values") {
    std::vector<Value> out;
    for (const auto& [k, v] : d.items) out.push_back(v);
    return Value::list(std::move(out));
  }
  // get
  const Value* key = arg(a, 0, "key");
  if (!key) in.error("TypeError", "get expected at least 1 argument, got 0");
  if (key->is_string()) {
    if (const Value* v = d.find(key->as_string())) return *v;
  }
  const Value* dflt = arg(a, 1, "default");
  return dflt ? *dflt : Value(None{});
}

Value list_method(const Value& self, const std::string& name, Interpreter& in, CallArgs& a) {
  const auto& items = self.as_list().items;
  const Value* x = arg(a, 0, "value");
  if (!x) in.error("TypeError", name + "() takes exactly one argument (0 given)");
  if (name == "count") {
    return Value(static_cast<std::int64_t>(
        std::count_if(items.begin(), items.end(), [&](const Value& v) { return equals(v, *x); })));
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (equals(items[i], *x)) return Value(static_cast<std::int64_t>(i));
  }
  in.error("ValueError", repr(*x) + " is not in list");
}

bool is_method_of(const Value& obj, const std::string& name) {
  static const char* const kStr[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
                                     "startswith", "endswith", "replace", "upper", "lower",
                                     "title", "capitalize", "find", "count", "join", "isdigit",
                                     "isspace", "isalpha", "isalnum", "islower", "isupper"};
  static const char* const kDict[] = {"items", "keys", "values", "get"};
  static const char* const kList[] = {"index", "count"};
  auto in_list = [&](auto& names) {
    return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return name == n; });
  };
  if (obj.is_string()) return in_list(kStr);
  if (obj.is_dict()) return in_list(kDict);
  if (obj.is_list()) return in_list(kList);
  return false;
}

Value make_callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn) {
  auto c = std::make_shared<Callable>();
  c->name = std::move(name);
  c->fn = std::move(fn);
  return Value(CallablePtr(std::move(c)));
}

}  // namespace

Value bound_method(const Value& obj, const std::string& name) {
  if (!is_method_of(obj, name)) return Value::undefined("");
  return make_callable(name, [obj, name](Interpreter& in, CallArgs& a) -> Value {
    if (obj.is_string()) return string_method(obj.as_string(), name, in, a);
    if (obj.is_dict()) return dict_method(obj, name, in, a);
    return list_method(obj, name, in, a);
  });
}

// ---- globals --------------------------------------------------------------------------------

namespace {

Value global_range(Interpreter& in, CallArgs& a) {
  std::int64_t start = 0, stop = 0, step = 1;
  const auto n = a.positional.size();
  if (n == 0 || n > 3 || !a.keyword.empty()) in.error("TypeError", "range expected 1 to 3 arguments");
  auto get = [&](std::size_t i) { return int_arg(in, a, i, "", 0); };
  if (n == 1) {
    stop = get(0);
  } else {
    start = get(0);
    stop = get(1);
    if (n == 3) step = get(2);
  }
  if (step == 0) in.error("ValueError", "range() arg 3 must not be zero");
  const double count = std::ceil((static_cast<double>(stop) - static_cast<double>(start)) /
                                 static_cast<double>(step));
  if (count > static_cast<double>(in.limits().max_range)) {
    in.error("OverflowError", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (" +
                                  std::to_string(in.limits().max_range) + ").");
  }
  std::vector<Value> out;
  for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.emplace_back(i);
  return Value::list(std::move(out));
}

Value global_namespace(Interpreter& in, CallArgs& a) {
  auto ns = std::make_shared<Namespace>();
  for (const Value& p : a.positional) {
    if (!p.is_dict()) in.error("TypeError", "namespace() positional argument must be a dict");
    for (const auto& [k, v] : p.as_dict().items) ns->attrs.set(k, v);
  }
  for (const auto& [k, v] : a.keyword) ns->attrs.set(k, v);
  in.track_namespace(ns);
  return Value(NamespacePtr(std::move(ns)));
}

Value global_strftime(Interpreter& in, CallArgs& a) {
  const std::string& fmt = string_arg(in, a, 0, "format", "strftime_now");
  if (fmt.empty()) return Value(std::string());
  const std::tm tm = in.now();
  std::string buf(fmt.size() * 4 + 64, '\0');
  for (int attempt = 0; attempt < 6; ++attempt) {
    const std::size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n > 0) {
      buf.resize(n);
      return Value(std::move(buf));
    }
    buf.resize(buf.size() * 4);
  }
  return Value(std::string());
}

}  // namespace

Value global_function(const std::string& name) {
  if (name == "range") return make_callable(name, global_range);
  if (name == "namespace") return make_callable(name, global_namespace);
  if (name == "dict") {
    return make_callable(name, [](Interpreter&, CallArgs& a) {
      Dict d;
      for (const Value& p : a.positional) {
        if (p.is_dict()) d = p.as_dict();
      }
      for (const auto& [k, v] : a.keyword) d.set(k, v);
      return Value::dict(std::move(d));
    });
  }
  if (name == "raise_exception") {
    return make_callable(name, [](Interpreter& in, CallArgs& a) -> Value {
      const Value* m = arg(a, 0, "message");
      in.error("TemplateError", m ? to_str(*m) : std::string());
    });
  }
  if (name == "strftime_now") return make_callable(name, global_strftime);
  return Value::undefined("");
}

// ---- tests ----------------------------------------------------------------------------------

namespace {

bool same_as(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none: return true;
    case Value::Kind::boolean: return a.as_bool() == b.as_bool();
    case Value::Kind::integer: return a.as_int() == b.as_int();
    case Value::Kind::string: return a.as_string() == b.as_string();
    case Value::Kind::list: return &a.as_list() == &b.as_list();
    case Value::Kind::dict: return &a.as_dict() == &b.as_dict();
    default: return equals(a, b);
  }
}

}  // namespace

bool apply_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& a) {
  auto other = [&]() -> const Value& {
    const Value* o = arg(a, 0, "other");
    if (!o) in.error("TypeError", "test '" + name + "' needs an argument");
    return *o;
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "lower") return v.is_string() && text::lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && text::upper(v.as_string()) == v.as_string();
  if (name == "odd" || name == "even" || name == "divisibleby") {
    require_defined(in, v);
    if (!v.is_int() && !v.is_bool()) in.error("TypeError", "test '" + name + "' needs an integer");
    const std::int64_t x = v.is_bool() ? v.as_bool() : v.as_int();
    if (name == "odd") return x % 2 != 0;
    if (name == "even") return x % 2 == 0;
    const std::int64_t d = int_arg(in, a, 0, "num", 1);
    if (d == 0) in.error("ZeroDivisionError", "integer division or modulo by zero");
    return x % d == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, other());
  if (name == "ne" || name == "!=") return !equals(v, other());
  if (name == "lt" || name == "lessthan" || name == "<") return compare_op(in, "<", v, other());
  if (name == "le" || name == "<=") return compare_op(in, "<=", v, other());
  if (name == "gt" || name == "greaterthan" || name == ">") return compare_op(in, ">", v, other());
  if (name == "ge" || name == ">=") return compare_op(in, ">=", v, other());
  if (name == "in") return compare_op(in, "in", v, other());
  if (name == "sameas") return same_as(v, other());
  in.error("TemplateAssertionError", "No test named '" + name + "'.");
}

// ---- json.dumps -----------------------------------------------------------------------------

namespace {

void dump(Interpreter& in, std::string& out, const Value& v, const JsonFormat& f, int level) {
  in.step();
  in.check_size(out.size());
  auto newline = [&](int lvl) {
    out += '\n';
    if (!f.indent_text.empty()) {
      for (int i = 0; i < lvl; ++i) out += f.indent_text;
    } else if (f.indent > 0) {
      out.append(static_cast<std::size_t>(f.indent * lvl), ' ');
    }
  };
  switch (v.kind()) {
    case Value::Kind::none: out += "null"; return;
    case Value::Kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::integer: out += std::to_string(v.as_int()); return;
    case Value::Kind::floating: {
      const double d = v.as_float();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d < 0 ? "-Infinity" : "Infinity";
      else out += float_repr(d);
      return;
    }
    case Value::Kind::string:
      out += '"';
      text::append_json_string(out, v.as_string(), f.ensure_ascii);
      out += '"';
      return;
    case Value::Kind::list: {
      const auto& items = v.as_list().items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += f.item_separator;
        if (f.has_indent) newline(level + 1);
        dump(in, out, items[i], f, level + 1);
      }
      if (f.has_indent) newline(level);
      out += ']';
      return;
    }
    case Value::Kind::dict: {
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : v.as_dict().items) entries.push_back(&e);
      if (entries.empty()) {
        out += "{}";
        return;
      }
      if (f.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(),
                         [](auto* x, auto* y) { return x->first < y->first; });
      }
      out += '{';
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i) out += f.item_separator;
        if (f.has_indent) newline(level + 1);
        out += '"';
        text::append_json_string(out, entries[i]->first, f.ensure_ascii);
        out += '"';
        out += f.key_separator;
        dump(in, out, entries[i]->second, f, level + 1);
      }
      if (f.has_indent) newline(level);
      out += '}';
      return;
    }
    default:
      in.error("TypeError", "Object of type " + std::string(v.type_name()) +
                                " is not JSON serializable");
  }
}

}  // namespace

std::string to_json(Interpreter& in, const Value& v, const JsonFormat& format) {
  std::string out;
  dump(in, out, v, format, 0);
  in.check_size(out.size());
  return out;
}

}  // namespace llmux::engine::chat_template
