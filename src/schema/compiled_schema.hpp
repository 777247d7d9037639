// The compiled form of a JSON Schema: a table of nodes, one per schema object reached from the
// root (inline subschemas and $ref targets alike), referring to each other by index so that
// recursive schemas need no pointers between nodes. Internal to src/schema/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "schema/json_schema.hpp"

namespace llmux::schema::detail {

using NodeId = std::uint32_t;

// A compiled regular expression (Oniguruma), searched unanchored.
class Pattern {
 public:
  // Throws InvalidArgumentError (mentioning `where`) for a pattern Oniguruma rejects.
  Pattern(const std::string& source, const std::string& where);
  ~Pattern();
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;

  // Whether the pattern matches somewhere in `text` (UTF-8). nullopt when the match gave up
  // (Oniguruma's backtracking limit), which callers report as a failure.
  std::optional<bool> search(std::string_view text) const;
  const std::string& source() const noexcept { return source_; }

 private:
  std::string source_;
  void* regex_ = nullptr;  // OnigRegex
};

enum TypeBit : unsigned {
  kNull = 1, kBoolean = 2, kObject = 4, kArray = 8, kNumber = 16, kString = 32, kInteger = 64,
};

struct Node {
  std::string location;  // JSON pointer of this schema in the document
  std::optional<bool> constant;  // a boolean schema: true accepts all, false rejects all

  unsigned types = 0;  // TypeBit mask; 0 = no type keyword
  std::optional<std::vector<boost::json::value>> enum_values;
  std::optional<boost::json::value> const_value;
  std::optional<NodeId> ref;

  // objects
  std::vector<std::pair<std::string, NodeId>> properties;
  std::vector<std::pair<std::shared_ptr<const Pattern>, NodeId>> pattern_properties;
  std::optional<NodeId> additional_properties;
  std::vector<std::string> required;
  std::optional<NodeId> property_names;
  std::optional<std::uint64_t> min_properties, max_properties;
  std::vector<std::pair<std::string, std::vector<std::string>>> dependent_required;
  std::vector<std::pair<std::string, NodeId>> dependent_schemas;

  // arrays: tuple items, then `rest_items` for the positions after them
  std::vector<NodeId> tuple_items;
  std::optional<NodeId> rest_items;
  std::optional<NodeId> contains;
  std::optional<std::uint64_t> min_contains, max_contains;
  std::optional<std::uint64_t> min_items, max_items;
  bool unique_items = false;

  // strings
  std::optional<std::uint64_t> min_length, max_length;
  std::shared_ptr<const Pattern> pattern;

  // numbers (kept as JSON numbers: comparisons are exact across int64/uint64/double)
  std::optional<boost::json::value> minimum, maximum, exclusive_minimum, exclusive_maximum;
  std::optional<boost::json::value> multiple_of;

  // composition
  std::vector<NodeId> all_of, any_of, one_of;
  std::optional<NodeId> not_, if_, then_, else_;
};

struct CompiledSchema {
  std::vector<Node> nodes;  // nodes[0] is the root
  SchemaOptions options;
};

// Number and value helpers shared by compilation and validation.
bool is_number(const boost::json::value& v) noexcept;
bool is_integral(const boost::json::value& v) noexcept;
// <0, 0, >0 as a compares to b; both must be numbers. Exact for integers of either sign.
int compare_numbers(const boost::json::value& a, const boost::json::value& b) noexcept;
bool is_multiple_of(const boost::json::value& x, const boost::json::value& divisor) noexcept;
// JSON equality as JSON Schema defines it (1 == 1.0, object member order ignored).
bool json_equal(const boost::json::value& a, const boost::json::value& b) noexcept;
// A canonical text of a value: equal values (per json_equal) give equal texts.
std::string canonical_text(const boost::json::value& v);
// Appends a JSON pointer reference token, escaped (~ as ~0, / as ~1).
void append_pointer_token(std::string& pointer, std::string_view token);

}  // namespace llmux::schema::detail
