// The rendering API: llmux::Message/ToolDefinition conversion, variables, JSON input errors and
// concurrent renders of one template.
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "engine/chat_template/chat_template.hpp"
#include "engine/chat_template/template_test_support.hpp"

namespace ct = llmux::engine::chat_template;
namespace json = boost::json;

namespace {

using llmux::test::read_file;

const std::string kDir = std::string(LLMUX_TEST_DATA_DIR) + "/chat_templates/";

std::string fixture_expected(const std::string& tpl, const std::string& conv, bool agp, bool tools) {
  const json::value doc = json::parse(read_file(kDir + "renderings.json"));
  for (const auto& c : doc.at("cases").as_array()) {
    if (c.at("template").as_string() == tpl && c.at("conversation").as_string() == conv &&
        c.at("add_generation_prompt").as_bool() == agp && c.at("tools").as_bool() == tools) {
      return std::string(c.at("expected").as_string());
    }
  }
  ADD_FAILURE() << "no fixture case";
  return {};
}

std::vector<llmux::Message> tool_round_trip() {
  return {
      llmux::Message::system("Use tools when helpful."),
      llmux::Message::user("Weather in Paris?"),
      llmux::Message::assistant("", {llmux::ToolCall{"call_1", "get_weather", R"({"city": "Paris"})"}}),
      llmux::Message::tool_result("call_1", R"({"temp": 21})", "get_weather"),
      llmux::Message::user("Thanks."),
  };
}

std::vector<llmux::ToolDefinition> weather_tool() {
  return {llmux::ToolDefinition{
      "get_weather", "Current weather for a city.",
      R"({"type": "object", "properties": {"city": {"type": "string", "description": "City name"},)"
      R"( "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]})"}};
}

ct::RenderOptions fixture_options(bool agp) {
  ct::RenderOptions o;
  o.add_generation_prompt = agp;
  o.bos_token = "<BOS>";
  o.eos_token = "<EOS>";
  return o;
}

TEST(ChatTemplateApi, LlmuxMessagesRenderLikeTheTransformersFixtures) {
  for (const char* name : {"Qwen-Qwen2.5-7B-Instruct.jinja", "Qwen-Qwen3-0.6B.jinja",
                           "meta-llama-Llama-3.1-8B-Instruct.jinja",
                           "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"}) {
    SCOPED_TRACE(name);
    const ct::ChatTemplate tpl(read_file(kDir + name));
    for (bool agp : {false, true}) {
      EXPECT_EQ(tpl.render(tool_round_trip(), weather_tool(), fixture_options(agp)),
                fixture_expected(name, "tool-call-roundtrip", agp, true));
      EXPECT_EQ(tpl.render(tool_round_trip(), {}, fixture_options(agp)),
                fixture_expected(name, "tool-call-roundtrip", agp, false));
    }
  }
}

TEST(ChatTemplateApi, MessageJsonHasOnlyTheKeysThatAreSet) {
  const std::string j = ct::messages_to_json(tool_round_trip());
  const json::array a = json::parse(j).as_array();
  ASSERT_EQ(a.size(), 5u);
  EXPECT_FALSE(a[1].as_object().contains("tool_calls"));
  EXPECT_FALSE(a[1].as_object().contains("tool_call_id"));
  const auto& call = a[2].at("tool_calls").at(0);
  EXPECT_EQ(call.at("id").as_string(), "call_1");
  EXPECT_EQ(call.at("type").as_string(), "function");
  EXPECT_TRUE(call.at("function").at("arguments").is_object());
  EXPECT_EQ(a[3].at("tool_call_id").as_string(), "call_1");
  EXPECT_EQ(a[3].at("name").as_string(), "get_weather");
  // Arguments that are not JSON stay a string.
  const std::string bad = ct::messages_to_json(std::vector<llmux::Message>{
      llmux::Message::assistant("", {llmux::ToolCall{"c", "f", "not json"}})});
  EXPECT_EQ(json::parse(bad).at(0).at("tool_calls").at(0).at("function").at("arguments").as_string(),
            "not json");
}

TEST(ChatTemplateApi, ExtraVariablesReachTheTemplate) {
  const ct::ChatTemplate tpl(read_file(kDir + "Qwen-Qwen3-0.6B.jinja"));
  auto opts = fixture_options(true);
  opts.extra_variables_json = R"({"enable_thinking": false})";
  const std::vector<llmux::Message> msgs{llmux::Message::user("Hi")};
  EXPECT_EQ(tpl.render(msgs, {}, opts),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  opts.extra_variables_json.clear();
  EXPECT_EQ(tpl.render(msgs, {}, opts), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplateApi, UnsetSpecialTokensAreUndefined) {
  const ct::ChatTemplate tpl("[{{ bos_token }}]{{ eos_token is defined }}{{ tools is defined }}");
  EXPECT_EQ(tpl.render_json("[]", "", {}), "[]FalseFalse");
  EXPECT_EQ(tpl.render_json("[]", "[]", {}), "[]FalseTrue");
}

TEST(ChatTemplateApi, InjectedClockDrivesStrftimeNow) {
  const ct::ChatTemplate tpl("{{ strftime_now('%d %b %Y') }}");
  ct::RenderOptions opts;
  opts.clock = [] {
    std::tm tm{};
    tm.tm_year = 99;
    tm.tm_mon = 11;
    tm.tm_mday = 31;
    return tm;
  };
  EXPECT_EQ(tpl.render_json("[]", "", opts), "31 Dec 1999");
  EXPECT_EQ(tpl.render_json("[]", "", {}).size(), 11u);  // the real local date
}

TEST(ChatTemplateApi, BadJsonInputsAreInvalidArgument) {
  const ct::ChatTemplate tpl("{{ messages | length }}");
  auto code = [&](const std::string& messages, const std::string& tools, const std::string& vars) {
    ct::RenderOptions opts;
    opts.extra_variables_json = vars;
    try {
      tpl.render_json(messages, tools, opts);
    } catch (const llmux::Error& e) {
      return e.code();
    }
    return llmux::errc::authentication;  // no error: never expected here
  };
  EXPECT_EQ(code("[", "", ""), llmux::errc::invalid_argument);
  EXPECT_EQ(code("{}", "", ""), llmux::errc::invalid_argument);
  EXPECT_EQ(code("[]", "{", ""), llmux::errc::invalid_argument);
  EXPECT_EQ(code("[]", "{}", ""), llmux::errc::invalid_argument);
  EXPECT_EQ(code("[]", "", "[1]"), llmux::errc::invalid_argument);
  EXPECT_EQ(tpl.render_json("[1, 2]", "", {}), "2");
}

TEST(ChatTemplateApi, OneTemplateRendersConcurrently) {
  const ct::ChatTemplate tpl(read_file(kDir + "openai-gpt-oss-120b.jinja"));
  const std::string expected = fixture_expected("openai-gpt-oss-120b.jinja",
                                                "tool-call-roundtrip", true, true);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto opts = fixture_options(true);
        opts.clock = [] {
          std::tm tm{};
          tm.tm_year = 124;
          tm.tm_mon = 6;
          tm.tm_mday = 26;
          return tm;
        };
        ok[static_cast<std::size_t>(t)] += tpl.render(tool_round_trip(), weather_tool(), opts) ==
                                            expected;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 20);
}

}  // namespace
