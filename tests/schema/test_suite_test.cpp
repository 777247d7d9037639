// The official JSON-Schema-Test-Suite (Debian package json-schema-test-suite, installed by
// scripts/setup) for every keyword file the validator supports, drafts 6 and 7 (the drafts the
// Debian 12 package ships). Cases are skipped only through kSkips below, each with its reason;
// a skip entry that matches nothing fails the run, so the list cannot go stale.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <llmux/error.hpp>

#include "schema/json_schema.hpp"

namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;
using llmux::schema::Draft;
using llmux::schema::JsonSchema;

fs::path suite_dir() {
  if (const char* env = std::getenv("LLMUX_JSON_SCHEMA_TEST_SUITE")) return env;
  return "/usr/share/json-schema-test-suite";
}

// Keyword files run for both drafts (paths relative to tests/<draft>/).
const char* const kFiles[] = {
    "additionalItems.json", "additionalProperties.json", "allOf.json", "anyOf.json",
    "boolean_schema.json", "const.json", "contains.json", "default.json", "definitions.json",
    "dependencies.json", "enum.json", "exclusiveMaximum.json", "exclusiveMinimum.json",
    "items.json", "maxItems.json", "maxLength.json", "maxProperties.json", "maximum.json",
    "minItems.json", "minLength.json", "minProperties.json", "minimum.json", "multipleOf.json",
    "not.json", "oneOf.json", "pattern.json", "patternProperties.json", "properties.json",
    "propertyNames.json", "ref.json", "required.json", "type.json", "uniqueItems.json",
    "optional/bignum.json", "optional/zeroTerminatedFloats.json",
};
// Files of draft 7 only.
const char* const kDraft7Files[] = {"if-then-else.json"};
// Not run at all: refRemote.json (every case fetches a remote schema), optional/format/* and
// optional/ecmascript-regex.json (format assertions), optional/content.json (content*).

// "<draft>/<file>|<group description>" or "…|<group>|<test description>" -> reason.
const std::map<std::string, std::string> kSkips = {
    {"draft7/definitions.json|valid definition",
     "validates against the draft-07 meta-schema by its remote URL"},
    {"draft7/definitions.json|invalid definition",
     "validates against the draft-07 meta-schema by its remote URL"},
    {"draft7/ref.json|remote ref, containing refs itself", "remote $ref (the meta-schema URL)"},
    {"draft7/ref.json|Recursive references between schemas",
     "$ref relative to an embedded $id base URI"},
    {"draft6/definitions.json|valid definition",
     "validates against the draft-06 meta-schema by its remote URL"},
    {"draft6/definitions.json|invalid definition",
     "validates against the draft-06 meta-schema by its remote URL"},
    {"draft6/ref.json|remote ref, containing refs itself", "remote $ref (the meta-schema URL)"},
    {"draft6/ref.json|Recursive references between schemas",
     "$ref relative to an embedded $id base URI"},
};

struct Tally {
  int passed = 0;
  int skipped = 0;
  std::vector<std::string> failures;
  std::set<std::string> skips_used;
};

bj::value read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  bj::parse_options opts;
  opts.max_depth = 256;
  return bj::parse(ss.str(), {}, opts);
}

std::string skip_reason(const std::string& group_key, const std::string& test_key, Tally& t) {
  for (const auto* key : {&group_key, &test_key}) {
    if (auto it = kSkips.find(*key); it != kSkips.end()) {
      t.skips_used.insert(*key);
      return it->second;
    }
  }
  return {};
}

void run_group(const std::string& file_key, const bj::object& group, Draft draft, Tally& t) {
  const std::string description(group.at("description").as_string());
  const std::string group_key = file_key + "|" + description;
  std::optional<JsonSchema> schema;
  std::string compile_error;
  try {
    schema = JsonSchema::compile(group.at("schema"), {draft});
  } catch (const llmux::Error& e) {
    compile_error = e.what();
  }
  for (const auto& test : group.at("tests").as_array()) {
    const std::string test_key = group_key + "|" + std::string(test.at("description").as_string());
    if (!skip_reason(group_key, test_key, t).empty()) {
      ++t.skipped;
      continue;
    }
    if (!schema) {
      t.failures.push_back(test_key + ": schema did not compile: " + compile_error);
      continue;
    }
    const bool expected = test.at("valid").as_bool();
    const auto errors = schema->validate(test.at("data"));
    if (errors.empty() != expected || schema->is_valid(test.at("data")) != expected) {
      t.failures.push_back(test_key + ": expected " + (expected ? "valid" : "invalid") +
                           ", data " + bj::serialize(test.at("data")) +
                           (errors.empty() ? "" : ", errors: " + llmux::schema::format_errors(errors)));
    }
    ++t.passed;
  }
}

void run_file(const std::string& draft_name, const std::string& file, Tally& t) {
  const fs::path path = suite_dir() / "tests" / draft_name / file;
  if (!fs::exists(path)) {
    t.failures.push_back(path.string() + " is missing: install the Debian package "
                         "json-schema-test-suite (scripts/setup does)");
    return;
  }
  const Draft draft = draft_name == "draft7" || draft_name == "draft6" ? Draft::draft7
                                                                        : Draft::draft2020_12;
  const bj::value doc = read_json(path);
  for (const auto& group : doc.as_array()) {
    run_group(draft_name + "/" + file, group.as_object(), draft, t);
  }
}

std::vector<std::pair<std::string, std::string>> all_files() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* draft : {"draft6", "draft7"}) {
    for (const char* f : kFiles) out.emplace_back(draft, f);
  }
  for (const char* f : kDraft7Files) out.emplace_back("draft7", f);
  return out;
}

TEST(JsonSchemaTestSuite, SuiteIsInstalled) {
  ASSERT_TRUE(fs::is_directory(suite_dir() / "tests" / "draft7"))
      << suite_dir() << "/tests/draft7 is missing: install the Debian package "
                        "json-schema-test-suite (scripts/setup does), or point "
                        "LLMUX_JSON_SCHEMA_TEST_SUITE at a checkout";
}

class SuiteFile : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(SuiteFile, AllCasesPass) {
  Tally t;
  run_file(GetParam().first, GetParam().second, t);
  for (const auto& f : t.failures) ADD_FAILURE() << f;
  EXPECT_GT(t.passed + t.skipped, 0);
  std::cout << GetParam().first << "/" << GetParam().second << ": " << t.passed - static_cast<int>(t.failures.size())
            << " passed, " << t.skipped << " skipped, " << t.failures.size() << " failed\n";
}

INSTANTIATE_TEST_SUITE_P(Files, SuiteFile, ::testing::ValuesIn(all_files()),
                         [](const auto& info) {
                           std::string name = info.param.first + "_" + info.param.second;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// Every file together: the totals for the record, and every skip entry must have been used.
TEST(JsonSchemaTestSuite, TotalsAndSkipListIsCurrent) {
  Tally t;
  for (const auto& [draft, file] : all_files()) run_file(draft, file, t);
  const int passed = t.passed - static_cast<int>(t.failures.size());
  std::cout << "JSON-Schema-Test-Suite: " << passed << " passed, " << t.skipped << " skipped, "
            << t.failures.size() << " failed\n";
  EXPECT_TRUE(t.failures.empty()) << t.failures.size() << " failures (see the per-file tests)";
  for (const auto& [key, reason] : kSkips) {
    EXPECT_TRUE(t.skips_used.count(key)) << "skip entry matches no case: " << key;
  }
  EXPECT_GT(passed, 500);
}

}  // namespace
