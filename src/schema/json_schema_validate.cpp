// Validating a JSON value against a compiled schema, plus the number, equality and regex helpers
// both halves share.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <oniguruma.h>

#include <llmux/error.hpp>

#include "schema/compiled_schema.hpp"

namespace llmux::schema {
namespace detail {

namespace bj = boost::json;

// ---- Patterns ------------------------------------------------------------------------------

Pattern::Pattern(const std::string& source, const std::string& where) : source_(source) {
  static std::once_flag init;  // Oniguruma's one-time encoding setup (idempotent, thread-safe)
  std::call_once(init, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
  OnigErrorInfo info;
  OnigRegex re = nullptr;
  const auto* p = reinterpret_cast<const OnigUChar*>(source.data());
  const int r = onig_new(&re, p, p + source.size(), ONIG_OPTION_CAPTURE_GROUP, ONIG_ENCODING_UTF8,
                         ONIG_SYNTAX_PERL, &info);
  if (r != ONIG_NORMAL) {
    OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(msg, r, &info);
    throw_error(errc::invalid_argument,
                fmt::format("invalid JSON Schema at #{}: bad regular expression '{}': {}", where,
                            source, reinterpret_cast<const char*>(msg)));
  }
  regex_ = re;
}

Pattern::~Pattern() {
  if (regex_) onig_free(static_cast<OnigRegex>(regex_));
}

std::optional<bool> Pattern::search(std::string_view text) const {
  const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
  const auto* end = begin + text.size();
  const int r = onig_search(static_cast<OnigRegex>(regex_), begin, end, begin, end, nullptr,
                            ONIG_OPTION_NONE);
  if (r >= 0) return true;
  if (r == ONIG_MISMATCH) return false;
  return std::nullopt;  // retry limit, invalid text …
}

// ---- Numbers and equality ------------------------------------------------------------------

bool is_number(const bj::value& v) noexcept { return v.is_int64() || v.is_uint64() || v.is_double(); }

bool is_integral(const bj::value& v) noexcept {
  if (v.is_int64() || v.is_uint64()) return true;
  return v.is_double() && std::isfinite(v.get_double()) && std::trunc(v.get_double()) == v.get_double();
}

namespace {

// long double holds every int64/uint64 and double exactly (x86-64: 64-bit mantissa).
long double as_long_double(const bj::value& v) noexcept {
  if (v.is_int64()) return static_cast<long double>(v.get_int64());
  if (v.is_uint64()) return static_cast<long double>(v.get_uint64());
  return static_cast<long double>(v.get_double());
}

__int128 as_int128(const bj::value& v) noexcept {
  return v.is_int64() ? static_cast<__int128>(v.get_int64()) : static_cast<__int128>(v.get_uint64());
}

}  // namespace

int compare_numbers(const bj::value& a, const bj::value& b) noexcept {
  if (!a.is_double() && !b.is_double()) {
    const __int128 x = as_int128(a), y = as_int128(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  const long double x = as_long_double(a), y = as_long_double(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool is_multiple_of(const bj::value& x, const bj::value& divisor) noexcept {
  if (!x.is_double() && !divisor.is_double()) {
    const __int128 d = as_int128(divisor);
    return d != 0 && as_int128(x) % d == 0;
  }
  const long double q = as_long_double(x) / as_long_double(divisor);
  if (!std::isfinite(q)) return false;
  const long double nearest = std::round(q);
  return std::fabs(q - nearest) <= 1e-9L * std::max<long double>(1.0L, std::fabs(q));
}

bool json_equal(const bj::value& a, const bj::value& b) noexcept {
  if (is_number(a) && is_number(b)) return compare_numbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!json_equal(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& [key, value] : x) {
      const bj::value* other = y.if_contains(key);
      if (!other || !json_equal(value, *other)) return false;
    }
    return true;
  }
  return a == b;
}

std::string canonical_text(const bj::value& v) {
  if (is_number(v)) {
    if (is_integral(v) && !v.is_double()) return bj::serialize(v);
    if (is_integral(v) && std::fabs(v.get_double()) < 9.2e18) {
      return std::to_string(static_cast<std::int64_t>(v.get_double()));
    }
    return fmt::format("{:.17g}", v.get_double());
  }
  if (v.is_array()) {
    std::string out = "[";
    for (const auto& e : v.get_array()) out += canonical_text(e) + ",";
    return out + "]";
  }
  if (v.is_object()) {
    std::vector<std::pair<std::string_view, const bj::value*>> members;
    for (const auto& [key, value] : v.get_object()) members.emplace_back(key, &value);
    std::sort(members.begin(), members.end());
    std::string out = "{";
    for (const auto& [key, value] : members) {
      out += bj::serialize(bj::value(bj::string_view(key.data(), key.size())));
      out += ":" + canonical_text(*value) + ",";
    }
    return out + "}";
  }
  return bj::serialize(v);
}

void append_pointer_token(std::string& pointer, std::string_view token) {
  pointer += '/';
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
}

}  // namespace detail

namespace {

namespace bj = boost::json;
using detail::Node;
using detail::NodeId;

std::size_t code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // Boost.JSON strings are valid UTF-8
  return n;
}

std::string_view type_name(const bj::value& v) noexcept {
  switch (v.kind()) {
    case bj::kind::null: return "null";
    case bj::kind::bool_: return "boolean";
    case bj::kind::object: return "object";
    case bj::kind::array: return "array";
    case bj::kind::string: return "string";
    case bj::kind::double_: return detail::is_integral(v) ? "integer" : "number";
    default: return "integer";
  }
}

std::string type_list(unsigned types) {
  static constexpr std::pair<unsigned, std::string_view> kNames[] = {
      {detail::kNull, "null"},     {detail::kBoolean, "boolean"}, {detail::kObject, "object"},
      {detail::kArray, "array"},   {detail::kNumber, "number"},   {detail::kString, "string"},
      {detail::kInteger, "integer"}};
  std::string out;
  for (auto [bit, name] : kNames) {
    if (types & bit) out += (out.empty() ? "" : " or ") + std::string(name);
  }
  return out;
}

bool type_matches(unsigned types, const bj::value& v) noexcept {
  switch (v.kind()) {
    case bj::kind::null: return types & detail::kNull;
    case bj::kind::bool_: return types & detail::kBoolean;
    case bj::kind::object: return types & detail::kObject;
    case bj::kind::array: return types & detail::kArray;
    case bj::kind::string: return types & detail::kString;
    default:
      return (types & detail::kNumber) || ((types & detail::kInteger) && detail::is_integral(v));
  }
}

std::string quoted(std::string_view s) {
  return bj::serialize(bj::value(bj::string_view(s.data(), s.size())));
}

std::string short_text(const bj::value& v) {
  std::string s = bj::serialize(v);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// Schema applications left to one validate() call, shared by its trial sub-validations.
struct Budget {
  std::size_t left = 0;
  bool exhausted = false;
};

class Validator {
 public:
  Validator(const detail::CompiledSchema& schema, std::vector<ValidationError>* errors,
            std::size_t max_errors, Budget& budget)
      : s_(schema), errors_(errors), max_errors_(max_errors), budget_(budget) {}

  bool validate(NodeId id, const bj::value& v);

 private:
  // Records a failure (when recording) and returns false.
  bool report(const Node& n, std::string_view keyword, std::string message) {
    if (errors_ && errors_->size() < max_errors_) {
      std::string where = n.location;
      detail::append_pointer_token(where, keyword);
      errors_->push_back({path_, std::string(keyword), std::move(where), std::move(message)});
    }
    return false;
  }
  // Whether to stop at the failure just seen: always when only validity is asked, else when the
  // error list is full.
  bool stop() const noexcept { return !errors_ || errors_->size() >= max_errors_; }

  // Whether `v` is valid against node `id`, recording nothing (for anyOf, oneOf, not, if …).
  bool quietly(NodeId id, const bj::value& v) {
    Validator q(s_, nullptr, 0, budget_);
    q.depth_ = depth_;
    return q.validate(id, v);
  }
  // Validates a member or item with the instance path extended by `token`.
  bool descend(NodeId id, const bj::value& v, std::string_view token) {
    const std::size_t size = path_.size();
    if (errors_) detail::append_pointer_token(path_, token);
    const bool ok = validate(id, v);
    path_.resize(size);
    return ok;
  }

  bool check_generic(const Node& n, const bj::value& v);
  bool check_number(const Node& n, const bj::value& v);
  bool check_string(const Node& n, std::string_view s);
  bool check_object(const Node& n, const bj::value& v);
  bool check_object_members(const Node& n, const bj::object& o);
  bool check_array(const Node& n, const bj::array& a);
  bool check_contains(const Node& n, const bj::array& a);
  bool check_applicators(const Node& n, const bj::value& v);

  const detail::CompiledSchema& s_;
  std::vector<ValidationError>* errors_;
  std::size_t max_errors_;
  Budget& budget_;
  std::size_t depth_ = 0;
  std::string path_;
};

bool Validator::validate(NodeId id, const bj::value& v) {
  const Node& n = s_.nodes[id];
  if (budget_.left == 0) {
    budget_.exhausted = true;
    return false;
  }
  --budget_.left;
  if (n.constant) return *n.constant || report(n, "false", "no value is allowed here (schema false)");
  if (depth_ >= s_.options.max_depth) {
    return report(n, "depth", fmt::format("validation nested deeper than {} levels", s_.options.max_depth));
  }
  ++depth_;
  bool ok = true;
  auto run = [&](bool passed) {
    ok = ok && passed;
    return !passed && stop();
  };
  if (!(n.ref && run(validate(*n.ref, v))) && !run(check_generic(n, v))) {
    bool stopped = false;
    if (detail::is_number(v)) stopped = run(check_number(n, v));
    if (v.is_string()) stopped = run(check_string(n, v.get_string()));
    if (v.is_object()) stopped = run(check_object(n, v));
    if (v.is_array()) stopped = run(check_array(n, v.get_array()));
    if (!stopped) run(check_applicators(n, v));
  }
  --depth_;
  return ok;
}

bool Validator::check_generic(const Node& n, const bj::value& v) {
  bool ok = true;
  if (n.types && !type_matches(n.types, v)) {
    ok = report(n, "type", fmt::format("expected {}, got {}", type_list(n.types), type_name(v)));
    if (stop()) return false;
  }
  if (n.enum_values) {
    const bool found = std::any_of(n.enum_values->begin(), n.enum_values->end(),
                                   [&](const bj::value& e) { return detail::json_equal(e, v); });
    if (!found) {
      ok = report(n, "enum", fmt::format("{} is not one of the allowed values", short_text(v)));
      if (stop()) return false;
    }
  }
  if (n.const_value && !detail::json_equal(*n.const_value, v)) {
    ok = report(n, "const", fmt::format("{} is not the required value {}", short_text(v),
                                        short_text(*n.const_value)));
  }
  return ok;
}

bool Validator::check_number(const Node& n, const bj::value& v) {
  struct Bound {
    const std::optional<bj::value>& limit;
    std::string_view keyword;
    bool (*fails)(int);
    std::string_view relation;
  };
  const Bound bounds[] = {
      {n.minimum, "minimum", [](int c) { return c < 0; }, "less than"},
      {n.maximum, "maximum", [](int c) { return c > 0; }, "greater than"},
      {n.exclusive_minimum, "exclusiveMinimum", [](int c) { return c <= 0; }, "not greater than"},
      {n.exclusive_maximum, "exclusiveMaximum", [](int c) { return c >= 0; }, "not less than"},
  };
  bool ok = true;
  for (const auto& b : bounds) {
    if (b.limit && b.fails(detail::compare_numbers(v, *b.limit))) {
      ok = report(n, b.keyword, fmt::format("{} is {} {}", short_text(v), b.relation, short_text(*b.limit)));
      if (stop()) return false;
    }
  }
  if (n.multiple_of && !detail::is_multiple_of(v, *n.multiple_of)) {
    ok = report(n, "multipleOf", fmt::format("{} is not a multiple of {}", short_text(v),
                                             short_text(*n.multiple_of)));
  }
  return ok;
}

bool Validator::check_string(const Node& n, std::string_view s) {
  bool ok = true;
  if (n.min_length || n.max_length) {
    const std::size_t length = code_points(s);
    if (n.min_length && length < *n.min_length) {
      ok = report(n, "minLength", fmt::format("string has {} characters, fewer than {}", length, *n.min_length));
      if (stop()) return false;
    }
    if (n.max_length && length > *n.max_length) {
      ok = report(n, "maxLength", fmt::format("string has {} characters, more than {}", length, *n.max_length));
      if (stop()) return false;
    }
  }
  if (n.pattern) {
    const auto match = n.pattern->search(s);
    if (!match) {
      ok = report(n, "pattern", fmt::format("matching pattern {} gave up (too complex)", quoted(n.pattern->source())));
    } else if (!*match) {
      ok = report(n, "pattern", fmt::format("string does not match pattern {}", quoted(n.pattern->source())));
    }
  }
  return ok;
}

bool Validator::check_object(const Node& n, const bj::value& v) {
  const bj::object& o = v.get_object();
  bool ok = true;
  if (n.min_properties && o.size() < *n.min_properties) {
    ok = report(n, "minProperties", fmt::format("object has {} properties, fewer than {}", o.size(), *n.min_properties));
    if (stop()) return false;
  }
  if (n.max_properties && o.size() > *n.max_properties) {
    ok = report(n, "maxProperties", fmt::format("object has {} properties, more than {}", o.size(), *n.max_properties));
    if (stop()) return false;
  }
  for (const auto& name : n.required) {
    if (!o.contains(name)) {
      ok = report(n, "required", fmt::format("missing required property {}", quoted(name)));
      if (stop()) return false;
    }
  }
  for (const auto& [name, names] : n.dependent_required) {
    if (!o.contains(name)) continue;
    for (const auto& other : names) {
      if (!o.contains(other)) {
        ok = report(n, "dependentRequired",
                    fmt::format("property {} requires property {}", quoted(name), quoted(other)));
        if (stop()) return false;
      }
    }
  }
  for (const auto& [name, id] : n.dependent_schemas) {
    if (o.contains(name) && !validate(id, v)) {
      ok = false;
      if (stop()) return false;
    }
  }
  return check_object_members(n, o) && ok;
}

bool Validator::check_object_members(const Node& n, const bj::object& o) {
  bool ok = true;
  for (const auto& [key, value] : o) {
    if (n.property_names && !quietly(*n.property_names, bj::value(key))) {
      ok = report(n, "propertyNames", fmt::format("property name {} is not allowed", quoted(key)));
      if (stop()) return false;
    }
    bool matched = false;
    for (const auto& [name, id] : n.properties) {
      if (name != key) continue;
      matched = true;
      if (!descend(id, value, key)) {
        ok = false;
        if (stop()) return false;
      }
    }
    for (const auto& [pattern, id] : n.pattern_properties) {
      if (pattern->search(key).value_or(false)) {
        matched = true;
        if (!descend(id, value, key)) {
          ok = false;
          if (stop()) return false;
        }
      }
    }
    if (matched || !n.additional_properties) continue;
    const Node& extra = s_.nodes[*n.additional_properties];
    if (extra.constant == false) {
      ok = report(n, "additionalProperties", fmt::format("property {} is not allowed", quoted(key)));
      if (stop()) return false;
    } else if (!descend(*n.additional_properties, value, key)) {
      ok = false;
      if (stop()) return false;
    }
  }
  return ok;
}

bool Validator::check_array(const Node& n, const bj::array& a) {
  bool ok = true;
  if (n.min_items && a.size() < *n.min_items) {
    ok = report(n, "minItems", fmt::format("array has {} items, fewer than {}", a.size(), *n.min_items));
    if (stop()) return false;
  }
  if (n.max_items && a.size() > *n.max_items) {
    ok = report(n, "maxItems", fmt::format("array has {} items, more than {}", a.size(), *n.max_items));
    if (stop()) return false;
  }
  if (n.unique_items) {
    std::unordered_map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < a.size(); ++i) {
      auto [it, fresh] = seen.emplace(detail::canonical_text(a[i]), i);
      if (!fresh) {
        ok = report(n, "uniqueItems", fmt::format("items {} and {} are equal", it->second, i));
        if (stop()) return false;
        break;
      }
    }
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::optional<NodeId> id = i < n.tuple_items.size() ? std::optional(n.tuple_items[i]) : n.rest_items;
    if (!id) break;
    if (i >= n.tuple_items.size() && s_.nodes[*id].constant == false) {
      ok = report(n, n.tuple_items.empty() ? "items" : "additionalItems",
                  fmt::format("array has {} items, at most {} allowed", a.size(), n.tuple_items.size()));
      if (stop()) return false;
      break;
    }
    if (!descend(*id, a[i], std::to_string(i))) {
      ok = false;
      if (stop()) return false;
    }
  }
  return check_contains(n, a) && ok;
}

bool Validator::check_contains(const Node& n, const bj::array& a) {
  if (!n.contains) return true;
  std::uint64_t count = 0;
  for (const auto& item : a) count += quietly(*n.contains, item);
  const std::uint64_t min = n.min_contains.value_or(1);
  if (count < min) {
    return report(n, "contains", min == 1 ? std::string("no item matches the contains schema")
                                         : fmt::format("{} items match the contains schema, fewer than {}", count, min));
  }
  if (n.max_contains && count > *n.max_contains) {
    return report(n, "maxContains", fmt::format("{} items match the contains schema, more than {}",
                                                count, *n.max_contains));
  }
  return true;
}

bool Validator::check_applicators(const Node& n, const bj::value& v) {
  bool ok = true;
  for (NodeId id : n.all_of) {
    if (!validate(id, v)) {
      ok = false;
      if (stop()) return false;
    }
  }
  if (!n.any_of.empty() &&
      std::none_of(n.any_of.begin(), n.any_of.end(), [&](NodeId id) { return quietly(id, v); })) {
    ok = report(n, "anyOf", fmt::format("value matches none of the {} anyOf schemas", n.any_of.size()));
    if (stop()) return false;
  }
  if (!n.one_of.empty()) {
    std::size_t matches = 0;
    for (NodeId id : n.one_of) matches += quietly(id, v);
    if (matches != 1) {
      ok = report(n, "oneOf", fmt::format("value matches {} of the {} oneOf schemas, not exactly one",
                                          matches, n.one_of.size()));
      if (stop()) return false;
    }
  }
  if (n.not_ && quietly(*n.not_, v)) {
    ok = report(n, "not", "value matches the schema it must not match");
    if (stop()) return false;
  }
  if (n.if_) {
    const std::optional<NodeId> branch = quietly(*n.if_, v) ? n.then_ : n.else_;
    if (branch && !validate(*branch, v)) ok = false;
  }
  return ok;
}

}  // namespace

std::vector<ValidationError> JsonSchema::validate(const bj::value& instance, std::size_t max_errors) const {
  std::vector<ValidationError> errors;
  Budget budget{impl_->options.max_steps};
  Validator v(*impl_, &errors, std::max<std::size_t>(max_errors, 1), budget);
  v.validate(0, instance);
  if (budget.exhausted) {
    if (errors.size() >= std::max<std::size_t>(max_errors, 1)) errors.pop_back();
    errors.push_back({"", "budget", "",
                      fmt::format("validation stopped after {} schema applications (the schema is "
                                  "too expensive for this instance)", impl_->options.max_steps)});
  }
  return errors;
}

bool JsonSchema::is_valid(const bj::value& instance) const {
  Budget budget{impl_->options.max_steps};
  Validator v(*impl_, nullptr, 0, budget);
  return v.validate(0, instance) && !budget.exhausted;
}

}  // namespace llmux::schema
