// `llmux generate` and `llmux providers`: output shapes and one-line errors.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "cli/cli_runner.hpp"

namespace llmux {
namespace {

using test::count_lines;
using test::run_cli;

void expect_one_line_error(const test::CliResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(GenerateCli, PrintsTheAnswer) {
  auto r = run_cli({"generate", "--provider", "fake", "hello there"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 1);
  EXPECT_GT(r.out.size(), 10u);
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(GenerateCli, JsonHasTheContractFields) {
  auto r = run_cli({"generate", "--provider", "fake", "--json", "--max-tokens", "3", "--system",
                    "be brief", "hi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto v = boost::json::parse(r.out).as_object();
  EXPECT_EQ(v.at("finish_reason").as_string(), "length");
  EXPECT_EQ(v.at("usage").at("output_tokens").as_int64(), 3);
  EXPECT_GT(v.at("usage").at("input_tokens").as_int64(), 0);
  EXPECT_EQ(v.at("provider").as_string(), "fake");
  EXPECT_EQ(v.at("model").as_string(), "fake-model");
  EXPECT_TRUE(v.at("tool_calls").as_array().empty());
  EXPECT_TRUE(v.at("reasoning").is_string());
  EXPECT_TRUE(v.at("timings").at("total_ms").is_number());
  EXPECT_TRUE(v.contains("content"));
}

TEST(GenerateCli, StreamThenJsonOnItsOwnLine) {
  auto r = run_cli({"generate", "--provider", "fake", "--stream", "--json", "-o", "ttft_ms=5",
                    "-o", "tokens_per_second=1000", "hi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto nl = r.out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  std::string streamed = r.out.substr(0, nl);
  auto v = boost::json::parse(r.out.substr(nl + 1)).as_object();
  EXPECT_EQ(v.at("content").as_string(), streamed);
  EXPECT_TRUE(v.at("timings").at("ttft_ms").is_number());
}

TEST(GenerateCli, ToolsFileProducesToolCalls) {
  auto dir = std::filesystem::temp_directory_path();
  auto tools = dir / ("llmux-tools-" + std::to_string(::getpid()) + ".json");
  std::ofstream(tools) << R"([{"type":"function","function":{"name":"get_weather",
      "description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])";
  auto r = run_cli({"generate", "--provider", "fake", "--json", "--tools", tools.string(),
                    "please call get_weather"});
  std::filesystem::remove(tools);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto v = boost::json::parse(r.out).as_object();
  EXPECT_EQ(v.at("finish_reason").as_string(), "tool_calls");
  auto& call = v.at("tool_calls").as_array().at(0).as_object();
  EXPECT_EQ(call.at("name").as_string(), "get_weather");
  EXPECT_TRUE(call.at("arguments").is_object());
}

TEST(GenerateCli, ProviderErrorsAreOneLineWithTheirKind) {
  auto r = run_cli({"generate", "--provider", "fake", "-o", "fail=rate_limited", "hi"});
  expect_one_line_error(r, "rate_limited");
  EXPECT_EQ(r.exit_code, 1);
}

TEST(GenerateCli, TimeoutIsEnforced) {
  auto r = run_cli({"generate", "--provider", "fake", "-o", "ttft_ms=10000", "--timeout", "0.1",
                    "hi"});
  expect_one_line_error(r, "timed out");
}

TEST(GenerateCli, UnknownProvider) {
  auto r = run_cli({"generate", "--provider", "no-such-provider", "hi"});
  expect_one_line_error(r, "unknown provider 'no-such-provider'");
}

TEST(GenerateCli, MissingProviderAndMissingPrompt) {
  expect_one_line_error(run_cli({"generate", "hi"}, {"LLMUX_PROVIDER="}), "no provider");
  expect_one_line_error(run_cli({"generate", "--provider", "fake"}), "PROMPT is required");
  expect_one_line_error(run_cli({}), "subcommand is required");
}

TEST(GenerateCli, ProviderFromTheEnvironment) {
  auto r = run_cli({"generate", "hi"}, {"LLMUX_PROVIDER=fake"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(GenerateCli, BadNumbers) {
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--max-tokens", "abc"},
           {"--max-tokens", "-3"},
           {"--max-tokens", "0"},
           {"--temperature", "warm"},
           {"--temperature", "nan"},
           {"--temperature", "-1"},
           {"--top-p", "1.5"},
           {"--top-k", "2.5"},
           {"--seed", "-1"},
           {"--timeout", "0"},
           {"--max-tokens", "99999999999999999999999"}}) {
    auto r = run_cli({"generate", "--provider", "fake", flag, value, "hi"});
    SCOPED_TRACE(flag + " " + value);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
  }
}

TEST(GenerateCli, BadFilesAndProviderOptions) {
  expect_one_line_error(run_cli({"generate", "--provider", "fake", "--tools", "/nonexistent.json",
                                 "hi"}),
                        "cannot read");
  auto dir = std::filesystem::temp_directory_path();
  auto bad = dir / ("llmux-bad-" + std::to_string(::getpid()) + ".json");
  std::ofstream(bad) << "[{\"name\": 1}";
  expect_one_line_error(run_cli({"generate", "--provider", "fake", "--tools", bad.string(), "hi"}),
                        "invalid JSON");
  expect_one_line_error(run_cli({"generate", "--provider", "fake", "--schema", bad.string(), "hi"}),
                        "invalid JSON");
  std::filesystem::remove(bad);
  expect_one_line_error(run_cli({"generate", "--provider", "fake", "-o", "bogus=1", "hi"}),
                        "unknown option 'bogus'");
  expect_one_line_error(run_cli({"generate", "--provider", "fake", "-o", "novalue", "hi"}),
                        "KEY=VALUE");
  expect_one_line_error(run_cli({"generate", "--provider", "fake", "--ctx-size", "512", "hi"}),
                        "local .gguf models only");
  expect_one_line_error(
      run_cli({"generate", "--provider", "fake", "--precision", "half", "hi"}), "--precision");
}

TEST(ProvidersCli, ListsTheFakeProvider) {
  auto r = run_cli({"providers"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("fake"), std::string::npos);
  auto j = run_cli({"providers", "--json"});
  ASSERT_EQ(j.exit_code, 0);
  auto arr = boost::json::parse(j.out).as_array();
  bool found = false;
  for (auto& p : arr) found |= p.at("name").as_string() == "fake";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace llmux

namespace llmux {
namespace {

TEST(GenerateCli, UnreachableHostAndMalformedUrl) {
  // A loopback port nobody listens on: connection refused, quickly.
  auto refused = test::run_cli({"generate", "--provider", "openai-compatible", "--base-url",
                                "http://127.0.0.1:1/v1", "--model", "m", "hi"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(test::count_lines(refused.err), 1) << refused.err;
  EXPECT_NE(refused.err.find("connection_error"), std::string::npos) << refused.err;

  auto malformed = test::run_cli({"generate", "--provider", "openai-compatible", "--base-url",
                                  "ht!tp://x y", "--model", "m", "hi"});
  EXPECT_NE(malformed.exit_code, 0);
  EXPECT_EQ(test::count_lines(malformed.err), 1) << malformed.err;
  EXPECT_NE(malformed.err.find("URL"), std::string::npos) << malformed.err;

  auto keyless = test::run_cli({"generate", "--provider", "openai", "hi"}, {"OPENAI_API_KEY="});
  EXPECT_EQ(keyless.exit_code, 1);
  EXPECT_NE(keyless.err.find("OPENAI_API_KEY"), std::string::npos) << keyless.err;
}

}  // namespace
}  // namespace llmux
