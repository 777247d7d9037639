// Extra golden cases (tests/data/chat_templates/golden_cases.json, written by make_goldens.py
// with the reference Jinja2 configured as transformers): whitespace control, expressions,
// statements, filters, tests, methods, globals and errors, and the 12 fixture templates with
// six more conversations (null content, reasoning, parallel tool calls, several system
// messages, odd whitespace, extra variables). Outputs must match byte-for-byte;
// errors must have the same kind, and the same message except for syntax errors (whose wording
// differs from Jinja2's).
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "engine/chat_template/chat_template.hpp"
#include "engine/chat_template/template_test_support.hpp"

namespace ct = llmux::engine::chat_template;
namespace json = boost::json;

namespace {

using llmux::test::read_file;
using llmux::test::fixed_time;

class GoldenCases : public ::testing::TestWithParam<std::size_t> {
 public:
  static const json::array& cases() {
    static const std::string path =
        std::string(LLMUX_TEST_DATA_DIR).append("/chat_templates/golden_cases.json");
    static const json::value doc = json::parse(read_file(path));
    return doc.at("cases").as_array();
  }
};

TEST_P(GoldenCases, MatchesReferenceJinja2) {
  const auto& c = cases().at(GetParam()).as_object();
  SCOPED_TRACE(std::string(c.at("name").as_string()));
  std::string source;
  if (const auto* file = c.if_contains("template_file")) {
    std::string path(LLMUX_TEST_DATA_DIR);
    path.append("/chat_templates/").append(file->as_string());
    source = read_file(path);
  } else {
    source = std::string(c.at("template").as_string());
  }
  json::object vars = c.at("vars").as_object();
  std::string messages = "[]";
  if (const auto* m = vars.if_contains("messages")) messages = json::serialize(*m);
  ct::RenderOptions opts;
  opts.extra_variables_json = json::serialize(vars);
  opts.clock = fixed_time;
  std::string out;
  std::string error;
  try {
    const ct::ChatTemplate tpl(source);
    out = tpl.render_json(messages, "", opts);
  } catch (const ct::TemplateError& e) {
    error = e.python_form();
  }
  if (const auto* expected = c.if_contains("expected")) {
    EXPECT_EQ(error, "");
    EXPECT_EQ(out, std::string(expected->as_string()));
  } else {
    const std::string want(c.at("error").as_string());
    ASSERT_NE(error, "") << "expected " << want << ", got output " << out;
    const std::string kind = want.substr(0, want.find(':'));
    if (kind == "RecursionError") {
      // Python's recursion limit; the sandbox stops the same runaway recursion itself.
      EXPECT_EQ(error.substr(0, error.find(':')), "SecurityError");
      return;
    }
    EXPECT_EQ(error.substr(0, error.find(':')), kind);
    if (kind != "TemplateSyntaxError") {
      EXPECT_EQ(error, want);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, GoldenCases,
                         ::testing::Range<std::size_t>(0, GoldenCases::cases().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return std::string(
                               GoldenCases::cases().at(info.param).at("name").as_string());
                         });

// 111 hand-written cases plus the 12 fixture templates x 6 more conversations.
TEST(GoldenCasesFile, HasEveryCase) { EXPECT_EQ(GoldenCases::cases().size(), 183u); }

}  // namespace
