#include "core/json_codec.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <llmux/error.hpp>

namespace llmux {
namespace {

TEST(JsonText, DoublesInPlainShortestForm) {
  auto v = boost::json::parse(R"({"a":10.101,"b":[1,2.5,-0.001,1e300],"c":"x\"y","d":null,"e":3.0})");
  std::string text = json::to_text(v);
  EXPECT_EQ(text, R"({"a":10.101,"b":[1,2.5,-0.001,1e+300],"c":"x\"y","d":null,"e":3.0})");
  EXPECT_EQ(boost::json::parse(text), v);  // still the same JSON
}

TEST(JsonText, ToolDefinitionsInBothShapes) {
  auto tools = json::parse_tool_definitions(
      R"([{"type":"function","function":{"name":"a","description":"d","parameters":{"type":"object"}}},
          {"name":"b","input_schema":{"type":"object","properties":{}}}])");
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(tools[0].name, "a");
  EXPECT_EQ(tools[0].parameters, R"({"type":"object"})");
  EXPECT_EQ(tools[1].name, "b");
  EXPECT_THROW(json::parse_tool_definitions(R"([{"name":"a"},{"name":"a"}])"), InvalidArgumentError);
  EXPECT_THROW(json::parse_tool_definitions(R"({"name":"a"})"), InvalidArgumentError);
  EXPECT_THROW(json::parse_tool_definitions(R"([{"description":"no name"}])"), InvalidArgumentError);
  EXPECT_THROW(json::parse_schema("[1]"), InvalidArgumentError);
}

}  // namespace
}  // namespace llmux
