#include "engine/output/output_parser.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include <llmux/error.hpp>

#include "engine/sampling/rng.hpp"
#include "engine/tokenizer/unicode.hpp"
#include "engine/output/output_test_support.hpp"

namespace llmux::engine::output {
namespace {

using testing::options_for;
using testing::parse_all_ways;
using testing::Parsed;

ToolCall call(std::string name, std::string args, std::string id) {
  return ToolCall{std::move(id), std::move(name), std::move(args)};
}

std::string id(std::size_t index, ToolFormat f = ToolFormat::hermes) {
  return synthesize_tool_call_id(1, index, f);
}

// ---- Hermes / Qwen ---------------------------------------------------------------------------

TEST(HermesFormat, SingleCall) {
  const auto p = parse_all_ways(
      options_for(ToolFormat::hermes),
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": "
      "\"celsius\"}}\n</tool_call>");
  EXPECT_EQ(p.content, "");
  EXPECT_EQ(p.reasoning, "");
  EXPECT_EQ(p.calls, (std::vector<ToolCall>{call(
                         "get_weather", R"({"city": "Paris", "unit": "celsius"})", id(0))}));
  EXPECT_EQ(p.malformed, 0u);
}

TEST(HermesFormat, ParallelCallsWithTextBefore) {
  const auto p = parse_all_ways(
      options_for(ToolFormat::hermes),
      "I will check both cities.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
      "{\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", "
      "\"arguments\": {\"city\": \"Rome\"}}\n</tool_call>");
  EXPECT_EQ(p.content, "I will check both cities.");
  EXPECT_EQ(p.calls, (std::vector<ToolCall>{
                         call("get_weather", R"({"city": "Paris"})", id(0)),
                         call("get_weather", R"({"city": "Rome"})", id(1))}));
}

TEST(HermesFormat, Qwen3ThinkingThenCall) {
  const auto p = parse_all_ways(
      options_for(ToolFormat::hermes, true),
      "<think>\nThe user wants the time. I should call get_time.\n</think>\n\n<tool_call>\n"
      "{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}\n</tool_call>");
  EXPECT_EQ(p.reasoning, "The user wants the time. I should call get_time.");
  EXPECT_EQ(p.content, "");
  EXPECT_EQ(p.calls, (std::vector<ToolCall>{call("get_time", R"({"tz": "UTC"})", id(0))}));
}

TEST(HermesFormat, LongArgumentsInManyPieces) {
  // 40 KB of arguments fed byte by byte (the close tag is searched incrementally).
  std::string body(40000, 'x');
  for (std::size_t i = 0; i < body.size(); i += 100) body[i] = '<';
  const std::string args = "{\"content\": \"" + body + "\"}";
  const auto p = parse_all_ways(options_for(ToolFormat::hermes),
                                "<tool_call>\n{\"name\": \"write\", \"arguments\": " + args +
                                    "}\n</tool_call>");
  EXPECT_EQ(p.calls, (std::vector<ToolCall>{call("write", args, id(0))}));
}

TEST(HermesFormat, UnclosedCallAtTheEndIsAcceptedWhenItsJsonIsWhole) {
  const auto p = parse_all_ways(options_for(ToolFormat::hermes),
                                "<tool_call>\n{\"name\":\"f\",\"arguments\":{}}\n");
  EXPECT_EQ(p.calls, (std::vector<ToolCall>{call("f", "{}", id(0))}));
  EXPECT_EQ(p.content, "");
}

TEST(HermesFormat, ArgumentsKeepTheModelsTextAndAcceptJsonStrings) {
  const auto p = parse_all_ways(
      options_for(ToolFormat::hermes),
      "<tool_call>{\"name\": \"a\", \"arguments\": {\"x\": 1.50e3, \"s\": \"\\u00e9\\n\"}}"
      "</tool_call><tool_call>{\"name\": \"b\", \"arguments\": \"{\\\"y\\\": [1, 2]}\"}"
      "</tool_call><tool_call>{\"name\": \"c\"}</tool_call>");
  EXPECT_EQ(p.calls,
            (std::vector<ToolCall>{call("a", R"({"x": 1.50e3, "s": "\u00e9\n"})", id(0)),
                                   call("b", R"({"y": [1, 2]})", id(1)), call("c", "{}", id(2))}));
}

TEST(HermesFormat, MalformedCallBecomesText) {
  const std::string bad = "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>";
  const auto p = parse_all_ways(options_for(ToolFormat::hermes), "Sure. " + bad + " Done.");
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, "Sure. " + bad + " Done.");
  EXPECT_EQ(p.malformed, 1u);
  // A call without a name, then a good one: the good one still counts.
  const auto q = parse_all_ways(
      options_for(ToolFormat::hermes),
      "<tool_call>{\"arguments\": {}}</tool_call>\n<tool_call>{\"name\": \"g\"}</tool_call>");
  EXPECT_EQ(q.content, "<tool_call>{\"arguments\": {}}</tool_call>");
  EXPECT_EQ(q.calls, (std::vector<ToolCall>{call("g", "{}", id(0))}));  // index among calls
  EXPECT_EQ(q.malformed, 1u);
  // Cut off in the middle of the JSON.
  const auto r = parse_all_ways(options_for(ToolFormat::hermes),
                                "<tool_call>\n{\"name\": \"f\", \"argu");
  EXPECT_EQ(r.content, "<tool_call>\n{\"name\": \"f\", \"argu");
  EXPECT_EQ(r.malformed, 1u);
}

TEST(HermesFormat, NotParsedWithoutTools) {
  const std::string text = "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>";
  const auto p = parse_all_ways(options_for(ToolFormat::hermes, false, false), text);
  EXPECT_EQ(p.content, text);
  EXPECT_TRUE(p.calls.empty());
}

TEST(HermesFormat, FalseStartsOfTheMarkerAreText) {
  const auto p = parse_all_ways(options_for(ToolFormat::hermes), "a <tool_cal b <tool_call");
  EXPECT_EQ(p.content, "a <tool_cal b <tool_call");
  EXPECT_TRUE(p.calls.empty());
}

// ---- Llama 3.1 / 3.2 JSON --------------------------------------------------------------------

TEST(Llama3Format, WholeMessageCall) {
  const auto p = parse_all_ways(
      options_for(ToolFormat::llama3_json),
      "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"San Francisco, CA\"}}");
  EXPECT_EQ(p.calls, (std::vector<ToolCall>{call("get_weather",
                                                 R"({"city": "San Francisco, CA"})", id(0))}));
  EXPECT_EQ(p.content, "");
}

TEST(Llama3Format, PythonTagAndTypeFunctionVariants) {
  const auto p = parse_all_ways(
      options_for(ToolFormat::llama3_json),
      "<|python_tag|>{\"type\": \"function\", \"name\": \"search\", \"parameters\": {\"q\": "
      "\"llmux\"}}");
  EXPECT_EQ(p.calls, (std::vector<ToolCall>{call("search", R"({"q": "llmux"})", id(0))}));
  const auto q = parse_all_ways(
      options_for(ToolFormat::llama3_json),
      "{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}");
  EXPECT_EQ(q.calls, (std::vector<ToolCall>{call("f", "{}", id(0))}));
}

TEST(Llama3Format, SeveralCallsSeparatedBySemicolons) {
  const auto p = parse_all_ways(
      options_for(ToolFormat::llama3_json),
      "{\"name\": \"a\", \"parameters\": {\"n\": 1}}; {\"name\": \"b\", \"parameters\": {}}\n");
  EXPECT_EQ(p.calls, (std::vector<ToolCall>{call("a", R"({"n": 1})", id(0)),
                                            call("b", "{}", id(1))}));
  EXPECT_EQ(p.content, "");
}

TEST(Llama3Format, PlainAnswersStayText) {
  auto p = parse_all_ways(options_for(ToolFormat::llama3_json), "The weather is {nice}.");
  EXPECT_EQ(p.content, "The weather is {nice}.");
  // JSON that is not a call (structured output with tools offered) is content, not an error.
  p = parse_all_ways(options_for(ToolFormat::llama3_json), " {\"answer\": 42} ");
  EXPECT_EQ(p.content, "{\"answer\": 42}");
  EXPECT_EQ(p.malformed, 0u);
  EXPECT_TRUE(p.calls.empty());
  // Unbalanced braces at the start.
  p = parse_all_ways(options_for(ToolFormat::llama3_json), "{ oops ] and more");
  EXPECT_EQ(p.content, "{ oops ] and more");
}

TEST(Llama3Format, MalformedTaggedCallAndBuiltinTools) {
  auto p = parse_all_ways(options_for(ToolFormat::llama3_json),
                          "<|python_tag|>{\"name\": \"f\", \"parameters\": {\"a\": 1}");
  EXPECT_EQ(p.content, "<|python_tag|>{\"name\": \"f\", \"parameters\": {\"a\": 1}");
  EXPECT_EQ(p.malformed, 1u);
  p = parse_all_ways(options_for(ToolFormat::llama3_json),
                     "<|python_tag|>brave_search.call(query=\"weather\")");
  EXPECT_EQ(p.content, "<|python_tag|>brave_search.call(query=\"weather\")");
  EXPECT_EQ(p.malformed, 0u);
  EXPECT_TRUE(p.calls.empty());
}

// ---- Mistral ---------------------------------------------------------------------------------

TEST(MistralFormat, JsonArrayWithIds) {
  const auto p = parse_all_ways(
      options_for(ToolFormat::mistral),
      "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": "
      "\"abcDEF123\"}, {\"name\": \"get_time\", \"arguments\": {}}]");
  EXPECT_EQ(p.calls,
            (std::vector<ToolCall>{call("get_weather", R"({"city": "Paris"})", "abcDEF123"),
                                   call("get_time", "{}", id(1, ToolFormat::mistral))}));
  EXPECT_EQ(p.content, "");
  EXPECT_EQ(id(1, ToolFormat::mistral).size(), 9u);
}

TEST(MistralFormat, NamedArgsFormAndParallelCalls) {
  const auto p = parse_all_ways(
      options_for(ToolFormat::mistral),
      "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[CALL_ID]"
      "a1B2c3D4e[ARGS]{}");
  EXPECT_EQ(p.calls,
            (std::vector<ToolCall>{
                call("get_weather", R"({"city": "Paris"})", id(0, ToolFormat::mistral)),
                call("get_time", "{}", "a1B2c3D4e")}));
  EXPECT_EQ(p.content, "");
}

TEST(MistralFormat, MalformedCalls) {
  auto p = parse_all_ways(options_for(ToolFormat::mistral),
                          "[TOOL_CALLS][{\"name\": 5, \"arguments\": {}}]");
  EXPECT_EQ(p.content, "[TOOL_CALLS][{\"name\": 5, \"arguments\": {}}]");
  EXPECT_EQ(p.malformed, 1u);
  p = parse_all_ways(options_for(ToolFormat::mistral), "Ok [TOOL_CALLS]get weather now");
  EXPECT_EQ(p.content, "Ok [TOOL_CALLS]get weather now");
  EXPECT_EQ(p.malformed, 1u);
  p = parse_all_ways(options_for(ToolFormat::mistral), "[TOOL_CALLS]f[ARGS]{\"a\": [1, 2}");
  EXPECT_EQ(p.content, "[TOOL_CALLS]f[ARGS]{\"a\": [1, 2}");
  EXPECT_EQ(p.malformed, 1u);
  p = parse_all_ways(options_for(ToolFormat::mistral), "[TOOL_CALLS]f[ARGS][1]");
  EXPECT_EQ(p.content, "[TOOL_CALLS]f[ARGS][1]");
  // A "name" that runs on for too long is not a call; what follows is still parsed.
  const std::string long_name(600, 'a');
  p = parse_all_ways(options_for(ToolFormat::mistral),
                     "[TOOL_CALLS]" + long_name + "[TOOL_CALLS]f[ARGS]{}");
  EXPECT_EQ(p.content, "[TOOL_CALLS]" + long_name);
  EXPECT_EQ(p.calls, (std::vector<ToolCall>{call("f", "{}", id(0, ToolFormat::mistral))}));
  EXPECT_EQ(p.malformed, 1u);
  p = parse_all_ways(options_for(ToolFormat::mistral), "[TOOL_CALLS]");
  EXPECT_EQ(p.content, "[TOOL_CALLS]");
  EXPECT_TRUE(p.calls.empty());
}

// ---- Reasoning -------------------------------------------------------------------------------

TEST(Reasoning, ThinkBlockThenAnswer) {
  const auto p = parse_all_ways(options_for(ToolFormat::none, true),
                                "<think>\nLet me add: 2 + 2 = 4.\n</think>\n\nThe answer is 4.");
  EXPECT_EQ(p.reasoning, "Let me add: 2 + 2 = 4.");
  EXPECT_EQ(p.content, "The answer is 4.");
}

TEST(Reasoning, OutputStartsInsideReasoning) {
  auto o = options_for(ToolFormat::hermes, true);
  o.starts_in_reasoning = true;  // DeepSeek-R1: the prompt ended with "<think>\n"
  const auto p = parse_all_ways(o, "Okay, 2+2.\n\nIt is 4.\n</think>\n\n**4**");
  EXPECT_EQ(p.reasoning, "Okay, 2+2.\n\nIt is 4.");
  EXPECT_EQ(p.content, "**4**");
  // Even when the template did not say it reasons.
  auto q = options_for(ToolFormat::none, false);
  q.starts_in_reasoning = true;
  EXPECT_EQ(parse_all_ways(q, "hmm</think>yes").reasoning, "hmm");
}

TEST(Reasoning, EmptyAndUnterminatedBlocks) {
  auto p = parse_all_ways(options_for(ToolFormat::none, true), "<think>\n\n</think>\n\nHi!");
  EXPECT_EQ(p.reasoning, "");
  EXPECT_EQ(p.content, "Hi!");
  p = parse_all_ways(options_for(ToolFormat::none, true), "<think>\nstill thinking about it ");
  EXPECT_EQ(p.reasoning, "still thinking about it");
  EXPECT_EQ(p.content, "");
  p = parse_all_ways(options_for(ToolFormat::none, true), "<thin");
  EXPECT_EQ(p.content, "<thin");
}

TEST(Reasoning, OnlyAtTheStartAndOnlyWhenEnabled) {
  auto p = parse_all_ways(options_for(ToolFormat::none, true), "Hello <think>x</think> there");
  EXPECT_EQ(p.content, "Hello <think>x</think> there");
  EXPECT_EQ(p.reasoning, "");
  p = parse_all_ways(options_for(ToolFormat::none, false), "<think>x</think>y");
  EXPECT_EQ(p.content, "<think>x</think>y");
}

TEST(Reasoning, PartialCloseTagInsideReasoningIsKept) {
  const auto p = parse_all_ways(options_for(ToolFormat::none, true),
                                "<think>a </thinking> b </th</think>c");
  EXPECT_EQ(p.reasoning, "a </thinking> b </th");
  EXPECT_EQ(p.content, "c");
}

// ---- Text, whitespace, UTF-8, ids, misuse ----------------------------------------------------

TEST(OutputParser, PlainTextAndWhitespace) {
  const auto p = parse_all_ways(options_for(ToolFormat::none), "  \n Hello,\n\n  world!  \n");
  EXPECT_EQ(p.content, "Hello,\n\n  world!");
  EXPECT_EQ(parse_all_ways(options_for(ToolFormat::none), "").content, "");
  EXPECT_EQ(parse_all_ways(options_for(ToolFormat::none), " \n ").content, "");
}

TEST(OutputParser, StreamsTextBeforeTheEnd) {
  OutputParser parser(options_for(ToolFormat::hermes));
  auto events = parser.feed("Hello wor");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<TextDelta>(events[0]).text, "Hello wor");
  events = parser.feed("ld <tool");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<TextDelta>(events[0]).text, "ld");  // " <tool" held back
  events = parser.feed("_call>{\"name\": \"f\"}</tool_call>");  // the space before: dropped
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(std::get<ToolCallDelta>(events[0]).name, "f");
  EXPECT_EQ(std::get<ToolCallDone>(events[1]).call.arguments, "{}");
  EXPECT_TRUE(parser.finish().empty());
  EXPECT_THROW(parser.feed("more"), Error);
}

TEST(OutputParser, NeverSplitsUtf8Characters) {
  const std::string text = "<think>r\xC3\xA9sum\xC3\xA9 \xE2\x82\xAC</think>na\xC3\xAFve \xF0\x9F\x98\x80";
  OutputParser parser(options_for(ToolFormat::hermes, true));
  std::vector<StreamEvent> all;
  for (char c : text) {
    for (auto& e : parser.feed(std::string(1, c))) all.push_back(std::move(e));
  }
  for (auto& e : parser.finish()) all.push_back(std::move(e));
  for (const auto& e : all) {
    if (const auto* t = std::get_if<TextDelta>(&e)) EXPECT_TRUE(tokenizer::is_valid_utf8(t->text));
    if (const auto* r = std::get_if<ReasoningDelta>(&e)) EXPECT_TRUE(tokenizer::is_valid_utf8(r->text));
  }
  EXPECT_EQ(parser.reasoning(), "r\xC3\xA9sum\xC3\xA9 \xE2\x82\xAC");
  EXPECT_EQ(parser.content(), "na\xC3\xAFve \xF0\x9F\x98\x80");
}

TEST(OutputParser, SynthesizedIdsAreDeterministic) {
  EXPECT_EQ(synthesize_tool_call_id(7, 0, ToolFormat::hermes),
            synthesize_tool_call_id(7, 0, ToolFormat::hermes));
  EXPECT_NE(synthesize_tool_call_id(7, 0, ToolFormat::hermes),
            synthesize_tool_call_id(7, 1, ToolFormat::hermes));
  EXPECT_NE(synthesize_tool_call_id(7, 0, ToolFormat::hermes),
            synthesize_tool_call_id(8, 0, ToolFormat::hermes));
  const std::string h = synthesize_tool_call_id(7, 3, ToolFormat::llama3_json);
  ASSERT_EQ(h.size(), 14u);
  EXPECT_EQ(h.substr(0, 5), "call_");
  const std::string m = synthesize_tool_call_id(7, 3, ToolFormat::mistral);
  ASSERT_EQ(m.size(), 9u);  // the Mistral template rejects any other length
  for (char c : m) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << m;
}

TEST(OutputParser, FinishTwiceIsAnError) {
  OutputParser parser(options_for(ToolFormat::none));
  parser.finish();
  EXPECT_THROW(parser.finish(), Error);
}

// Random mixtures of markers, JSON punctuation, text and whitespace: every format parses them
// identically whole and in pieces, events agree with the results, and nothing is lost.
TEST(OutputParser, RandomMixturesAreSplitInvariant) {
  const std::vector<std::string> fragments = {
      "<tool_call>", "</tool_call>", "<think>", "</think>", "[TOOL_CALLS]", "[ARGS]",
      "[CALL_ID]", "<|python_tag|>", "{", "}", "[", "]", "\"", "\\", ":", ",", ";",
      "\"name\"", "\"arguments\"", "\"parameters\"", "\"f\"", "{}", " ", "\n", "a", "xyz",
      "\xC3\xA9", "<", "</", "[TOOL", "1"};
  const ToolFormat formats[] = {ToolFormat::none, ToolFormat::hermes, ToolFormat::llama3_json,
                                ToolFormat::mistral};
  sampling::Rng rng(77);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int n = 1 + static_cast<int>(rng.next() % 24);
    for (int i = 0; i < n; ++i) text += fragments[rng.next() % fragments.size()];
    for (const auto f : formats) {
      SCOPED_TRACE(text);
      const Parsed p = parse_all_ways(options_for(f, round % 2 == 0), text);
      // Lossless for text: with tools off and no reasoning, everything but outer whitespace is
      // content.
      if (f == ToolFormat::none && round % 2 == 1) {
        std::string_view trimmed = text;
        while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\n')) {
          trimmed.remove_prefix(1);
        }
        while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\n')) {
          trimmed.remove_suffix(1);
        }
        EXPECT_EQ(p.content, trimmed);
      }
    }
  }
}

}  // namespace
}  // namespace llmux::engine::output
