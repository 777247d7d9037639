// The validator's own behaviour beyond the official suite: draft 2020-12 forms (prefixItems,
// $defs, $ref with siblings), error locations and messages, malformed schemas, reference
// cycles and depth limits on hostile input.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <llmux/error.hpp>

#include "schema/json_schema.hpp"

namespace {

namespace bj = boost::json;
using llmux::schema::Draft;
using llmux::schema::JsonSchema;

bool valid(std::string_view schema, std::string_view instance, Draft draft = Draft::draft2020_12) {
  return JsonSchema::from_text(schema, {draft}).is_valid(bj::parse(instance));
}

std::string compile_error(std::string_view schema) {
  try {
    JsonSchema::from_text(schema);
  } catch (const llmux::InvalidArgumentError& e) {
    return e.what();
  }
  return "(compiled)";
}

TEST(JsonSchema, PrefixItemsThenItems) {
  const char* s = R"({"prefixItems":[{"type":"integer"},{"type":"string"}],"items":{"type":"boolean"}})";
  EXPECT_TRUE(valid(s, R"([1,"a",true,false])"));
  EXPECT_TRUE(valid(s, R"([1])"));
  EXPECT_FALSE(valid(s, R"(["a"])"));
  EXPECT_FALSE(valid(s, R"([1,"a",3])"));
  const char* closed = R"({"prefixItems":[{"type":"integer"}],"items":false})";
  EXPECT_TRUE(valid(closed, "[1]"));
  EXPECT_FALSE(valid(closed, "[1,2]"));
}

TEST(JsonSchema, DefsRefWithSiblingsIn2020ButNotDraft7) {
  const char* s = R"({"$defs":{"short":{"type":"string"}},"$ref":"#/$defs/short","maxLength":2})";
  EXPECT_TRUE(valid(s, R"("ab")"));
  EXPECT_FALSE(valid(s, R"("abc")"));                // 2020-12: maxLength applies as well
  EXPECT_TRUE(valid(s, R"("abc")", Draft::draft7));  // draft 7: $ref overrides its siblings
  EXPECT_FALSE(valid(s, "1"));
}

TEST(JsonSchema, DollarSchemaSelectsTheDraft) {
  const char* d7 = R"({"$schema":"http://json-schema.org/draft-07/schema#",
      "definitions":{"s":{"type":"string"}},"$ref":"#/definitions/s","maxLength":2})";
  EXPECT_TRUE(valid(d7, R"("abc")"));  // draft 7 rules although 2020-12 is the default
  const char* d2020 = R"({"$schema":"https://json-schema.org/draft/2020-12/schema",
      "$defs":{"s":{"type":"string"}},"$ref":"#/$defs/s","maxLength":2})";
  EXPECT_FALSE(valid(d2020, R"("abc")", Draft::draft7));
}

TEST(JsonSchema, RecursiveTreeThroughDefs) {
  const char* s = R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object",
      "properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},
      "required":["value"],"additionalProperties":false}}})";
  EXPECT_TRUE(valid(s, R"({"value":1,"children":[{"value":2},{"value":3,"children":[]}]})"));
  EXPECT_FALSE(valid(s, R"({"value":1,"children":[{"value":"x"}]})"));
  EXPECT_FALSE(valid(s, R"({"value":1,"children":[{"value":2,"extra":0}]})"));
}

TEST(JsonSchema, PointerEscapesInRefs) {
  const char* s = R"({"$defs":{"a/b":{"type":"integer"},"c~d":{"type":"string"},"e f":{"type":"null"}},
      "properties":{"x":{"$ref":"#/$defs/a~1b"},"y":{"$ref":"#/$defs/c~0d"},"z":{"$ref":"#/$defs/e%20f"}}})";
  EXPECT_TRUE(valid(s, R"({"x":1,"y":"s","z":null})"));
  EXPECT_FALSE(valid(s, R"({"x":"1"})"));
  EXPECT_FALSE(valid(s, R"({"y":1})"));
  EXPECT_FALSE(valid(s, R"({"z":1})"));
}

TEST(JsonSchema, IntegerSemanticsAndNumbers) {
  EXPECT_TRUE(valid(R"({"type":"integer"})", "1.0"));
  EXPECT_FALSE(valid(R"({"type":"integer"})", "1.5"));
  EXPECT_TRUE(valid(R"({"maximum":18446744073709551615})", "18446744073709551615"));
  EXPECT_FALSE(valid(R"({"maximum":9223372036854775807})", "9223372036854775808"));
  EXPECT_TRUE(valid(R"({"minimum":-9223372036854775808})", "-9223372036854775808"));
  EXPECT_TRUE(valid(R"({"multipleOf":0.01})", "19.99"));
  EXPECT_FALSE(valid(R"({"multipleOf":0.01})", "19.991"));
  EXPECT_TRUE(valid(R"({"multipleOf":3})", "-9"));
  EXPECT_TRUE(valid(R"({"multipleOf":3})", "18446744073709551615"));  // 2^64-1 = 3 * 6148914691236517205
  EXPECT_FALSE(valid(R"({"multipleOf":3})", "18446744073709551614"));
}

TEST(JsonSchema, StringLengthCountsCodePoints) {
  EXPECT_TRUE(valid(R"({"maxLength":2})", R"("\u00e9\u00e9")"));        // 4 bytes, 2 code points
  EXPECT_TRUE(valid(R"({"minLength":1,"maxLength":1})", R"("\ud83d\ude00")"));  // one emoji
  EXPECT_FALSE(valid(R"({"maxLength":1})", R"("ab")"));
}

TEST(JsonSchema, PatternIsAnUnanchoredSearch) {
  EXPECT_TRUE(valid(R"({"pattern":"b+"})", R"("abbbc")"));
  EXPECT_FALSE(valid(R"({"pattern":"^b+$"})", R"("abbbc")"));
  EXPECT_TRUE(valid(R"({"pattern":"^\\p{L}+$"})", R"("h\u00e9llo")"));
  EXPECT_TRUE(valid(R"({"pattern":"^[0-9]{3}-[0-9]{4}$"})", R"("555-1234")"));
}

TEST(JsonSchema, ErrorsCarryInstancePathKeywordAndMessage) {
  const auto schema = JsonSchema::from_text(R"({"type":"object","required":["name","age"],
      "properties":{"age":{"type":"integer","minimum":0},
                    "tags":{"type":"array","items":{"enum":["a","b"]}}},
      "additionalProperties":false})");
  const auto errors = schema.validate(bj::parse(R"({"age":-1,"tags":["a","c"],"x/y":1})"));
  ASSERT_EQ(errors.size(), 4u) << llmux::schema::format_errors(errors);
  EXPECT_EQ(errors[0].keyword, "required");
  EXPECT_EQ(errors[0].instance_path, "");
  EXPECT_EQ(errors[0].message, "missing required property \"name\"");
  EXPECT_EQ(errors[1].keyword, "minimum");
  EXPECT_EQ(errors[1].instance_path, "/age");
  EXPECT_EQ(errors[1].schema_path, "/properties/age/minimum");
  EXPECT_EQ(errors[2].keyword, "enum");
  EXPECT_EQ(errors[2].instance_path, "/tags/1");
  EXPECT_EQ(errors[3].keyword, "additionalProperties");
  EXPECT_EQ(errors[3].message, "property \"x/y\" is not allowed");
  EXPECT_EQ(errors[1].to_string(), "/age: minimum: -1 is less than 0");
  EXPECT_EQ(errors[0].to_string(), "(root): required: missing required property \"name\"");
  EXPECT_EQ(schema.validate(bj::parse("{}"), 1).size(), 1u);
}

TEST(JsonSchema, CompositionMessages) {
  const auto s = JsonSchema::from_text(R"({"oneOf":[{"type":"integer"},{"minimum":2}]})");
  const auto errors = s.validate(bj::parse("3"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].keyword, "oneOf");
  EXPECT_EQ(errors[0].message, "value matches 2 of the 2 oneOf schemas, not exactly one");
  EXPECT_TRUE(valid(R"({"anyOf":[{"type":"string"},{"type":"null"}]})", "null"));
  EXPECT_FALSE(valid(R"({"allOf":[{"type":"string"},{"maxLength":1}]})", R"("ab")"));
  EXPECT_FALSE(valid(R"({"not":{"type":"null"}})", "null"));
}

TEST(JsonSchema, MalformedSchemasAreClearErrors) {
  EXPECT_NE(compile_error(R"({"type":"strin"})").find("unknown type \"strin\""), std::string::npos);
  EXPECT_NE(compile_error(R"({"minLength":-1})").find("#/minLength: must be a non-negative integer"),
            std::string::npos);
  EXPECT_NE(compile_error(R"({"pattern":"(unclosed"})").find("bad regular expression"), std::string::npos);
  EXPECT_NE(compile_error(R"({"$ref":"#/$defs/missing"})").find("does not resolve"), std::string::npos);
  EXPECT_NE(compile_error(R"({"$ref":"https://example.com/s.json"})").find("not a local reference"),
            std::string::npos);
  EXPECT_NE(compile_error(R"({"$ref":"#anchor"})").find("anchors are not supported"), std::string::npos);
  EXPECT_NE(compile_error(R"({"properties":{"a":3}})").find("must be an object or a boolean"),
            std::string::npos);
  EXPECT_NE(compile_error(R"({"multipleOf":0})").find("greater than 0"), std::string::npos);
  EXPECT_NE(compile_error(R"({"allOf":[]})").find("non-empty array"), std::string::npos);
  EXPECT_NE(compile_error("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(compile_error(R"({"$ref":"#/a%zz"})").find("%-escape"), std::string::npos);
}

TEST(JsonSchema, ReferenceCyclesAreRejectedNotFollowed) {
  EXPECT_NE(compile_error(R"({"$ref":"#"})").find("reference cycle"), std::string::npos);
  EXPECT_NE(compile_error(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}},
                              "$ref":"#/$defs/a"})").find("reference cycle"), std::string::npos);
  EXPECT_NE(compile_error(R"({"anyOf":[{"type":"string"},{"not":{"$ref":"#"}}]})").find("reference cycle"),
            std::string::npos);
  // A cycle that descends into the instance is a recursive schema, and fine.
  EXPECT_TRUE(valid(R"({"type":"array","items":{"$ref":"#"}})", "[[[]],[]]"));
}

TEST(JsonSchema, DeepInputIsBoundedNotAStackOverflow) {
  // A deeply nested schema (allowed by the parser) and instance: validation stops at max_depth.
  std::string schema, instance;
  for (int i = 0; i < 200; ++i) schema += R"({"items":)";
  schema += "true";
  for (int i = 0; i < 200; ++i) schema += "}";
  for (int i = 0; i < 200; ++i) instance += "[";
  for (int i = 0; i < 200; ++i) instance += "]";
  bj::parse_options opts;
  opts.max_depth = 1000;
  const bj::value deep = bj::parse(instance, {}, opts);
  EXPECT_TRUE(JsonSchema::from_text(schema).is_valid(deep));
  const auto limited = JsonSchema::from_text(schema, {Draft::draft2020_12, 50});
  const auto errors = limited.validate(deep);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].keyword, "depth");
  // A long acyclic $ref chain is bounded the same way.
  std::string chain = R"({"$ref":"#/$defs/d0","$defs":{)";
  for (int i = 0; i < 2000; ++i) {
    chain += "\"d" + std::to_string(i) + R"(":{"$ref":"#/$defs/d)" + std::to_string(i + 1) + "\"},";
  }
  chain += R"("d2000":{"type":"integer"}}})";
  const auto chained = JsonSchema::from_text(chain);
  const auto chain_errors = chained.validate(bj::parse("1"));
  ASSERT_EQ(chain_errors.size(), 1u);
  EXPECT_EQ(chain_errors[0].keyword, "depth");
  EXPECT_TRUE(JsonSchema::from_text(chain, {Draft::draft2020_12, 4000}).is_valid(bj::parse("1")));
  EXPECT_FALSE(JsonSchema::from_text(chain, {Draft::draft2020_12, 4000}).is_valid(bj::parse("1.5")));
}


TEST(JsonSchema, ExponentialSchemasAreCutByTheStepBudget) {
  // Both oneOf branches recurse into every item: 2^depth applications without a budget.
  const char* s = R"({"oneOf":[{"items":{"$ref":"#"}},{"items":{"$ref":"#"},"minItems":0}]})";
  std::string instance;
  for (int i = 0; i < 60; ++i) instance += "[";
  for (int i = 0; i < 60; ++i) instance += "]";
  bj::parse_options opts;
  opts.max_depth = 128;
  const bj::value deep = bj::parse(instance, {}, opts);
  const auto schema = JsonSchema::from_text(s, {Draft::draft2020_12, 512, 100000});
  EXPECT_FALSE(schema.is_valid(deep));
  const auto errors = schema.validate(deep);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors.back().keyword, "budget");
  EXPECT_NE(errors.back().message.find("after 100000 schema applications"), std::string::npos);
}

}  // namespace
