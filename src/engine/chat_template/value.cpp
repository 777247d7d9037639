#include "engine/chat_template/value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "engine/chat_template/template_error.hpp"
#include "engine/chat_template/text.hpp"

namespace llmux::engine::chat_template {

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Dict::set(std::string key, Value value) {
  for (auto& [k, v] : items) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

const Value* CallArgs::kwarg(std::string_view name) const {
  for (const auto& [k, v] : keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

int Value::depth() const noexcept {
  if (is_list()) return as_list().depth;
  if (is_dict()) return as_dict().depth;
  return 0;
}

namespace {

int nested_depth(int inner) {
  if (inner + 1 > kMaxNesting) {
    fail("SecurityError", "lists and dicts nested deeper than " + std::to_string(kMaxNesting) +
                              " (sandbox limit)");
  }
  return inner + 1;
}

}  // namespace

Value Value::list(std::vector<Value> items, bool tuple) {
  auto l = std::make_shared<List>();
  int inner = 0;
  for (const Value& v : items) inner = std::max(inner, v.depth());
  l->depth = nested_depth(inner);
  l->items = std::move(items);
  l->tuple = tuple;
  return Value(ListPtr(std::move(l)));
}

Value Value::dict(Dict d) {
  int inner = 0;
  for (const auto& [k, v] : d.items) inner = std::max(inner, v.depth());
  d.depth = nested_depth(inner);
  return Value(DictPtr(std::make_shared<const Dict>(std::move(d))));
}

double Value::number() const {
  switch (kind()) {
    case Kind::boolean: return as_bool() ? 1.0 : 0.0;
    case Kind::integer: return static_cast<double>(as_int());
    case Kind::floating: return as_float();
    default: return 0.0;
  }
}

std::string_view Value::type_name() const noexcept {
  switch (kind()) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "NoneType";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::list: return std::get<ListPtr>(v_)->tuple ? "tuple" : "list";
    case Kind::dict: return "dict";
    case Kind::ns: return "Namespace";
    case Kind::callable: return "function";
  }
  return "object";
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none: return false;
    case Value::Kind::boolean: return v.as_bool();
    case Value::Kind::integer: return v.as_int() != 0;
    case Value::Kind::floating: return v.as_float() != 0.0;
    case Value::Kind::string: return !v.as_string().empty();
    case Value::Kind::list: return !v.as_list().items.empty();
    case Value::Kind::dict: return !v.as_dict().items.empty();
    case Value::Kind::ns:
    case Value::Kind::callable: return true;
  }
  return false;
}

namespace {

bool dicts_equal(const Dict& a, const Dict& b) {
  if (a.items.size() != b.items.size()) return false;
  for (const auto& [k, v] : a.items) {
    const Value* other = b.find(k);
    if (!other || !equals(v, *other)) return false;
  }
  return true;
}

}  // namespace

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.number() == b.number();
    const auto ai = a.is_bool() ? std::int64_t{a.as_bool()} : a.as_int();
    const auto bi = b.is_bool() ? std::int64_t{b.as_bool()} : b.as_int();
    return ai == bi;
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none: return true;
    case Value::Kind::string: return a.as_string() == b.as_string();
    case Value::Kind::list: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
      for (std::size_t i = 0; i < x.items.size(); ++i) {
        if (!equals(x.items[i], y.items[i])) return false;
      }
      return true;
    }
    case Value::Kind::dict: return dicts_equal(a.as_dict(), b.as_dict());
    case Value::Kind::ns: return a.as_namespace() == b.as_namespace();
    case Value::Kind::callable: return &a.as_callable() == &b.as_callable();
    default: return false;
  }
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const std::size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exp = std::stoi(sci.substr(e + 1));
  const int decpt = exp + 1;
  const int n = static_cast<int>(digits.size());
  std::string out = sign;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(static_cast<std::size_t>(-decpt), '0') + digits;
    } else if (decpt >= n) {
      out += digits + std::string(static_cast<std::size_t>(decpt - n), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(decpt)) + "." +
             digits.substr(static_cast<std::size_t>(decpt));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (n > 1) out += "." + digits.substr(1);
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return out + ebuf;
}

namespace {

void append_repr(std::string& out, const Value& v);

void append_sequence(std::string& out, const List& l) {
  out += l.tuple ? '(' : '[';
  for (std::size_t i = 0; i < l.items.size(); ++i) {
    if (i) out += ", ";
    append_repr(out, l.items[i]);
  }
  if (l.tuple && l.items.size() == 1) out += ',';
  out += l.tuple ? ')' : ']';
}

void append_repr(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::string: out += text::repr_string(v.as_string()); return;
    case Value::Kind::list: append_sequence(out, v.as_list()); return;
    case Value::Kind::dict: {
      out += '{';
      bool first = true;
      for (const auto& [k, item] : v.as_dict().items) {
        if (!first) out += ", ";
        first = false;
        out += text::repr_string(k);
        out += ": ";
        append_repr(out, item);
      }
      out += '}';
      return;
    }
    default: out += to_str(v); return;
  }
}

}  // namespace

std::string repr(const Value& v) {
  std::string out;
  append_repr(out, v);
  return out;
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return {};
    case Value::Kind::none: return "None";
    case Value::Kind::boolean: return v.as_bool() ? "True" : "False";
    case Value::Kind::integer: return std::to_string(v.as_int());
    case Value::Kind::floating: return float_repr(v.as_float());
    case Value::Kind::string: return v.as_string();
    case Value::Kind::list:
    case Value::Kind::dict: return repr(v);
    case Value::Kind::ns: {
      std::string out = "<Namespace {";
      bool first = true;
      for (const auto& [k, item] : v.as_namespace()->attrs.items) {
        if (!first) out += ", ";
        first = false;
        out += text::repr_string(k) + ": " + (item.is_namespace() ? "<Namespace>" : repr(item));
      }
      return out + "}>";
    }
    case Value::Kind::callable:
      if (v.as_callable().macro) return "<Macro '" + v.as_callable().name + "'>";
      return "<function " + v.as_callable().name + ">";
  }
  return {};
}

}  // namespace llmux::engine::chat_template
