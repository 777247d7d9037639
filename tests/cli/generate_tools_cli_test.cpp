// `llmux generate --provider anthropic|ollama [--stream] --json [--tools FILE]` against the
// loopback test server: content, tool calls, finish_reason and usage in the --json object, and
// the tools of the file in the request.
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <llmux/llmux.hpp>

#include "cli/cli_runner.hpp"
#include "testing/test_server.hpp"

namespace llmux {
namespace {

using testing::RecordedRequest;
using testing::TestServer;
using testing::Transcript;
namespace bj = boost::json;

const char* kAnthropicWhole = R"({"type":"message","model":"claude-test","content":[
  {"type":"text","text":"Let me look."},
  {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
  {"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome"}}],
  "stop_reason":"tool_use","usage":{"input_tokens":20,"cache_read_input_tokens":10,"output_tokens":30}})";

std::string anthropic_stream() {
  std::string out;
  for (const char* data : {
           R"({"type":"message_start","message":{"model":"claude-test","usage":{"input_tokens":20,"cache_read_input_tokens":10,"output_tokens":1}}})",
           R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
           R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me "}})",
           R"({"type":"ping"})",
           R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"look."}})",
           R"({"type":"content_block_stop","index":0})",
           R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}})",
           R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}})",
           R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}})",
           R"({"type":"content_block_stop","index":1})",
           R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_2","name":"get_weather","input":{}}})",
           R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\":\"Rome\"}"}})",
           R"({"type":"content_block_stop","index":2})",
           R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}})",
           R"({"type":"message_stop"})"}) {
    out += std::string("event: x\ndata: ") + data + "\n\n";
  }
  return out;
}

const char* kOllamaWhole = R"({"model":"qwen-test","message":{"role":"assistant","content":"Let me look.",
  "tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}},
                {"function":{"name":"get_weather","arguments":{"city":"Rome"}}}]},
  "done":true,"done_reason":"stop","prompt_eval_count":30,"eval_count":30,"total_duration":1000})";

const std::vector<std::string> kOllamaStream = {
    R"({"model":"qwen-test","message":{"role":"assistant","content":"Let me "},"done":false})" "\n",
    R"({"model":"qwen-test","message":{"role":"assistant","content":"look."},"done":false})" "\n",
    R"({"model":"qwen-test","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}},{"function":{"name":"get_weather","arguments":{"city":"Rome"}}}]},"done":false})" "\n",
    R"({"model":"qwen-test","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":30,"eval_count":30})" "\n"};

class GenerateToolsCli : public ::testing::TestWithParam<std::tuple<std::string, bool>> {
 protected:
  void SetUp() override {
    tools_file = std::filesystem::temp_directory_path() /
                 ("llmux-cli-tools-" + std::to_string(::getpid()) + ".json");
    std::ofstream(tools_file) << R"([{"type":"function","function":{"name":"get_weather",
        "description":"Weather of a city","parameters":{"type":"object",
        "properties":{"city":{"type":"string"}},"required":["city"]}}}])";
  }
  void TearDown() override { std::filesystem::remove(tools_file); }
  std::filesystem::path tools_file;
  Runtime server_rt{1};
};

TEST_P(GenerateToolsCli, JsonHasContentToolCallsFinishReasonAndUsage) {
  const auto& [provider, stream] = GetParam();
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest& r) {
    const bool wants_stream = bj::parse(r.body).as_object().contains("stream") &&
                              bj::parse(r.body).at("stream").as_bool();
    if (provider == "anthropic") {
      if (wants_stream) return Transcript::chunked(200, {anthropic_stream()});
      return Transcript::response(200, kAnthropicWhole);
    }
    if (wants_stream) return Transcript::chunked(200, kOllamaStream, {}, {}, "application/x-ndjson");
    return Transcript::response(200, kOllamaWhole);
  });
  std::vector<std::string> args = {"generate", "--provider", provider, "--base-url", server.base_url(),
                                   "--model", "test-model", "--api-key", "k", "--json",
                                   "--tools", tools_file.string(), "--max-tokens", "50",
                                   "weather in Paris and Rome?"};
  if (stream) args.push_back("--stream");
  auto r = test::run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string json_line = r.out;
  if (stream) {
    auto nl = r.out.find('\n');
    ASSERT_NE(nl, std::string::npos);
    EXPECT_EQ(r.out.substr(0, nl), "Let me look.");  // the text streamed first
    json_line = r.out.substr(nl + 1);
  }
  auto v = bj::parse(json_line).as_object();
  EXPECT_EQ(v.at("content").as_string(), "Let me look.");
  EXPECT_EQ(v.at("finish_reason").as_string(), "tool_calls");
  EXPECT_EQ(v.at("provider").as_string(), provider);
  EXPECT_EQ(v.at("usage").at("input_tokens").as_int64(), 30);
  EXPECT_EQ(v.at("usage").at("output_tokens").as_int64(), 30);
  const auto& calls = v.at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].at("name").as_string(), "get_weather");
  EXPECT_EQ(calls[0].at("arguments"), bj::parse(R"({"city":"Paris"})"));
  EXPECT_EQ(calls[1].at("arguments"), bj::parse(R"({"city":"Rome"})"));
  EXPECT_FALSE(calls[0].at("id").as_string().empty());
  EXPECT_NE(calls[0].at("id"), calls[1].at("id"));

  auto sent = bj::parse(server.requests().at(0).body).as_object();
  EXPECT_EQ(sent.at("model").as_string(), "test-model");
  if (provider == "anthropic") {
    EXPECT_EQ(sent.at("tools").at(0).at("input_schema").at("required").at(0).as_string(), "city");
    EXPECT_EQ(sent.at("max_tokens").as_int64(), 50);
  } else {
    EXPECT_EQ(sent.at("tools").at(0).at("function").at("name").as_string(), "get_weather");
    EXPECT_EQ(sent.at("options").at("num_predict").as_int64(), 50);
  }
}

INSTANTIATE_TEST_SUITE_P(Providers, GenerateToolsCli,
                         ::testing::Combine(::testing::Values("anthropic", "ollama"), ::testing::Bool()),
                         [](const auto& info) {
                           return std::get<0>(info.param) + (std::get<1>(info.param) ? "_stream" : "");
                         });

TEST(GenerateToolsCliErrors, ProviderErrorIsOneLine) {
  Runtime server_rt{1};
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  });
  auto r = test::run_cli({"generate", "--provider", "anthropic", "--base-url", server.base_url(),
                          "--model", "m", "--api-key", "k", "hi"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("overloaded"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace llmux
