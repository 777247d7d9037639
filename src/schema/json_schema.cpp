// Compiling a JSON Schema document into the node table of compiled_schema.hpp. Iterative: each
// subschema is given a node id when first named (inline or through $ref) and compiled later from
// a work list, so neither deep schemas nor recursive references recurse here.
#include <deque>
#include <map>
#include <string>
#include <unordered_map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <llmux/error.hpp>

#include "schema/compiled_schema.hpp"

namespace llmux::schema {
namespace {

namespace bj = boost::json;
using detail::Node;
using detail::NodeId;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw_error(errc::invalid_argument,
              fmt::format("invalid JSON Schema at {}: {}", where.empty() ? "#" : "#" + where, what));
}

std::string percent_decode(std::string_view s, const std::string& where) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    auto hex = [&](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= s.size()) fail(where, "bad %-escape in $ref");
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) fail(where, "bad %-escape in $ref");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// The reference tokens of a JSON pointer ("/a~1b/0" -> {"a/b", "0"}).
std::vector<std::string> pointer_tokens(std::string_view pointer, const std::string& where) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') fail(where, fmt::format("$ref fragment '{}' is not a JSON pointer "
                                                  "(anchors are not supported)", pointer));
  std::size_t pos = 1;
  while (true) {
    const std::size_t end = std::min(pointer.find('/', pos), pointer.size());
    std::string token;
    for (std::size_t i = pos; i < end; ++i) {
      if (pointer[i] != '~') {
        token += pointer[i];
      } else if (i + 1 < end && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
        token += pointer[++i] == '0' ? '~' : '/';
      } else {
        fail(where, fmt::format("bad ~ escape in $ref pointer '{}'", pointer));
      }
    }
    tokens.push_back(std::move(token));
    if (end == pointer.size()) break;
    pos = end + 1;
  }
  return tokens;
}

std::optional<std::uint64_t> array_index(const std::string& token) {
  if (token.empty() || token.size() > 18 || (token.size() > 1 && token[0] == '0')) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

class Compiler {
 public:
  Compiler(const bj::value& root, SchemaOptions options) : root_(root) {
    out_.options = options;
    // A root "$schema" naming a draft decides the rules: drafts 4-7 ("…/draft-07/schema#") use
    // draft 7's, 2019-09 and 2020-12 ("…/draft/2020-12/schema") 2020-12's.
    const bj::value* dialect = root.is_object() ? root.get_object().if_contains("$schema") : nullptr;
    if (dialect && dialect->is_string()) {
      const std::string_view uri = dialect->get_string();
      if (uri.find("/draft-0") != std::string_view::npos) out_.options.draft = Draft::draft7;
      if (uri.find("/draft/20") != std::string_view::npos) out_.options.draft = Draft::draft2020_12;
    }
  }

  detail::CompiledSchema run() {
    node_for("", root_, "");
    while (!work_.empty()) {
      auto [id, value] = work_.front();
      work_.pop_front();
      compile_node(id, *value);
    }
    check_cycles();
    return std::move(out_);
  }

 private:
  // The node of the schema at `location` (compiled later), allocated on first use.
  NodeId node_for(const std::string& location, const bj::value& v, const std::string& where) {
    if (auto it = ids_.find(location); it != ids_.end()) return it->second;
    if (!v.is_object() && !v.is_bool()) fail(where, "a schema must be an object or a boolean");
    if (out_.nodes.size() >= kMaxNodes) fail(where, "schema has too many subschemas");
    const auto id = static_cast<NodeId>(out_.nodes.size());
    out_.nodes.emplace_back();
    out_.nodes.back().location = location;
    ids_.emplace(location, id);
    work_.emplace_back(id, &v);
    return id;
  }

  NodeId child(const Node& parent, std::initializer_list<std::string_view> path, const bj::value& v) {
    std::string location = parent.location;
    for (auto token : path) detail::append_pointer_token(location, token);
    return node_for(location, v, location);
  }

  NodeId resolve_ref(const std::string& ref, const std::string& where) {
    if (ref.empty() || ref[0] != '#') {
      fail(where, fmt::format("$ref '{}' is not a local reference (only '#…' JSON pointers into "
                              "the same document are supported)", ref));
    }
    const std::vector<std::string> tokens =
        pointer_tokens(percent_decode(std::string_view(ref).substr(1), where), where);
    const bj::value* v = &root_;
    std::string location;
    for (const auto& token : tokens) {
      const bj::value* next = nullptr;
      if (v->is_object()) {
        next = v->get_object().if_contains(token);
      } else if (v->is_array()) {
        if (auto i = array_index(token); i && *i < v->get_array().size()) next = &v->get_array()[*i];
      }
      if (!next) fail(where, fmt::format("$ref '{}' does not resolve", ref));
      v = next;
      detail::append_pointer_token(location, token);
    }
    return node_for(location, *v, where);
  }

  void compile_node(NodeId id, const bj::value& v);
  void compile_object_keywords(Node& n, const bj::object& o);
  void compile_array_keywords(Node& n, const bj::object& o);
  void compile_scalar_keywords(Node& n, const bj::object& o);
  void compile_applicators(Node& n, const bj::object& o);
  void check_cycles() const;

  static constexpr std::size_t kMaxNodes = 1u << 20;

  const bj::value& root_;
  detail::CompiledSchema out_;
  std::unordered_map<std::string, NodeId> ids_;
  std::deque<std::pair<NodeId, const bj::value*>> work_;
};

std::string at(const Node& n, std::string_view keyword) {
  std::string s = n.location;
  detail::append_pointer_token(s, keyword);
  return s;
}

std::uint64_t count_keyword(const Node& n, const bj::object& o, std::string_view key) {
  const bj::value& v = o.at(key);
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  if (v.is_double() && v.get_double() >= 0 && detail::is_integral(v) && v.get_double() < 1.8e19) {
    return static_cast<std::uint64_t>(v.get_double());
  }
  fail(at(n, key), "must be a non-negative integer");
}

void set_count(Node& n, const bj::object& o, std::string_view key, std::optional<std::uint64_t>& out) {
  if (o.contains(key)) out = count_keyword(n, o, key);
}

unsigned type_bit(const Node& n, const bj::value& v) {
  static constexpr std::pair<std::string_view, unsigned> kTypes[] = {
      {"null", detail::kNull},     {"boolean", detail::kBoolean}, {"object", detail::kObject},
      {"array", detail::kArray},   {"number", detail::kNumber},   {"string", detail::kString},
      {"integer", detail::kInteger}};
  if (v.is_string()) {
    for (auto [name, bit] : kTypes) {
      if (v.get_string() == name) return bit;
    }
  }
  fail(at(n, "type"), fmt::format("unknown type {}", bj::serialize(v)));
}

std::vector<std::string> string_list(const Node& n, const bj::value& v, std::string_view key) {
  if (!v.is_array()) fail(at(n, key), "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& s : v.get_array()) {
    if (!s.is_string()) fail(at(n, key), "must be an array of strings");
    out.emplace_back(s.get_string());
  }
  return out;
}

void Compiler::compile_node(NodeId id, const bj::value& v) {
  if (v.is_bool()) {
    out_.nodes[id].constant = v.get_bool();
    return;
  }
  const bj::object& o = v.get_object();
  Node n;
  n.location = out_.nodes[id].location;
  if (const bj::value* ref = o.if_contains("$ref")) {
    if (!ref->is_string()) fail(at(n, "$ref"), "must be a string");
    n.ref = resolve_ref(std::string(ref->get_string()), at(n, "$ref"));
    // Draft 7: "All other properties in a "$ref" object MUST be ignored."
    if (out_.options.draft == Draft::draft7) {
      out_.nodes[id] = std::move(n);
      return;
    }
  }
  compile_scalar_keywords(n, o);
  compile_object_keywords(n, o);
  compile_array_keywords(n, o);
  compile_applicators(n, o);
  out_.nodes[id] = std::move(n);
}

void Compiler::compile_scalar_keywords(Node& n, const bj::object& o) {
  if (const bj::value* t = o.if_contains("type")) {
    if (t->is_array()) {
      for (const auto& e : t->get_array()) n.types |= type_bit(n, e);
      if (t->get_array().empty()) fail(at(n, "type"), "must not be an empty array");
    } else {
      n.types = type_bit(n, *t);
    }
  }
  if (const bj::value* e = o.if_contains("enum")) {
    if (!e->is_array()) fail(at(n, "enum"), "must be an array");
    n.enum_values.emplace(e->get_array().begin(), e->get_array().end());
  }
  if (const bj::value* c = o.if_contains("const")) n.const_value = *c;
  set_count(n, o, "minLength", n.min_length);
  set_count(n, o, "maxLength", n.max_length);
  if (const bj::value* p = o.if_contains("pattern")) {
    if (!p->is_string()) fail(at(n, "pattern"), "must be a string");
    n.pattern = std::make_shared<const detail::Pattern>(std::string(p->get_string()), at(n, "pattern"));
  }
  auto number = [&](std::string_view key, std::optional<bj::value>& out) {
    if (const bj::value* v = o.if_contains(key)) {
      if (!detail::is_number(*v)) fail(at(n, key), "must be a number");
      out = *v;
    }
  };
  number("minimum", n.minimum);
  number("maximum", n.maximum);
  number("exclusiveMinimum", n.exclusive_minimum);
  number("exclusiveMaximum", n.exclusive_maximum);
  number("multipleOf", n.multiple_of);
  if (n.multiple_of && detail::compare_numbers(*n.multiple_of, bj::value(0)) <= 0) {
    fail(at(n, "multipleOf"), "must be greater than 0");
  }
}

void Compiler::compile_object_keywords(Node& n, const bj::object& o) {
  auto schema_map = [&](std::string_view key) -> const bj::object& {
    const bj::value& v = o.at(key);
    if (!v.is_object()) fail(at(n, key), "must be an object");
    return v.get_object();
  };
  if (o.contains("properties")) {
    for (const auto& [name, sub] : schema_map("properties")) {
      n.properties.emplace_back(std::string(name), child(n, {"properties", name}, sub));
    }
  }
  if (o.contains("patternProperties")) {
    for (const auto& [source, sub] : schema_map("patternProperties")) {
      std::string where = at(n, "patternProperties");
      detail::append_pointer_token(where, source);
      n.pattern_properties.emplace_back(std::make_shared<const detail::Pattern>(std::string(source), where),
                                        child(n, {"patternProperties", source}, sub));
    }
  }
  if (const bj::value* a = o.if_contains("additionalProperties")) {
    n.additional_properties = child(n, {"additionalProperties"}, *a);
  }
  if (const bj::value* r = o.if_contains("required")) n.required = string_list(n, *r, "required");
  if (const bj::value* p = o.if_contains("propertyNames")) n.property_names = child(n, {"propertyNames"}, *p);
  set_count(n, o, "minProperties", n.min_properties);
  set_count(n, o, "maxProperties", n.max_properties);
  if (o.contains("dependentRequired")) {
    for (const auto& [name, list] : schema_map("dependentRequired")) {
      n.dependent_required.emplace_back(std::string(name), string_list(n, list, "dependentRequired"));
    }
  }
  if (o.contains("dependentSchemas")) {
    for (const auto& [name, sub] : schema_map("dependentSchemas")) {
      n.dependent_schemas.emplace_back(std::string(name), child(n, {"dependentSchemas", name}, sub));
    }
  }
  if (o.contains("dependencies")) {  // draft 7: an array of names or a schema per property
    for (const auto& [name, dep] : schema_map("dependencies")) {
      if (dep.is_array()) {
        n.dependent_required.emplace_back(std::string(name), string_list(n, dep, "dependencies"));
      } else {
        n.dependent_schemas.emplace_back(std::string(name), child(n, {"dependencies", name}, dep));
      }
    }
  }
}

void Compiler::compile_array_keywords(Node& n, const bj::object& o) {
  const bj::value* prefix = o.if_contains("prefixItems");
  const bj::value* items = o.if_contains("items");
  if (prefix) {
    if (!prefix->is_array()) fail(at(n, "prefixItems"), "must be an array of schemas");
    for (std::size_t i = 0; i < prefix->get_array().size(); ++i) {
      n.tuple_items.push_back(child(n, {"prefixItems", std::to_string(i)}, prefix->get_array()[i]));
    }
  }
  if (items && items->is_array()) {  // the draft 7 tuple form
    if (prefix) fail(at(n, "items"), "an array of schemas cannot be combined with prefixItems");
    for (std::size_t i = 0; i < items->get_array().size(); ++i) {
      n.tuple_items.push_back(child(n, {"items", std::to_string(i)}, items->get_array()[i]));
    }
    if (const bj::value* extra = o.if_contains("additionalItems")) {
      n.rest_items = child(n, {"additionalItems"}, *extra);
    }
  } else if (items) {
    n.rest_items = child(n, {"items"}, *items);
  }
  if (const bj::value* c = o.if_contains("contains")) n.contains = child(n, {"contains"}, *c);
  set_count(n, o, "minContains", n.min_contains);
  set_count(n, o, "maxContains", n.max_contains);
  set_count(n, o, "minItems", n.min_items);
  set_count(n, o, "maxItems", n.max_items);
  if (const bj::value* u = o.if_contains("uniqueItems")) {
    if (!u->is_bool()) fail(at(n, "uniqueItems"), "must be a boolean");
    n.unique_items = u->get_bool();
  }
}

void Compiler::compile_applicators(Node& n, const bj::object& o) {
  auto list = [&](std::string_view key, std::vector<NodeId>& out) {
    const bj::value* v = o.if_contains(key);
    if (!v) return;
    if (!v->is_array() || v->get_array().empty()) fail(at(n, key), "must be a non-empty array of schemas");
    for (std::size_t i = 0; i < v->get_array().size(); ++i) {
      out.push_back(child(n, {key, std::to_string(i)}, v->get_array()[i]));
    }
  };
  list("allOf", n.all_of);
  list("anyOf", n.any_of);
  list("oneOf", n.one_of);
  auto single = [&](std::string_view key, std::optional<NodeId>& out) {
    if (const bj::value* v = o.if_contains(key)) out = child(n, {key}, *v);
  };
  single("not", n.not_);
  single("if", n.if_);
  single("then", n.then_);
  single("else", n.else_);
}

// Rejects reference cycles that re-apply a schema to the same instance location: with them,
// validation would never end. Edges are the applicators that do not descend into the instance.
void Compiler::check_cycles() const {
  const auto& nodes = out_.nodes;
  auto same_location = [&](const Node& n) {
    std::vector<NodeId> next(n.all_of.begin(), n.all_of.end());
    next.insert(next.end(), n.any_of.begin(), n.any_of.end());
    next.insert(next.end(), n.one_of.begin(), n.one_of.end());
    for (auto o : {n.ref, n.not_, n.if_, n.then_, n.else_}) {
      if (o) next.push_back(*o);
    }
    for (const auto& [name, id] : n.dependent_schemas) next.push_back(id);
    return next;
  };
  enum : std::uint8_t { unvisited, active, finished };
  std::vector<std::uint8_t> state(nodes.size(), unvisited);
  struct Frame {
    NodeId id;
    std::vector<NodeId> next;
    std::size_t i = 0;
  };
  for (NodeId start = 0; start < nodes.size(); ++start) {
    if (state[start] != unvisited) continue;
    std::vector<Frame> stack;
    stack.push_back({start, same_location(nodes[start])});
    state[start] = active;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.i == f.next.size()) {
        state[f.id] = finished;
        stack.pop_back();
        continue;
      }
      const NodeId to = f.next[f.i++];
      if (state[to] == active) {
        fail(nodes[f.id].location, fmt::format("reference cycle back to #{} that never descends "
                                               "into the instance", nodes[to].location));
      }
      if (state[to] == unvisited) {
        state[to] = active;
        stack.push_back({to, same_location(nodes[to])});
      }
    }
  }
}

}  // namespace

std::string ValidationError::to_string() const {
  return fmt::format("{}: {}: {}", instance_path.empty() ? "(root)" : instance_path, keyword, message);
}

JsonSchema JsonSchema::compile(const bj::value& schema, SchemaOptions options) {
  Compiler compiler(schema, options);
  return JsonSchema(std::make_shared<const detail::CompiledSchema>(compiler.run()));
}

JsonSchema JsonSchema::from_text(std::string_view schema_text, SchemaOptions options) {
  bj::parse_options popts;
  popts.max_depth = 256;
  boost::system::error_code ec;
  bj::value v = bj::parse(schema_text, ec, {}, popts);
  if (ec) throw_error(errc::invalid_argument, fmt::format("JSON Schema is not valid JSON: {}", ec.message()));
  return compile(v, options);
}

std::string format_errors(const std::vector<ValidationError>& errors, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < errors.size() && i < limit; ++i) {
    if (i) out += "; ";
    out += errors[i].to_string();
  }
  if (errors.size() > limit) out += fmt::format("; and {} more", errors.size() - limit);
  return out;
}

}  // namespace llmux::schema
