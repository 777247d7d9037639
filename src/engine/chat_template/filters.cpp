// Jinja2's built-in filters, with transformers' tojson.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cfenv>
#include <initializer_list>
#include <cstdio>
#include <cstdlib>

#include "engine/chat_template/builtins.hpp"
#include "engine/chat_template/interpreter.hpp"
#include "engine/chat_template/text.hpp"

namespace llmux::engine::chat_template {

namespace {

const Value* arg(const CallArgs& a, std::size_t index, std::string_view name) {
  if (index < a.positional.size()) return &a.positional[index];
  return a.kwarg(name);
}

bool bool_arg(const CallArgs& a, std::size_t index, std::string_view name, bool dflt) {
  const Value* v = arg(a, index, name);
  return v ? truthy(*v) : dflt;
}

// Jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0.
Value lookup_path(Interpreter& in, const Value& item, const Value& attribute) {
  if (attribute.is_int()) return get_item(item, attribute);
  if (!attribute.is_string()) in.error("TypeError", "attribute must be a string or an integer");
  Value cur = item;
  for (const std::string& part : text::split(attribute.as_string(), std::string("."), -1)) {
    Value key(part);
    if (!part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      std::int64_t i = 0;
      std::from_chars(part.data(), part.data() + part.size(), i);
      key = Value(i);
    }
    if (cur.is_undefined()) require_defined(in, cur);
    cur = get_item(cur, key);
  }
  return cur;
}

std::size_t length_of(Interpreter& in, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return 0;
    case Value::Kind::string: return text::length(v.as_string());
    case Value::Kind::list: return v.as_list().items.size();
    case Value::Kind::dict: return v.as_dict().items.size();
    default:
      in.error("TypeError", "object of type '" + std::string(v.type_name()) + "' has no len()");
  }
}

// Applies select/reject/selectattr/rejectattr.
Value select_items(Interpreter& in, const Value& seq, CallArgs& a, bool by_attr, bool keep) {
  std::size_t next = 0;
  Value attribute;
  if (by_attr) {
    if (a.positional.empty()) in.error("TypeError", "selectattr/rejectattr need an attribute");
    attribute = a.positional[next++];
  }
  std::string test;
  CallArgs test_args;
  if (next < a.positional.size()) {
    if (!a.positional[next].is_string()) in.error("TypeError", "test name must be a string");
    test = a.positional[next++].as_string();
    test_args.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(next), a.positional.end());
    test_args.keyword = a.keyword;
  }
  std::vector<Value> out;
  for (const Value& item : iterate(in, seq)) {
    in.step();
    const Value subject = by_attr ? lookup_path(in, item, attribute) : item;
    const bool ok = test.empty() ? truthy(subject) : apply_test(in, test, subject, test_args);
    if (ok == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value map_items(Interpreter& in, const Value& seq, CallArgs& a) {
  std::vector<Value> out;
  if (const Value* attribute = a.kwarg("attribute")) {
    const Value* dflt = a.kwarg("default");
    for (const Value& item : iterate(in, seq)) {
      in.step();
      Value v = lookup_path(in, item, *attribute);
      if (v.is_undefined() && dflt) v = *dflt;
      out.push_back(std::move(v));
    }
    return Value::list(std::move(out));
  }
  if (a.positional.empty() || !a.positional[0].is_string()) in.error("TypeError", "map needs a filter name or attribute=");
  const std::string filter = a.positional[0].as_string();
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const Value& item : iterate(in, seq)) {
    in.step();
    CallArgs copy = rest;
    out.push_back(apply_filter(in, filter, item, copy));
  }
  return Value::list(std::move(out));
}

// Sort key for sort/dictsort/unique/min/max: strings fold case unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(text::lower(v.as_string()));
  return v;
}

Value sort_items(Interpreter& in, const Value& seq, CallArgs& a) {
  const bool reverse = bool_arg(a, 0, "reverse", false);
  const bool case_sensitive = bool_arg(a, 1, "case_sensitive", false);
  const Value* attribute = arg(a, 2, "attribute");
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : iterate(in, seq)) {
    Value k = attribute && !attribute->is_none() ? lookup_path(in, item, *attribute) : item;
    keyed.emplace_back(sort_key(k, case_sensitive), item);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare_op(in, "<", y.first, x.first) : compare_op(in, "<", x.first, y.first);
  });
  std::vector<Value> out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return Value::list(std::move(out));
}

Value dictsort_items(Interpreter& in, const Value& d, CallArgs& a) {
  if (!d.is_dict()) in.error("TypeError", "dictsort needs a mapping");
  const bool case_sensitive = bool_arg(a, 0, "case_sensitive", false);
  const Value* by = arg(a, 1, "by");
  const bool by_value = by && by->is_string() && by->as_string() == "value";
  const bool reverse = bool_arg(a, 2, "reverse", false);
  std::vector<std::pair<std::string, Value>> items = d.as_dict().items;
  std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
    const Value kx = sort_key(by_value ? x.second : Value(x.first), case_sensitive);
    const Value ky = sort_key(by_value ? y.second : Value(y.first), case_sensitive);
    return reverse ? compare_op(in, "<", ky, kx) : compare_op(in, "<", kx, ky);
  });
  std::vector<Value> out;
  for (auto& [k, v] : items) out.push_back(Value::list({Value(k), v}, true));
  return Value::list(std::move(out));
}

Value unique_items(Interpreter& in, const Value& seq, CallArgs& a) {
  const bool case_sensitive = bool_arg(a, 0, "case_sensitive", false);
  const Value* attribute = arg(a, 1, "attribute");
  std::vector<Value> seen;
  std::vector<Value> out;
  for (const Value& item : iterate(in, seq)) {
    in.step();
    const Value k = sort_key(attribute ? lookup_path(in, item, *attribute) : item, case_sensitive);
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) continue;
    seen.push_back(k);
    out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value min_max(Interpreter& in, const Value& seq, CallArgs& a, bool want_max) {
  const bool case_sensitive = bool_arg(a, 0, "case_sensitive", false);
  const Value* attribute = arg(a, 1, "attribute");
  std::optional<Value> best;
  Value best_key;
  for (const Value& item : iterate(in, seq)) {
    const Value k = sort_key(attribute ? lookup_path(in, item, *attribute) : item, case_sensitive);
    if (!best || compare_op(in, want_max ? ">" : "<", k, best_key)) {
      best = item;
      best_key = k;
    }
  }
  if (!best) return Value::undefined("No aggregated item, sequence was empty.");
  return *best;
}

Value join_items(Interpreter& in, const Value& seq, CallArgs& a) {
  const Value* sep_v = arg(a, 0, "d");
  const std::string sep = sep_v ? to_str(*sep_v) : std::string();
  const Value* attribute = arg(a, 1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& item : iterate(in, seq)) {
    in.step();
    if (!first) out += sep;
    first = false;
    out += to_str(attribute && !attribute->is_none() ? lookup_path(in, item, *attribute) : item);
    in.check_size(out.size());
  }
  return Value(std::move(out));
}

Value to_int(const Value& v, CallArgs& a) {
  const Value* dflt = arg(a, 0, "default");
  const Value fallback = dflt ? *dflt : Value(0);
  const std::int64_t base = [&] {
    const Value* b = arg(a, 1, "base");
    return b && b->is_int() ? b->as_int() : 10;
  }();
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(std::int64_t{v.as_bool()});
  if (v.is_float()) {
    const double d = v.as_float();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return Value(static_cast<std::int64_t>(d));
  }
  if (v.is_string()) {
    std::string s = text::strip(v.as_string(), std::nullopt, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    std::int64_t i = 0;
    const char* b = s.data();
    const char* e = s.data() + s.size();
    if (b != e && *b == '+') ++b;
    const auto r = std::from_chars(b, e, i, static_cast<int>(base < 2 || base > 36 ? 10 : base));
    if (r.ec == std::errc() && r.ptr == e && b != e) return Value(i);
    double d = 0;
    const auto rf = std::from_chars(b, e, d);
    if (rf.ec == std::errc() && rf.ptr == e && std::isfinite(d) && std::fabs(d) < 9.2e18) {
      return Value(static_cast<std::int64_t>(d));
    }
  }
  return fallback;
}

Value to_float(const Value& v, CallArgs& a) {
  const Value* dflt = arg(a, 0, "default");
  const Value fallback = dflt ? *dflt : Value(0.0);
  if (v.is_number()) return Value(v.number());
  if (v.is_string()) {
    const std::string s = text::strip(v.as_string(), std::nullopt, true, true);
    double d = 0;
    const char* b = s.data();
    if (!s.empty() && *b == '+') ++b;
    const auto r = std::from_chars(b, s.data() + s.size(), d);
    if (r.ec == std::errc() && r.ptr == s.data() + s.size() && b != s.data() + s.size()) return Value(d);
  }
  return fallback;
}

Value round_value(Interpreter& in, const Value& v, CallArgs& a) {
  require_defined(in, v);
  if (!v.is_number()) in.error("TypeError", "round needs a number");
  const std::int64_t precision = [&] {
    const Value* p = arg(a, 0, "precision");
    return p && p->is_int() ? p->as_int() : 0;
  }();
  const Value* m = arg(a, 1, "method");
  const std::string method = m && m->is_string() ? m->as_string() : "common";
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.number();
  if (method == "ceil") return Value(std::ceil(x * scale) / scale);
  if (method == "floor") return Value(std::floor(x * scale) / scale);
  if (method != "common") in.error("FilterArgumentError", "method must be common, ceil or floor");
  if (v.is_int() || v.is_bool()) return Value(std::int64_t(v.is_bool() ? v.as_bool() : v.as_int()));
  if (precision >= 0 && precision <= 300 && std::isfinite(x)) {
    // Python's round() rounds the exact binary value half-to-even, as glibc's printf does.
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), x);
    return Value(std::strtod(buf, nullptr));
  }
  return Value(std::nearbyint(x * scale) / scale);
}

Value indent_text(const Value& v, CallArgs& a) {
  const Value* w = arg(a, 0, "width");
  const std::string indention =
      w && w->is_string() ? w->as_string() : std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, w && w->is_int() ? w->as_int() : 4)), ' ');
  const bool first = bool_arg(a, 1, "first", false);
  const bool blank = bool_arg(a, 2, "blank", false);
  const auto lines = text::splitlines(to_str(v) + "\n");
  std::string rv;
  if (blank) {
    for (std::size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + indention : "") + lines[i];
  } else {
    rv = lines.empty() ? std::string() : lines[0];
    for (std::size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : indention + lines[i]);
  }
  if (first) rv = indention + rv;
  return Value(std::move(rv));
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Value tojson_filter(Interpreter& in, const Value& v, CallArgs& a) {
  // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  JsonFormat f;
  f.ensure_ascii = bool_arg(a, 0, "ensure_ascii", false);
  if (const Value* indent = arg(a, 1, "indent"); indent && !indent->is_none()) {
    f.has_indent = true;
    if (indent->is_string()) {
      f.indent_text = indent->as_string();
    } else if (indent->is_int()) {
      f.indent = static_cast<int>(std::clamp<std::int64_t>(indent->as_int(), -1, 256));
    } else {
      in.error("TypeError", "indent must be an int or a string");
    }
    f.item_separator = ",";
  }
  if (const Value* sep = arg(a, 2, "separators"); sep && !sep->is_none()) {
    if (!sep->is_list() || sep->as_list().items.size() != 2 || !sep->as_list().items[0].is_string() ||
        !sep->as_list().items[1].is_string()) {
      in.error("ValueError", "separators must be a pair of strings");
    }
    f.item_separator = sep->as_list().items[0].as_string();
    f.key_separator = sep->as_list().items[1].as_string();
  }
  f.sort_keys = bool_arg(a, 3, "sort_keys", false);
  return Value(to_json(in, v, f));
}

Value items_of(Interpreter& in, const Value& v) {
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) in.error("TypeError", "Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, item] : v.as_dict().items) out.push_back(Value::list({Value(k), item}, true));
  return Value::list(std::move(out));
}

Value reverse_of(Interpreter& in, const Value& v) {
  if (v.is_string()) {
    const std::string& s = v.as_string();
    const auto offs = text::offsets(s);
    std::string out;
    for (std::size_t i = offs.size() - 1; i > 0; --i) out.append(s, offs[i - 1], offs[i] - offs[i - 1]);
    return Value(std::move(out));
  }
  std::vector<Value> items = iterate(in, v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value sum_of(Interpreter& in, const Value& v, CallArgs& a) {
  const Value* attribute = arg(a, 0, "attribute");
  const Value* start = arg(a, 1, "start");
  Value total = start ? *start : Value(0);
  for (const Value& item : iterate(in, v)) {
    total = binary_op(in, "+", total, attribute && !attribute->is_none() ? lookup_path(in, item, *attribute) : item);
  }
  return total;
}

Value batch_of(Interpreter& in, const Value& v, CallArgs& a) {
  const Value* n = arg(a, 0, "linecount");
  if (!n || !n->is_int() || n->as_int() <= 0) in.error("TypeError", "batch needs a positive linecount");
  const Value* fill = arg(a, 1, "fill_with");
  const auto size = static_cast<std::size_t>(n->as_int());
  std::vector<Value> out;
  std::vector<Value> cur;
  for (const Value& item : iterate(in, v)) {
    cur.push_back(item);
    if (cur.size() == size) out.push_back(Value::list(std::exchange(cur, {})));
  }
  if (!cur.empty()) {
    if (fill && !fill->is_none()) cur.resize(size, *fill);
    out.push_back(Value::list(std::move(cur)));
  }
  return Value::list(std::move(out));
}

std::int64_t word_count(const std::string& s) {
  std::int64_t n = 0;
  bool in_word = false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool word = std::isalnum(u) || c == '_' || u >= 0x80;
    if (word && !in_word) ++n;
    in_word = word;
  }
  return n;
}

// Keyword arguments each filter accepts (Python raises TypeError for any other).
void check_keywords(Interpreter& in, const std::string& name, const CallArgs& a) {
  if (a.keyword.empty()) return;
  struct Allowed {
    const char* filter;
    std::initializer_list<const char*> keywords;
  };
  static const Allowed kAllowed[] = {
      {"tojson", {"ensure_ascii", "indent", "separators", "sort_keys"}},
      {"trim", {"chars"}},
      {"default", {"default_value", "boolean"}},
      {"d", {"default_value", "boolean"}},
      {"join", {"d", "attribute"}},
      {"int", {"default", "base"}},
      {"float", {"default"}},
      {"replace", {"old", "new", "count"}},
      {"sort", {"reverse", "case_sensitive", "attribute"}},
      {"dictsort", {"case_sensitive", "by", "reverse"}},
      {"unique", {"case_sensitive", "attribute"}},
      {"min", {"case_sensitive", "attribute"}},
      {"max", {"case_sensitive", "attribute"}},
      {"sum", {"attribute", "start"}},
      {"round", {"precision", "method"}},
      {"indent", {"width", "first", "blank"}},
      {"batch", {"linecount", "fill_with"}},
      {"attr", {"name"}},
  };
  // map/select/reject/selectattr/rejectattr pass keywords on to the filter or test they apply.
  if (name == "map" || name == "select" || name == "reject" || name == "selectattr" ||
      name == "rejectattr") {
    return;
  }
  for (const Allowed& entry : kAllowed) {
    if (name != entry.filter) continue;
    for (const auto& [key, value] : a.keyword) {
      bool ok = false;
      for (const char* k : entry.keywords) ok = ok || key == k;
      if (!ok) in.error("TypeError", name + "() got an unexpected keyword argument '" + key + "'");
    }
    return;
  }
  static const char* const kWithoutKeywords[] = {
      "length", "count", "string", "safe", "upper", "lower", "capitalize", "title", "first",
      "last", "list", "items", "abs", "reverse", "escape", "e", "forceescape", "wordcount"};
  for (const char* f : kWithoutKeywords) {
    if (name == f) {
      in.error("TypeError", name + "() got an unexpected keyword argument '" + a.keyword[0].first + "'");
    }
  }
  // Unknown filters are reported by apply_filter.
}

}  // namespace

Value apply_filter(Interpreter& in, const std::string& name, const Value& v, CallArgs& a) {
  in.step();
  check_keywords(in, name, a);
  if (name == "tojson") return tojson_filter(in, v, a);
  if (name == "trim") {
    const Value* chars = arg(a, 0, "chars");
    return Value(text::strip(to_str(v), chars && chars->is_string() ? std::optional(chars->as_string()) : std::nullopt, true, true));
  }
  if (name == "length" || name == "count") return Value(static_cast<std::int64_t>(length_of(in, v)));
  if (name == "string") return Value(to_str(v));
  if (name == "safe") return v;
  if (name == "upper") return Value(text::upper(to_str(v)));
  if (name == "lower") return Value(text::lower(to_str(v)));
  if (name == "capitalize") return Value(text::capitalize(to_str(v)));
  if (name == "title") return Value(text::title(to_str(v)));
  if (name == "default" || name == "d") {
    const Value* dflt = arg(a, 0, "default_value");
    const bool boolean = bool_arg(a, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !truthy(v))) return dflt ? *dflt : Value(std::string());
    return v;
  }
  if (name == "first" || name == "last") {
    std::vector<Value> items = iterate(in, v);
    if (items.empty()) return Value::undefined(std::string("No ") + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") return join_items(in, v, a);
  if (name == "map") return map_items(in, v, a);
  if (name == "select") return select_items(in, v, a, false, true);
  if (name == "reject") return select_items(in, v, a, false, false);
  if (name == "selectattr") return select_items(in, v, a, true, true);
  if (name == "rejectattr") return select_items(in, v, a, true, false);
  if (name == "list") return Value::list(iterate(in, v));
  if (name == "items") return items_of(in, v);
  if (name == "int") return to_int(v, a);
  if (name == "float") return to_float(v, a);
  if (name == "abs") {
    require_defined(in, v);
    if (v.is_float()) return Value(std::fabs(v.as_float()));
    if (v.is_int() || v.is_bool()) {
      const std::int64_t x = v.is_bool() ? v.as_bool() : v.as_int();
      if (x == INT64_MIN) in.error("OverflowError", "integer overflow");
      return Value(x < 0 ? -x : x);
    }
    in.error("TypeError", "bad operand type for abs(): '" + std::string(v.type_name()) + "'");
  }
  if (name == "replace") {
    const Value* old_v = arg(a, 0, "old");
    const Value* new_v = arg(a, 1, "new");
    if (!old_v || !new_v) in.error("TypeError", "replace needs old and new");
    const Value* count = arg(a, 2, "count");
    std::string out = text::replace(to_str(v), to_str(*old_v), to_str(*new_v),
                                    count && count->is_int() ? count->as_int() : -1,
                                    in.limits().max_output_bytes);
    in.check_size(out.size());
    return Value(std::move(out));
  }
  if (name == "reverse") return reverse_of(in, v);
  if (name == "sort") return sort_items(in, v, a);
  if (name == "dictsort") return dictsort_items(in, v, a);
  if (name == "unique") return unique_items(in, v, a);
  if (name == "min") return min_max(in, v, a, false);
  if (name == "max") return min_max(in, v, a, true);
  if (name == "sum") return sum_of(in, v, a);
  if (name == "round") return round_value(in, v, a);
  if (name == "indent") return indent_text(v, a);
  if (name == "escape" || name == "e" || name == "forceescape") return Value(html_escape(to_str(v)));
  if (name == "wordcount") return Value(word_count(to_str(v)));
  if (name == "batch") return batch_of(in, v, a);
  if (name == "attr") {
    const Value* attr_name = arg(a, 0, "name");
    if (!attr_name || !attr_name->is_string()) in.error("TypeError", "attr needs a name");
    if (v.is_namespace()) return get_attr(v, attr_name->as_string());
    return bound_method(v, attr_name->as_string());
  }
  in.error("TemplateAssertionError", "No filter named '" + name + "'.");
}

}  // namespace llmux::engine::chat_template
