// The `anthropic` provider (Messages API) against the loopback test server, and its stream
// assembler fed SSE bytes split at every position.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "http/sse.hpp"
#include "providers/anthropic.hpp"
#include "providers/native_test_support.hpp"

namespace llmux {
namespace {

using testing::RecordedRequest;
using testing::TestServer;
using testing::Transcript;
using namespace std::chrono_literals;
namespace bj = boost::json;

// Every event type: ping (also between deltas), thinking with signature, text, two parallel
// tool_use blocks with split input JSON, an unknown event type, cumulative usage.
const std::vector<std::string> kToolStream = {
    R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-test","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":1}}})",
    R"({"type": "ping"})",
    R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}})",
    R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think"}})",
    R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"c2ln"}})",
    R"({"type":"content_block_stop","index":0})",
    R"({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})",
    R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Checking"}})",
    R"({"type": "ping"})",
    R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" weather."}})",
    R"({"type":"content_block_stop","index":1})",
    R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}})",
    R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}})",
    R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}})",
    R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ris\"}"}})",
    R"({"type":"content_block_stop","index":2})",
    R"({"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_2","name":"get_time","input":{}}})",
    R"({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"tz\":\"CET\"}"}})",
    R"({"type":"content_block_stop","index":3})",
    R"({"type":"brand_new_event","detail":{"x":1}})",
    R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}})",
    R"({"type":"message_stop"})"};

const char* kToolMessage = R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-test",
  "content":[{"type":"thinking","thinking":"Let me think","signature":"c2ln"},
             {"type":"text","text":"Checking weather."},
             {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
             {"type":"tool_use","id":"toolu_2","name":"get_time","input":{"tz":"CET"}}],
  "stop_reason":"tool_use","stop_sequence":null,
  "usage":{"input_tokens":25,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":89}})";

const char* kTextMessage = R"({"id":"msg_2","type":"message","role":"assistant","model":"claude-test",
  "content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}})";

class AnthropicTest : public ::testing::Test {
 protected:
  std::shared_ptr<Provider> provider(const TestServer& server, ProviderConfig config = {}) {
    config.base_url = server.base_url();
    config.model = "claude-test";
    config.api_key = "sk-ant-test";
    config.use_environment = false;
    return create_llm("anthropic", std::move(config), client_rt);
  }
  static Request request() {
    Request r;
    r.messages = {Message::system("be brief"), Message::user("weather in Paris?")};
    return r;
  }
  Runtime server_rt{1};
  Runtime client_rt{1};
};

struct Decoded {
  std::vector<StreamEvent> events;
  Response response;
  std::string error;
  bool operator==(const Decoded&) const = default;
};

Decoded decode_sse(const std::vector<std::string_view>& reads) {
  Decoded d;
  providers::AnthropicStreamAssembler assembler("anthropic");
  http::SseDecoder decoder;
  try {
    for (auto piece : reads) {
      std::vector<http::SseEvent> events;
      decoder.feed(piece, events);
      for (const auto& e : events) {
        for (auto& ev : assembler.feed(e.type, e.data)) d.events.push_back(std::move(ev));
      }
    }
    assembler.finish();
  } catch (const Error& e) {
    d.error = std::string(to_string(e.code())) + ": " + e.what();
  }
  d.response = assembler.response();
  return d;
}

TEST_F(AnthropicTest, EveryEventTypeAssembled) {
  Decoded d = decode_sse({test::join(test::sse_events(kToolStream))});
  ASSERT_TRUE(d.error.empty()) << d.error;
  const std::vector<StreamEvent> expected = {
      ReasoningDelta{"Let me think"},
      TextDelta{"Checking"},
      TextDelta{" weather."},
      ToolCallDelta{0, "toolu_1", "get_weather", ""},
      ToolCallDelta{0, "", "", "{\"city\": \"Pa"},
      ToolCallDelta{0, "", "", "ris\"}"},
      ToolCallDone{0, {"toolu_1", "get_weather", R"({"city":"Paris"})"}},
      ToolCallDelta{1, "toolu_2", "get_time", ""},
      ToolCallDelta{1, "", "", R"({"tz":"CET"})"},
      ToolCallDone{1, {"toolu_2", "get_time", R"({"tz":"CET"})"}},
      UsageEvent{Usage{130, 89, 219, 100, 0, 5}},
      Finish{FinishReason::tool_calls}};
  EXPECT_EQ(d.events, expected);
  EXPECT_EQ(d.response.reasoning_signature, "c2ln");
  EXPECT_EQ(d.response.model, "claude-test");
}

TEST_F(AnthropicTest, ReadsSplitAtEveryByteGiveTheSameEvents) {
  // CRLF line endings too, and a comment line.
  std::string crlf;
  for (const auto& d : kToolStream) crlf += test::sse_event(d, "\r\n");
  crlf = ": keep-alive\r\n\r\n" + crlf;
  for (const std::string& bytes : {test::join(test::sse_events(kToolStream)), crlf}) {
    test::expect_same_at_every_split<Decoded>(bytes, decode_sse);
  }
  EXPECT_EQ(decode_sse({crlf}), decode_sse({test::join(test::sse_events(kToolStream))}));
}

TEST_F(AnthropicTest, StreamAndGenerateGiveTheSameResponse) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest& r) {
    if (bj::parse(r.body).as_object().contains("stream")) {
      // One byte per chunk: every event arrives split.
      std::vector<std::string> bytes;
      for (char c : test::join(test::sse_events(kToolStream))) bytes.emplace_back(1, c);
      return Transcript::chunked(200, bytes, 0ms, 0ms, "text/event-stream",
                                 {{"request-id", "req_s"}, {"anthropic-ratelimit-requests-remaining", "7"}});
    }
    return Transcript::response(200, kToolMessage, "application/json", {{"request-id", "req_g"}});
  });
  auto p = provider(server);
  Response whole = p->generate(request());
  Stream s = p->async_stream(request());
  std::vector<ToolCallDone> done;
  while (auto e = s.next()) {
    if (auto* d = std::get_if<ToolCallDone>(&*e)) done.push_back(*d);
  }
  Response streamed = *s.response();
  EXPECT_EQ(streamed.content, "Checking weather.");
  EXPECT_EQ(streamed.content, whole.content);
  EXPECT_EQ(streamed.reasoning, whole.reasoning);
  EXPECT_EQ(streamed.reasoning_signature, whole.reasoning_signature);
  EXPECT_EQ(streamed.tool_calls, whole.tool_calls);
  EXPECT_EQ(streamed.usage, whole.usage);
  EXPECT_EQ(streamed.finish_reason, whole.finish_reason);
  EXPECT_EQ(streamed.model, whole.model);
  EXPECT_EQ(whole.usage, (Usage{130, 89, 219, 100, 0, 5}));
  EXPECT_EQ(whole.request_id, "req_g");
  EXPECT_EQ(streamed.request_id, "req_s");
  ASSERT_EQ(streamed.rate_limits.size(), 1u);
  EXPECT_EQ(done.size(), 2u);
  EXPECT_TRUE(streamed.timings.time_to_first_token.has_value());
  EXPECT_EQ(whole.provider, "anthropic");
}

TEST_F(AnthropicTest, RequestShape) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(200, kTextMessage);
  });
  auto p = provider(server, test::loopback_config("", "", "", {{"beta", "prompt-caching-2024-07-31"}}));
  Request req;
  Message system = Message::system("You are terse.");
  system.content.push_back(ContentPart::from_text("Long cached context."));
  system.content.back().cache_control = CacheControl{"1h"};
  req.messages = {system, Message::user("weather?")};
  Message asked = Message::assistant("Let me check.", {{"toolu_a", "get_weather", R"({"city":"Paris"})"},
                                                       {"toolu_b", "get_time", ""}});
  asked.reasoning = "thinking about it";
  asked.reasoning_signature = "sig";
  req.messages.push_back(asked);
  req.messages.push_back(Message::tool_result("toolu_a", "sunny"));
  req.messages.push_back(Message::tool_result("toolu_b", "12:00"));
  req.messages.push_back(Message::user("thanks"));
  req.options.stop = {"END", "STOP"};
  req.options.temperature = 0.3;
  req.options.top_k = 5;
  req.options.reasoning_budget_tokens = 8000;
  req.options.tools = {ToolDefinition{"get_weather", "Weather", R"({"type":"object"})"},
                       ToolDefinition{"get_time", "", R"({"type":"object"})", CacheControl{}}};
  req.options.tool_choice = ToolChoice::tool("get_weather");
  p->generate(req);

  auto sent = server.requests().at(0);
  EXPECT_EQ(sent.target, "/v1/messages");
  EXPECT_EQ(sent.header("x-api-key"), "sk-ant-test");
  EXPECT_EQ(sent.header("anthropic-version"), "2023-06-01");
  EXPECT_EQ(sent.header("anthropic-beta"), "prompt-caching-2024-07-31");
  EXPECT_EQ(sent.header("Authorization"), "");
  auto body = bj::parse(sent.body).as_object();
  EXPECT_EQ(body.at("model").as_string(), "claude-test");
  // The budget counts against max_tokens: the default grows to fit it.
  EXPECT_EQ(body.at("max_tokens").as_int64(), 8000 + 4096);
  EXPECT_EQ(body.at("thinking"), bj::parse(R"({"type":"enabled","budget_tokens":8000})"));
  EXPECT_EQ(body.at("system"), bj::parse(R"([{"type":"text","text":"You are terse."},
      {"type":"text","text":"Long cached context.","cache_control":{"type":"ephemeral","ttl":"1h"}}])"));
  EXPECT_EQ(body.at("messages"), bj::parse(R"([
      {"role":"user","content":"weather?"},
      {"role":"assistant","content":[
         {"type":"thinking","thinking":"thinking about it","signature":"sig"},
         {"type":"text","text":"Let me check."},
         {"type":"tool_use","id":"toolu_a","name":"get_weather","input":{"city":"Paris"}},
         {"type":"tool_use","id":"toolu_b","name":"get_time","input":{}}]},
      {"role":"user","content":[
         {"type":"tool_result","tool_use_id":"toolu_a","content":"sunny"},
         {"type":"tool_result","tool_use_id":"toolu_b","content":"12:00"},
         {"type":"text","text":"thanks"}]}])"));
  EXPECT_EQ(body.at("stop_sequences"), bj::parse(R"(["END","STOP"])"));
  EXPECT_EQ(body.at("temperature").as_double(), 0.3);
  EXPECT_EQ(body.at("top_k").as_int64(), 5);
  EXPECT_EQ(body.at("tools"), bj::parse(R"([
      {"name":"get_weather","input_schema":{"type":"object"},"description":"Weather"},
      {"name":"get_time","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}])"));
  EXPECT_EQ(body.at("tool_choice"), bj::parse(R"({"type":"tool","name":"get_weather"})"));
  EXPECT_FALSE(body.contains("stream"));
  EXPECT_FALSE(body.contains("top_p"));
}

TEST_F(AnthropicTest, DefaultsToolChoicesAndUnsupportedOptions) {
  const providers::AnthropicSettings settings;
  auto encode = [&](const Request& r) {
    return bj::parse(providers::encode_anthropic_request(r, "m", settings, true)).as_object();
  };
  Request r = request();
  auto body = encode(r);
  EXPECT_EQ(body.at("max_tokens").as_int64(), 4096);  // the API requires one
  EXPECT_EQ(body.at("system").as_string(), "be brief");
  EXPECT_TRUE(body.at("stream").as_bool());
  EXPECT_FALSE(body.contains("thinking"));
  const std::vector<std::pair<ToolChoice, std::string>> choices = {
      {ToolChoice{}, R"({"type":"auto"})"},
      {ToolChoice{ToolChoice::Mode::none, ""}, R"({"type":"none"})"},
      {ToolChoice{ToolChoice::Mode::required, ""}, R"({"type":"any"})"},
      {ToolChoice::tool("f"), R"({"type":"tool","name":"f"})"}};
  for (const auto& [choice, json] : choices) {
    r.options.tool_choice = choice;
    EXPECT_EQ(encode(r).at("tool_choice"), bj::parse(json));
  }
  r.options.max_output_tokens = 100;
  r.options.reasoning_effort = ReasoningEffort::low;
  body = encode(r);
  EXPECT_EQ(body.at("max_tokens").as_int64(), 100);
  EXPECT_EQ(body.at("thinking").at("budget_tokens").as_int64(), 1024);
  r.options.reasoning_effort = ReasoningEffort::minimal;
  EXPECT_FALSE(encode(r).contains("thinking"));

  for (auto set : std::vector<std::function<void(GenerateOptions&)>>{
           [](GenerateOptions& o) { o.seed = 1; },
           [](GenerateOptions& o) { o.min_p = 0.1; },
           [](GenerateOptions& o) { o.presence_penalty = 0.1; }}) {
    Request bad = request();
    set(bad.options);
    EXPECT_THROW(encode(bad), InvalidArgumentError);
  }
  Request bad_args = request();
  bad_args.messages.push_back(Message::assistant("", {{"t1", "f", "not json"}}));
  EXPECT_THROW(encode(bad_args), InvalidArgumentError);
  Request no_model = request();
  EXPECT_THROW(providers::encode_anthropic_request(no_model, "", settings, false), InvalidArgumentError);
}

TEST_F(AnthropicTest, HttpErrorsMapToTypedErrors) {
  struct Case {
    int status;
    std::string type;
    errc expected;
  };
  const std::vector<Case> cases = {
      {400, "invalid_request_error", errc::invalid_request},
      {401, "authentication_error", errc::authentication},
      {403, "permission_error", errc::permission_denied},
      {404, "not_found_error", errc::model_not_found},
      {413, "request_too_large", errc::invalid_request},
      {429, "rate_limit_error", errc::rate_limited},
      {500, "api_error", errc::server_error},
      {529, "overloaded_error", errc::overloaded},
  };
  std::size_t next = 0;
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    const Case& c = cases[next++];
    std::string body = R"({"type":"error","error":{"type":")" + c.type +
                       R"(","message":"model: claude-nope"},"request_id":"req_e"})";
    return Transcript::response(c.status, body, "application/json",
                                {{"request-id", "req_e"}, {"retry-after", "3"}});
  });
  auto p = provider(server);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.type);
    try {
      p->generate(request());
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), c.expected) << e.what();
      EXPECT_EQ(e.http_status(), c.status);
      EXPECT_EQ(e.provider(), "anthropic");
      EXPECT_EQ(e.request_id(), "req_e");
      EXPECT_EQ(e.retry_after(), std::chrono::milliseconds(3000));
    }
  }
}

TEST_F(AnthropicTest, ErrorEventAfterA200KeepsThePartialResponse) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    std::vector<std::string> events(kToolStream.begin(), kToolStream.begin() + 8);
    events.push_back(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
    return Transcript::chunked(200, test::sse_events(events));
  });
  auto p = provider(server);
  Stream s = p->async_stream(request());
  try {
    while (s.next()) {
    }
    FAIL() << "no error";
  } catch (const OverloadedError& e) {
    EXPECT_EQ(e.provider(), "anthropic");
    ASSERT_NE(e.partial(), nullptr);
    EXPECT_EQ(e.partial()->content, "Checking");
    EXPECT_EQ(e.partial()->reasoning, "Let me think");
  }
  // The same through async_generate's sibling: a non-streaming 200 whose body is an error.
  for (const auto& [type, code] : std::vector<std::pair<std::string, errc>>{
           {"api_error", errc::server_error}, {"rate_limit_error", errc::rate_limited},
           {"invalid_request_error", errc::invalid_request}}) {
    Decoded d = decode_sse({test::sse_event(kToolStream[0]) +
                            test::sse_event(R"({"type":"error","error":{"type":")" + type +
                                            R"(","message":"x"}})")});
    EXPECT_TRUE(d.error.starts_with(std::string(to_string(code)))) << d.error;
  }
}

TEST_F(AnthropicTest, BrokenStreamsAreProtocolErrors) {
  const std::vector<std::vector<std::string>> broken = {
      // Truncated before message_stop.
      {kToolStream.begin(), kToolStream.begin() + 10},
      // Tool input that is not JSON.
      {kToolStream[0], kToolStream[11],
       R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}})",
       kToolStream[15]},
      // A delta for a block that never started.
      {kToolStream[0], R"({"type":"content_block_delta","index":7,"delta":{"type":"text_delta","text":"x"}})"},
      // Content before message_start, and data that is not JSON.
      {kToolStream[6]},
  };
  for (const auto& events : broken) {
    Decoded d = decode_sse({test::join(test::sse_events(events))});
    EXPECT_TRUE(d.error.starts_with("protocol_error")) << d.error;
  }
  Decoded garbage = decode_sse({"event: message_start\ndata: {oops\n\n"});
  EXPECT_TRUE(garbage.error.starts_with("protocol_error")) << garbage.error;

  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::chunked(200, test::sse_events({kToolStream.begin(), kToolStream.begin() + 8}));
  });
  auto p = provider(server);
  Stream s = p->async_stream(request());
  try {
    while (s.next()) {
    }
    FAIL() << "no error";
  } catch (const ProtocolError& e) {
    ASSERT_NE(e.partial(), nullptr);
    EXPECT_EQ(e.partial()->content, "Checking");
  }
}

TEST_F(AnthropicTest, EveryTruncationAndCorruptionIsACleanError) {
  const std::string bytes = test::join(test::sse_events(kToolStream));
  const Decoded whole = decode_sse({bytes});
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    Decoded cut = decode_sse({std::string_view(bytes).substr(0, i)});
    ASSERT_TRUE(cut.error.starts_with("protocol_error")) << i << ": " << cut.error;
    std::string corrupt = bytes;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    Decoded bad = decode_sse({corrupt});  // an error, or a stream that still parses
    EXPECT_TRUE(bad.error.empty() || bad.error.find(": anthropic: ") != std::string::npos) << bad.error;
  }
  EXPECT_TRUE(whole.error.empty());
}

TEST_F(AnthropicTest, StreamRequestAnsweredWithOneJsonBody) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(200, kToolMessage);
  });
  Stream s = provider(server)->async_stream(request());
  std::vector<StreamEvent> events;
  while (auto e = s.next()) events.push_back(*e);
  ASSERT_EQ(events.size(), 8u);  // reasoning, text, 2 x (delta, done), usage, finish
  EXPECT_EQ(std::get<ToolCallDone>(events[5]).call, (ToolCall{"toolu_2", "get_time", R"({"tz":"CET"})"}));
  EXPECT_EQ(s.response()->tool_calls.size(), 2u);
}

TEST_F(AnthropicTest, StopReasonsAndTextOnlyStream) {
  EXPECT_EQ(providers::map_anthropic_stop_reason("end_turn"), FinishReason::stop);
  EXPECT_EQ(providers::map_anthropic_stop_reason("stop_sequence"), FinishReason::stop);
  EXPECT_EQ(providers::map_anthropic_stop_reason("max_tokens"), FinishReason::length);
  EXPECT_EQ(providers::map_anthropic_stop_reason("tool_use"), FinishReason::tool_calls);
  EXPECT_EQ(providers::map_anthropic_stop_reason("refusal"), FinishReason::content_filter);
  EXPECT_EQ(providers::map_anthropic_stop_reason("pause_turn"), FinishReason::stop);
  Decoded d = decode_sse({test::join(test::sse_events({
      R"({"type":"message_start","message":{"model":"claude-test","usage":{"input_tokens":4,"output_tokens":0}}})",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Hi"}})",
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":1}})",
      R"({"type":"message_delta","delta":{},"usage":{"output_tokens":2}})",
      R"({"type":"message_stop"})"}))});
  ASSERT_TRUE(d.error.empty()) << d.error;
  EXPECT_EQ(d.response.content, "Hi");
  EXPECT_EQ(d.response.finish_reason, FinishReason::length);
  EXPECT_EQ(d.response.usage, (Usage{4, 2, 6, 0, 0, 0}));  // cumulative: the last count wins
}

TEST_F(AnthropicTest, ModelListingFollowsPages) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest& r) {
    if (r.target.find("after_id=m2") != std::string::npos) {
      return Transcript::response(200, R"({"data":[{"type":"model","id":"m3","created_at":"2025-01-01T00:00:00Z"}],"has_more":false,"last_id":"m3"})");
    }
    return Transcript::response(200, R"({"data":[{"type":"model","id":"m1","created_at":"2024-02-29T12:00:00Z"},
      {"type":"model","id":"m2","created_at":"bogus"}],"has_more":true,"last_id":"m2"})");
  });
  auto models = provider(server)->list_models();
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0].id, "m1");
  EXPECT_EQ(models[0].created, 1709208000);
  EXPECT_EQ(models[1].created, 0);
  EXPECT_EQ(models[2].id, "m3");
  EXPECT_EQ(server.requests().at(0).header("x-api-key"), "sk-ant-test");
}

TEST_F(AnthropicTest, RegistryEntryNeedsAKey) {
  const ProviderRegistry registry = ProviderRegistry::builtin();
  auto info = registry.find("anthropic");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->api_key_env, "ANTHROPIC_API_KEY");
  EXPECT_EQ(info->base_url_env, "ANTHROPIC_BASE_URL");
  EXPECT_THROW(create_llm("anthropic", test::loopback_config("", "", ""), client_rt), AuthenticationError);
  EXPECT_THROW(create_llm("anthropic", test::loopback_config("", "k", "", {{"nope", "1"}}), client_rt),
               InvalidArgumentError);
}

}  // namespace
}  // namespace llmux
