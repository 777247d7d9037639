// Tool calling across the three wire protocols (OpenAI, Anthropic, Ollama): the same parallel
// tool calls come out of each, streaming or not, and a conversation with tool calls started on
// one provider continues on another in that provider's shape.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <llmux/tools.hpp>

#include "providers/native_test_support.hpp"

namespace llmux {
namespace {

using testing::RecordedRequest;
using testing::TestServer;
using testing::Transcript;
using namespace std::chrono_literals;
namespace bj = boost::json;

const std::vector<ToolCall> kCalls = {{"id_w", "get_weather", R"({"city":"Paris"})"},
                                      {"id_t", "get_time", R"({"tz":"CET"})"}};

// The two calls of kCalls in each protocol, whole and streamed.
struct Wire {
  std::string provider;
  std::string whole;
  std::vector<std::string> stream_pieces;
  std::string stream_type;
};

Wire openai_wire() {
  return {"openai-compatible",
          R"({"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
             {"id":"id_w","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
             {"id":"id_t","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"CET\"}"}}]},
             "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":7}})",
          {"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"id_w\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"ci\"}}]}}]}\n\n",
           "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"id_t\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"CET\\\"}\"}}]}}]}\n\n",
           "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
           "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}\n\n",
           "data: [DONE]\n\n"},
          "text/event-stream"};
}

Wire anthropic_wire() {
  return {"anthropic",
          R"({"type":"message","role":"assistant","model":"m","content":[
             {"type":"tool_use","id":"id_w","name":"get_weather","input":{"city":"Paris"}},
             {"type":"tool_use","id":"id_t","name":"get_time","input":{"tz":"CET"}}],
             "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":7}})",
          test::sse_events({
              R"({"type":"message_start","message":{"model":"m","usage":{"input_tokens":5,"output_tokens":1}}})",
              R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"id_w","name":"get_weather","input":{}}})",
              R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"id_t","name":"get_time","input":{}}})",
              R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"ci"}})",
              R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"tz\":\"CET\"}"}})",
              R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"ty\":\"Paris\"}"}})",
              R"({"type":"content_block_stop","index":0})",
              R"({"type":"content_block_stop","index":1})",
              R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}})",
              R"({"type":"message_stop"})"}),
          "text/event-stream"};
}

Wire ollama_wire() {
  return {"ollama",
          R"({"model":"m","message":{"role":"assistant","content":"","tool_calls":[
             {"id":"id_w","function":{"name":"get_weather","arguments":{"city":"Paris"}}},
             {"id":"id_t","function":{"name":"get_time","arguments":{"tz":"CET"}}}]},
             "done":true,"done_reason":"stop","prompt_eval_count":5,"eval_count":7})",
          test::ndjson_lines({
              R"({"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"id":"id_w","function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},"done":false})",
              R"({"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"id":"id_t","function":{"name":"get_time","arguments":{"tz":"CET"}}}]},"done":false})",
              R"({"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":5,"eval_count":7})"}),
          "application/x-ndjson"};
}

bool is_stream_request(const std::string& body) {
  auto o = bj::parse(body).as_object();
  return o.contains("stream") && o.at("stream").as_bool();
}

class ToolCallsTest : public ::testing::TestWithParam<Wire (*)()> {
 protected:
  std::shared_ptr<Provider> provider(const TestServer& server, const std::string& name) {
    ProviderConfig config;
    config.base_url = server.base_url() + (name == "openai-compatible" ? "/v1" : "");
    config.model = "m";
    config.api_key = "k";
    config.use_environment = false;
    return create_llm(name, std::move(config), client_rt);
  }
  Runtime server_rt{1};
  Runtime client_rt{1};
};

TEST_P(ToolCallsTest, ParallelCallsStreamingAndNotThenHistoryRoundTrips) {
  const Wire wire = GetParam()();
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest& r) {
    if (is_stream_request(r.body)) {
      return Transcript::chunked(200, wire.stream_pieces, 0ms, 1ms, wire.stream_type);
    }
    return Transcript::response(200, wire.whole);
  });
  auto p = provider(server, wire.provider);
  Request req;
  req.messages = {Message::user("weather and time in Paris?")};
  req.options.tools = {ToolDefinition{"get_weather", "", R"({"type":"object"})"},
                       ToolDefinition{"get_time", "", R"({"type":"object"})"}};
  Response whole = p->generate(req);
  EXPECT_EQ(whole.tool_calls, kCalls);
  EXPECT_EQ(whole.finish_reason, FinishReason::tool_calls);
  EXPECT_EQ(whole.usage.input_tokens, 5);
  EXPECT_EQ(whole.usage.output_tokens, 7);

  Stream s = p->async_stream(req);
  std::map<std::size_t, ToolCall> from_deltas;
  std::vector<ToolCall> done;
  while (auto e = s.next()) {
    if (auto* d = std::get_if<ToolCallDelta>(&*e)) {
      ToolCall& c = from_deltas[d->index];
      c.id += d->id;
      c.name += d->name;
      c.arguments += d->arguments;
    } else if (auto* d = std::get_if<ToolCallDone>(&*e)) {
      done.push_back(d->call);
    }
  }
  EXPECT_EQ(s.response()->tool_calls, kCalls);
  EXPECT_EQ(s.response()->finish_reason, FinishReason::tool_calls);
  EXPECT_EQ(done, kCalls);
  ASSERT_EQ(from_deltas.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(from_deltas[i].id, kCalls[i].id);
    EXPECT_EQ(from_deltas[i].name, kCalls[i].name);
    EXPECT_EQ(bj::parse(from_deltas[i].arguments), bj::parse(kCalls[i].arguments));
  }

  // Back into history: the assistant turn and both results, in this protocol's shape.
  Request next = req;
  next.messages.push_back(assistant_message(*s.response()));
  next.messages.push_back(Message::tool_result("id_w", "sunny"));
  next.messages.push_back(Message::tool_result("id_t", "12:00"));
  p->generate(next);
  auto body = bj::parse(server.requests().back().body).as_object();
  const bj::array& msgs = body.at("messages").as_array();
  if (wire.provider == "anthropic") {
    ASSERT_EQ(msgs.size(), 3u);
    EXPECT_EQ(msgs[1].at("content").at(1).at("id").as_string(), "id_t");
    EXPECT_EQ(msgs[1].at("content").at(1).at("input"), bj::parse(R"({"tz":"CET"})"));
    EXPECT_EQ(msgs[2].at("content").at(0).at("tool_use_id").as_string(), "id_w");
    EXPECT_EQ(msgs[2].at("content").at(1).at("content").as_string(), "12:00");
  } else if (wire.provider == "ollama") {
    ASSERT_EQ(msgs.size(), 4u);
    EXPECT_EQ(msgs[1].at("tool_calls").at(0).at("function").at("arguments"),
              bj::parse(R"({"city":"Paris"})"));
    EXPECT_EQ(msgs[3].at("tool_name").as_string(), "get_time");
  } else {
    ASSERT_EQ(msgs.size(), 4u);
    EXPECT_EQ(msgs[1].at("tool_calls").at(1).at("function").at("arguments").as_string(),
              R"({"tz":"CET"})");
    EXPECT_EQ(msgs[2].at("tool_call_id").as_string(), "id_w");
  }
}

INSTANTIATE_TEST_SUITE_P(Protocols, ToolCallsTest,
                         ::testing::Values(&openai_wire, &anthropic_wire, &ollama_wire),
                         [](const auto& info) {
                           std::string n = info.param().provider;
                           return n == "openai-compatible" ? std::string("openai") : n;
                         });

class CrossProviderTest : public ToolCallsTest {};

TEST_F(CrossProviderTest, StartedOnAnthropicContinuedOnOllamaAndOpenAI) {
  const Wire anthropic = anthropic_wire();
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest& r) {
    if (r.target == "/v1/messages") return Transcript::chunked(200, anthropic.stream_pieces);
    if (r.target == "/api/chat") {
      return Transcript::response(200, R"({"model":"m","message":{"role":"assistant","content":"Sunny, 12:00."},"done":true,"done_reason":"stop"})");
    }
    return Transcript::response(200, R"({"choices":[{"index":0,"message":{"role":"assistant","content":"Sunny, 12:00."},"finish_reason":"stop"}]})");
  });
  Request req;
  req.messages = {Message::system("be brief"), Message::user("weather and time?")};
  req.options.tools = {ToolDefinition{"get_weather", "", R"({"type":"object"})"},
                       ToolDefinition{"get_time", "", R"({"type":"object"})"}};
  Stream s = provider(server, "anthropic")->async_stream(req);
  while (s.next()) {
  }
  req.messages.push_back(assistant_message(*s.response()));
  req.messages.push_back(Message::tool_result("id_w", "sunny"));
  req.messages.push_back(Message::tool_result("id_t", "12:00"));

  EXPECT_EQ(provider(server, "ollama")->generate(req).content, "Sunny, 12:00.");
  auto ollama = bj::parse(server.requests().at(1).body).as_object();
  EXPECT_EQ(ollama.at("messages"), bj::parse(R"([
      {"role":"system","content":"be brief"},
      {"role":"user","content":"weather and time?"},
      {"role":"assistant","content":"","tool_calls":[
        {"function":{"name":"get_weather","arguments":{"city":"Paris"}}},
        {"function":{"name":"get_time","arguments":{"tz":"CET"}}}]},
      {"role":"tool","content":"sunny","tool_name":"get_weather"},
      {"role":"tool","content":"12:00","tool_name":"get_time"}])"));
  EXPECT_EQ(ollama.at("tools").as_array().size(), 2u);

  EXPECT_EQ(provider(server, "openai-compatible")->generate(req).content, "Sunny, 12:00.");
  auto openai = bj::parse(server.requests().at(2).body).as_object();
  EXPECT_EQ(openai.at("messages"), bj::parse(R"([
      {"role":"system","content":"be brief"},
      {"role":"user","content":"weather and time?"},
      {"role":"assistant","content":null,"tool_calls":[
        {"id":"id_w","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
        {"id":"id_t","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"CET\"}"}}]},
      {"role":"tool","tool_call_id":"id_w","content":"sunny"},
      {"role":"tool","tool_call_id":"id_t","content":"12:00"}])"));
}

TEST_F(CrossProviderTest, StartedOnOllamaWithoutIdsContinuedOnAnthropic) {
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest& r) {
    if (r.target == "/api/chat") {
      return Transcript::response(200, R"({"model":"m","message":{"role":"assistant","content":"",
          "tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}},
                        {"function":{"name":"get_weather","arguments":{"city":"Rome"}}}]},
          "done":true,"done_reason":"stop"})");
    }
    return Transcript::response(200, R"({"type":"message","model":"m","content":[{"type":"text","text":"Both sunny."}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}})");
  });
  Request req;
  req.messages = {Message::user("weather in Paris and Rome?")};
  Response first = provider(server, "ollama")->generate(req);
  ASSERT_EQ(first.tool_calls.size(), 2u);
  EXPECT_NE(first.tool_calls[0].id, first.tool_calls[1].id);  // synthesized, distinct
  req.messages.push_back(assistant_message(first));
  for (const auto& c : first.tool_calls) req.messages.push_back(Message::tool_result(c.id, "sunny"));
  EXPECT_EQ(provider(server, "anthropic")->generate(req).content, "Both sunny.");
  auto body = bj::parse(server.requests().at(1).body).as_object();
  const bj::array& msgs = body.at("messages").as_array();
  ASSERT_EQ(msgs.size(), 3u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(msgs[1].at("content").at(i).at("type").as_string(), "tool_use");
    EXPECT_EQ(msgs[1].at("content").at(i).at("id").as_string(), first.tool_calls[i].id);
    EXPECT_EQ(msgs[2].at("content").at(i).at("tool_use_id").as_string(), first.tool_calls[i].id);
  }
  EXPECT_EQ(msgs[1].at("content").at(1).at("input"), bj::parse(R"({"city":"Rome"})"));
}

}  // namespace
}  // namespace llmux
