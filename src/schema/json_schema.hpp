// A JSON Schema validator over Boost.JSON, for validating model output (structured output) and
// other untrusted JSON against a schema given by the caller.
//
// Supported keywords (draft 2020-12 by default; draft 7 forms where noted):
//   type (an integral number such as 1.0 is an integer), enum, const, boolean schemas;
//   objects: properties, patternProperties, additionalProperties, required, propertyNames,
//     minProperties, maxProperties, dependentRequired, dependentSchemas, dependencies (draft 7);
//   arrays: prefixItems + items (2020-12), items as an array + additionalItems (draft 7 tuple
//     form, accepted in both modes), contains, minContains, maxContains, minItems, maxItems,
//     uniqueItems;
//   strings: minLength, maxLength (Unicode code points), pattern (Oniguruma, Perl syntax: an
//     unanchored search, close to ECMA-262 for the patterns schemas use);
//   numbers: minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers, draft 6+),
//     multipleOf (exact for integers, relative tolerance 1e-9 for fractions);
//   composition: allOf, anyOf, oneOf, not, if/then/else;
//   $ref to a JSON pointer within the document ("#", "#/$defs/a", "#/definitions/a", ~0 ~1 and
//     %-escapes). Draft 7: $ref overrides its sibling keywords; 2020-12: siblings apply too.
// Not supported: remote or $id-relative references, $anchor, $dynamicRef, unevaluated*,
// format assertions (format is an annotation, as 2020-12's default), content*. Unknown keywords
// are ignored, as the specification requires. A $ref that is not a local pointer is an error.
//
// Untrusted input: compilation is iterative (no recursion over the schema). Validation recurses
// once per schema level it applies; the recursion is bounded by SchemaOptions::max_depth, past
// which validation reports a "depth" error instead of growing the stack; its time by
// SchemaOptions::max_steps (a "budget" error). A cycle of references
// that applies a schema to the same instance again without descending into it (e.g.
// {"$ref": "#"} at the root, or through allOf/anyOf/not) is rejected when compiling.
//
// Thread safety: a compiled JsonSchema is immutable; validate() may run on many threads at once.
// Copies share the compiled form.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace llmux::schema {

enum class Draft { draft7, draft2020_12 };

struct SchemaOptions {
  // The rules when the root's "$schema" names no draft (one naming draft 4-7 selects draft 7's
  // rules, one naming 2019-09 or 2020-12 selects 2020-12's).
  Draft draft = Draft::draft2020_12;
  // Deepest nesting of schema applications during validation (each property, item, $ref or
  // applicator level counts one).
  std::size_t max_depth = 512;
  // Most schema applications one validate() may make (each schema level applied to each value
  // counts one, including the trial applications of anyOf/oneOf/not/if/contains). Bounds the
  // time of pathological schema/instance pairs (nested oneOf over deep input is exponential);
  // reaching it makes the instance invalid with a "budget" error.
  std::size_t max_steps = 1'000'000;
};

// One validation failure.
struct ValidationError {
  std::string instance_path;  // JSON pointer into the instance ("" is the whole document)
  std::string keyword;        // the failing keyword ("type", "required", "$ref" …)
  std::string schema_path;    // JSON pointer of the keyword in the schema ("/properties/a/type")
  std::string message;        // human-readable, one line

  // "/a/b: type: expected integer, got string" (the root shows as "(root)").
  std::string to_string() const;
};

namespace detail {
struct CompiledSchema;
}

class JsonSchema {
 public:
  // Compiles a schema document (an object or a boolean). Throws llmux::InvalidArgumentError
  // naming the offending location for malformed schemas: a keyword of the wrong type, a bad
  // regex, an unresolvable or non-local $ref, a cycle of references that does not descend into
  // the instance.
  static JsonSchema compile(const boost::json::value& schema, SchemaOptions options = {});
  // The same from JSON text (parsed with a nesting limit of 256; a parse error is an
  // InvalidArgumentError).
  static JsonSchema from_text(std::string_view schema_text, SchemaOptions options = {});

  // The failures of `instance`, at most `max_errors` of them (empty: valid). Errors inside the
  // branches of anyOf/oneOf/not/if are summarized by one error of that keyword.
  std::vector<ValidationError> validate(const boost::json::value& instance,
                                        std::size_t max_errors = 32) const;
  bool is_valid(const boost::json::value& instance) const;

 private:
  explicit JsonSchema(std::shared_ptr<const detail::CompiledSchema> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const detail::CompiledSchema> impl_;
};

// The errors as one line: "e1; e2; …" (at most `limit` shown, then "and N more").
std::string format_errors(const std::vector<ValidationError>& errors, std::size_t limit = 5);

}  // namespace llmux::schema
