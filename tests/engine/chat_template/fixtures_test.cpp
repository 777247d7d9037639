// The 144 reference renderings of 12 real chat templates (tests/data/chat_templates/, made with
// jinja2 3.1.2 configured as transformers configures it) must come out byte-identical, or fail
// with the same error message.
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

const std::string kDir = std::string(LLMUX_TEST_DATA_DIR) + "/chat_templates/";

TEST(ChatTemplateFixtures, AllRenderingsMatchTransformers) {
  const json::value doc = json::parse(read_file(kDir + "renderings.json"));
  const auto& cases = doc.at("cases").as_array();
  ASSERT_EQ(cases.size(), 144u);
  const auto& vars = doc.at("variables").as_object();
  const std::string tools = json::serialize(doc.at("tools"));
  int matched = 0;
  int errors_expected = 0;
  for (const json::value& cv : cases) {
    const auto& c = cv.as_object();
    const std::string name = std::string(c.at("template").as_string());
    const std::string conv = std::string(c.at("conversation").as_string());
    SCOPED_TRACE(name + " / " + conv + " agp=" + json::serialize(c.at("add_generation_prompt")) +
                 " tools=" + json::serialize(c.at("tools")));
    const ct::ChatTemplate tpl(read_file(kDir + name));
    ct::RenderOptions opts;
    opts.add_generation_prompt = c.at("add_generation_prompt").as_bool();
    opts.bos_token = std::string(vars.at("bos_token").as_string());
    opts.eos_token = std::string(vars.at("eos_token").as_string());
    opts.clock = fixed_time;
    const std::string messages = json::serialize(doc.at("conversations").at(conv));
    const std::string tool_arg = c.at("tools").as_bool() ? tools : std::string();
    if (const auto* expected = c.if_contains("expected")) {
      try {
        const std::string out = tpl.render_json(messages, tool_arg, opts);
        EXPECT_EQ(out, std::string(expected->as_string()));
        matched += out == std::string(expected->as_string());
      } catch (const ct::TemplateError& e) {
        ADD_FAILURE() << "unexpected error: " << e.what();
      }
    } else {
      ++errors_expected;
      try {
        tpl.render_json(messages, tool_arg, opts);
        ADD_FAILURE() << "expected error " << c.at("error").as_string();
      } catch (const ct::TemplateError& e) {
        EXPECT_EQ(e.python_form(), std::string(c.at("error").as_string()));
        matched += e.python_form() == std::string(c.at("error").as_string());
      }
    }
  }
  EXPECT_EQ(errors_expected, 10);
  EXPECT_EQ(matched, 144);
}

}  // namespace
