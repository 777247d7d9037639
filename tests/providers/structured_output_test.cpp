// Structured output end to end: native request bodies (OpenAI-compatible, Ollama, Anthropic's
// forced tool), the prompted path (fake provider), validation with exactly one feedback retry,
// InvalidOutputError, streaming, and the sync and async paths giving the same results.
#include <future>
#include <thread>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "api/structured_output.hpp"
#include "providers/anthropic.hpp"
#include "providers/native_test_support.hpp"

namespace llmux {
namespace {

using testing::RecordedRequest;
using testing::TestServer;
using testing::Transcript;
namespace bj = boost::json;

const char* kSchema = R"({"type":"object","properties":{"name":{"type":"string"},
  "age":{"type":"integer","minimum":0}},"required":["name","age"],"additionalProperties":false})";

std::string openai_completion(const std::string& content, int prompt_tokens = 10) {
  bj::object o{{"id", "c1"}, {"object", "chat.completion"}, {"model", "gpt-test"}};
  o["choices"] = bj::array{bj::object{{"index", 0},
                                      {"message", {{"role", "assistant"}, {"content", content}}},
                                      {"finish_reason", "stop"}}};
  o["usage"] = {{"prompt_tokens", prompt_tokens}, {"completion_tokens", 5},
                {"total_tokens", prompt_tokens + 5}};
  return bj::serialize(o);
}

Request structured_request() {
  Request r;
  r.messages = {Message::system("be brief"), Message::user("who?")};
  r.options.response_format = ResponseFormat::json_schema(kSchema, "person");
  return r;
}

// The outcome of one call, comparable between the sync and async paths.
struct Outcome {
  std::string content;
  Usage usage;
  std::optional<errc> error;
  std::string message, body, partial_content;
  bool operator==(const Outcome&) const = default;
};

Outcome outcome_of(const std::function<Response()>& call) {
  Outcome o;
  try {
    Response r = call();
    o.content = r.content;
    o.usage = r.usage;
  } catch (const Error& e) {
    o.error = e.code();
    o.message = e.what();
    o.body = e.body();
    if (e.partial()) o.partial_content = e.partial()->content;
  }
  return o;
}

// Sync generate(), async_generate with use_future, and a coroutine with use_awaitable.
std::vector<Outcome> every_path(const std::shared_ptr<Provider>& p, const Request& req, Runtime& rt) {
  std::vector<Outcome> out;
  out.push_back(outcome_of([&] { return p->generate(req); }));
  out.push_back(outcome_of([&] { return p->async_generate(req, asio::use_future).get(); }));
  out.push_back(outcome_of([&] {
    auto task = [p, req]() -> asio::awaitable<Response> {
      co_return co_await p->async_generate(req, asio::use_awaitable);
    };
    return asio::co_spawn(rt.get_executor(), task, asio::use_future).get();
  }));
  return out;
}

class StructuredOutputTest : public ::testing::Test {
 protected:
  std::shared_ptr<Provider> openai(const TestServer& server) {
    return create_llm("openai-compatible",
                      test::loopback_config(server.base_url() + "/v1", "sk", "gpt-test"), client_rt);
  }
  Runtime server_rt{1};
  Runtime client_rt{1};
};

TEST(StructuredOutputHelpers, ParsesJsonWithWhitespaceAndFences) {
  EXPECT_EQ(detail::parse_model_json("  {\"a\":1}\n").json_text, "{\"a\":1}");
  auto fenced = detail::parse_model_json("```json\n{\"a\": [1, 2]}\n```\n");
  ASSERT_TRUE(fenced.value);
  EXPECT_EQ(fenced.json_text, "{\"a\": [1, 2]}");
  EXPECT_TRUE(detail::parse_model_json("```\n[1]\n```").value);
  EXPECT_FALSE(detail::parse_model_json("```python\n[1]\n```").value);
  EXPECT_FALSE(detail::parse_model_json("Sure! {\"a\":1}").value);
  EXPECT_EQ(detail::parse_model_json("   ").error, "it is empty");
  EXPECT_FALSE(detail::parse_model_json(std::string(100000, '[')).value);  // depth-limited
}

TEST(StructuredOutputHelpers, InstructionGoesIntoTheSystemMessage) {
  Request r = structured_request();
  Request prompted = detail::with_format_instruction(r);
  ASSERT_EQ(prompted.messages.size(), 2u);
  const std::string system = prompted.messages[0].text();
  EXPECT_TRUE(system.starts_with("be brief\n\nRespond with a single JSON value"));
  EXPECT_NE(system.find("\"minimum\":0"), std::string::npos);
  EXPECT_NE(system.find("named \"person\""), std::string::npos);
  r.messages.erase(r.messages.begin());
  prompted = detail::with_format_instruction(r);
  ASSERT_EQ(prompted.messages.size(), 2u);
  EXPECT_EQ(prompted.messages[0].role, Role::system);
  r.options.response_format = {};
  EXPECT_EQ(detail::with_format_instruction(r), r);
}

TEST_F(StructuredOutputTest, NativeProvidersAndPromptedOnes) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(200, openai_completion("{}"));
  });
  EXPECT_TRUE(detail::has_native_response_format(*openai(server)));
  for (const char* name : {"anthropic", "ollama"}) {
    auto p = create_llm(name, test::loopback_config(server.base_url(), "k", "m"), client_rt);
    EXPECT_TRUE(detail::has_native_response_format(*p)) << name;
  }
  auto fake = create_llm("fake", test::loopback_config("", "", ""), client_rt);
  EXPECT_FALSE(detail::has_native_response_format(*fake));
}

TEST_F(StructuredOutputTest, OpenAIValidFirstTimeIsNativeAndUnprompted) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(200, openai_completion("```json\n{\"name\":\"Ada\",\"age\":36}\n```"));
  });
  auto p = openai(server);
  const Response r = p->generate(structured_request());
  EXPECT_EQ(r.content, R"({"name":"Ada","age":36})");
  ASSERT_EQ(server.requests().size(), 1u);
  const auto body = bj::parse(server.requests()[0].body).as_object();
  const auto& format = body.at("response_format").as_object();
  EXPECT_EQ(format.at("type"), "json_schema");
  EXPECT_EQ(format.at("json_schema").at("name"), "person");
  EXPECT_EQ(format.at("json_schema").at("schema"), bj::parse(kSchema));
  EXPECT_EQ(format.at("json_schema").at("strict"), true);
  EXPECT_EQ(body.at("messages").as_array().size(), 2u);
  EXPECT_EQ(body.at("messages").at(0).at("content"), "be brief");  // no prompt instruction
}

TEST_F(StructuredOutputTest, InvalidThenValidRetriesOnceWithFeedback) {
  std::atomic<int> calls{0};
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    const bool first = calls++ % 2 == 0;
    return Transcript::response(
        200, openai_completion(first ? R"({"name":"Ada","age":"36"})" : R"({"name":"Ada","age":36})",
                               first ? 10 : 20));
  });
  auto p = openai(server);
  for (const Outcome& o : every_path(p, structured_request(), client_rt)) {
    EXPECT_FALSE(o.error) << o.message;
    EXPECT_EQ(o.content, R"({"name":"Ada","age":36})");
    EXPECT_EQ(o.usage.input_tokens, 30);  // both attempts
    EXPECT_EQ(o.usage.output_tokens, 10);
  }
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 6u);  // two per path
  const auto retry = bj::parse(requests[1].body).as_object();
  const auto& messages = retry.at("messages").as_array();
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[2].at("role"), "assistant");
  EXPECT_EQ(messages[2].at("content"), R"({"name":"Ada","age":"36"})");
  EXPECT_EQ(messages[3].at("role"), "user");
  const std::string feedback(messages[3].at("content").as_string());
  EXPECT_NE(feedback.find("/age: type: expected integer, got string"), std::string::npos) << feedback;
  EXPECT_EQ(retry.at("response_format"), bj::parse(requests[0].body).at("response_format"));
}

TEST_F(StructuredOutputTest, InvalidTwiceIsInvalidOutputErrorOnEveryPath) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(200, openai_completion(R"({"name":"Ada"})"));
  });
  auto p = openai(server);
  const auto outcomes = every_path(p, structured_request(), client_rt);
  for (const Outcome& o : outcomes) {
    ASSERT_EQ(o.error, errc::invalid_output);
    EXPECT_NE(o.message.find("after 2 attempts"), std::string::npos) << o.message;
    EXPECT_NE(o.message.find("(root): required: missing required property \"age\""), std::string::npos)
        << o.message;
    EXPECT_EQ(o.body, R"({"name":"Ada"})");
    EXPECT_EQ(o.partial_content, R"({"name":"Ada"})");
    EXPECT_EQ(o, outcomes[0]);
  }
  EXPECT_EQ(server.requests().size(), 6u);  // exactly one retry per path
  try {
    p->generate(structured_request());
    FAIL() << "no error";
  } catch (const InvalidOutputError& e) {
    ASSERT_NE(e.partial(), nullptr);
    EXPECT_EQ(e.partial()->usage.input_tokens, 20);
    EXPECT_EQ(e.provider(), "openai-compatible");
  }
}

TEST_F(StructuredOutputTest, NotJsonAndJsonObjectFormat) {
  std::atomic<int> calls{0};
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    return Transcript::response(200, openai_completion(calls++ == 0 ? "Sure, here it is" : "[1, 2]"));
  });
  auto p = openai(server);
  Request r = structured_request();
  r.options.response_format = ResponseFormat{ResponseFormat::Kind::json_object};
  const Outcome o = outcome_of([&] { return p->generate(r); });
  ASSERT_EQ(o.error, errc::invalid_output);
  EXPECT_NE(o.message.find("the output is not a JSON object"), std::string::npos) << o.message;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(bj::parse(requests[0].body).at("response_format"), bj::parse(R"({"type":"json_object"})"));
  const std::string feedback(bj::parse(requests[1].body).at("messages").at(3).at("content").as_string());
  EXPECT_NE(feedback.find("the output is not valid JSON"), std::string::npos) << feedback;
}

TEST_F(StructuredOutputTest, ToolCallsPassUnvalidatedAndBadSchemasFailBeforeAnyRequest) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(200, R"({"model":"gpt-test","choices":[{"index":0,"message":{
      "role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
      "function":{"name":"lookup","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})");
  });
  auto p = openai(server);
  Request r = structured_request();
  r.options.tools = {ToolDefinition{"lookup", "", R"({"type":"object"})"}};
  const Response resp = p->generate(r);
  ASSERT_EQ(resp.tool_calls.size(), 1u);
  EXPECT_EQ(server.requests().size(), 1u);
  r.options.response_format = ResponseFormat::json_schema(R"({"type":"strin"})");
  EXPECT_THROW(p->generate(r), InvalidArgumentError);
  r.options.response_format = ResponseFormat::json_schema(R"({"$ref":"#"})");
  EXPECT_THROW(p->generate(r), InvalidArgumentError);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(StructuredOutputTest, StreamingValidatesAtTheEndWithoutRestarting) {
  std::atomic<bool> valid{false};
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    const std::string content = valid ? R"({\"name\":\"Ada\",\"age\":36})" : R"({\"name\":1,\"age\":36})";
    std::vector<std::string> chunks = {
        "data: {\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + content + "\"}}]}\n\n",
        "data: {\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n"};
    return Transcript::chunked(200, chunks);
  });
  auto p = openai(server);
  auto drain = [&](Stream& s) {
    std::string text;
    try {
      for (const StreamEvent& e : s) {
        if (auto* t = std::get_if<TextDelta>(&e)) text += t->text;
      }
    } catch (const InvalidOutputError& e) {
      EXPECT_NE(std::string(e.what()).find("/name: type: expected string, got integer"), std::string::npos);
      EXPECT_EQ(e.body(), R"({"name":1,"age":36})");
      return "error after: " + text;
    }
    return text;
  };
  Stream bad = p->async_stream(structured_request());
  EXPECT_EQ(drain(bad), R"(error after: {"name":1,"age":36})");
  EXPECT_EQ(server.requests().size(), 1u);  // never restarted
  valid = true;
  Stream good = p->async_stream(structured_request());
  EXPECT_EQ(drain(good), R"({"name":"Ada","age":36})");
  ASSERT_TRUE(good.response());
  EXPECT_EQ(good.response()->content, R"({"name":"Ada","age":36})");
}

TEST_F(StructuredOutputTest, OllamaSendsTheSchemaAsFormat) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(200, R"({"model":"m","message":{"role":"assistant",
      "content":"{\"name\":\"Ada\",\"age\":36}"},"done":true,"done_reason":"stop"})");
  });
  auto p = create_llm("ollama", test::loopback_config(server.base_url(), "", "m"), client_rt);
  EXPECT_EQ(p->generate(structured_request()).content, R"({"name":"Ada","age":36})");
  ASSERT_EQ(server.requests().size(), 1u);
  const auto body = bj::parse(server.requests()[0].body);
  EXPECT_EQ(body.at("format"), bj::parse(kSchema));
  EXPECT_EQ(body.at("messages").at(0).at("content"), "be brief");
}

TEST_F(StructuredOutputTest, FakeProviderIsPromptedAndValidated) {
  auto fake = create_llm("fake", test::loopback_config("", "", ""), client_rt);
  Request ok = structured_request();
  ok.options.response_format = ResponseFormat::json_schema(
      R"({"type":"object","properties":{"text":{"type":"string","minLength":1}},"required":["text"]})");
  const auto good = every_path(fake, ok, client_rt);
  for (const Outcome& o : good) {
    EXPECT_FALSE(o.error) << o.message;
    EXPECT_TRUE(bj::parse(o.content).at("text").is_string());
    EXPECT_EQ(o, good[0]);
  }
  const auto bad = every_path(fake, structured_request(), client_rt);  // needs name and age
  for (const Outcome& o : bad) {
    ASSERT_EQ(o.error, errc::invalid_output);
    EXPECT_NE(o.message.find("fake: structured output invalid after 2 attempts"), std::string::npos)
        << o.message;
    EXPECT_NE(o.message.find("missing required property \"name\""), std::string::npos);
    EXPECT_EQ(o, bad[0]);
  }
}


TEST_F(StructuredOutputTest, CancellingDuringTheFeedbackRetryCancelsIt) {
  std::atomic<int> calls{0};
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    if (calls++ == 0) return Transcript::response(200, openai_completion(R"({"name":"Ada"})"));
    return Transcript{{testing::Step{testing::Step::Action::hang, std::chrono::milliseconds(0), {}}}, true};
  });
  auto p = openai(server);
  asio::cancellation_signal cancel;
  std::promise<Outcome> done;
  p->async_generate(structured_request(),
                    asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, Response r) {
                      done.set_value(outcome_of([&] {
                        if (e) std::rethrow_exception(e);
                        return r;
                      }));
                    }));
  for (int i = 0; i < 500 && server.requests().size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(server.requests().size(), 2u);  // the retry is in flight
  cancel.emit(asio::cancellation_type::terminal);
  auto result = done.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(result.get().error, errc::cancelled);
  EXPECT_EQ(server.requests().size(), 2u);
}

// ---- Anthropic: a forced tool ----------------------------------------------------------------

const char* kAnthropicToolAnswer = R"({"id":"msg_1","type":"message","role":"assistant",
  "model":"claude-test","content":[{"type":"tool_use","id":"toolu_1","name":"person",
  "input":{"name":"Ada","age":36}}],"stop_reason":"tool_use",
  "usage":{"input_tokens":30,"output_tokens":9}})";

const std::vector<std::string> kAnthropicToolStream = {
    R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-test","usage":{"input_tokens":30,"output_tokens":1}}})",
    R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"person","input":{}}})",
    R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"name\": \"Ada\","}})",
    R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":" \"age\": 36}"}})",
    R"({"type":"content_block_stop","index":0})",
    R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}})",
    R"({"type":"message_stop"})"};

TEST_F(StructuredOutputTest, AnthropicForcesOneToolAndTurnsItsInputIntoContent) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest& req) {
    if (bj::parse(req.body).as_object().contains("stream")) {
      return Transcript::chunked(200, test::sse_events(kAnthropicToolStream));
    }
    return Transcript::response(200, kAnthropicToolAnswer);
  });
  auto p = create_llm("anthropic", test::loopback_config(server.base_url(), "k", "claude-test"), client_rt);
  const Response r = p->generate(structured_request());
  EXPECT_EQ(bj::parse(r.content), bj::parse(R"({"name":"Ada","age":36})"));
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.finish_reason, FinishReason::stop);
  ASSERT_EQ(server.requests().size(), 1u);
  const auto body = bj::parse(server.requests()[0].body).as_object();
  ASSERT_EQ(body.at("tools").as_array().size(), 1u);
  EXPECT_EQ(body.at("tools").at(0).at("name"), "person");
  EXPECT_EQ(body.at("tools").at(0).at("input_schema"), bj::parse(kSchema));
  EXPECT_EQ(body.at("tool_choice"), bj::parse(R"({"type":"tool","name":"person"})"));
  EXPECT_EQ(body.at("system"), "be brief");  // native: no prompt instruction

  Stream s = p->async_stream(structured_request());
  std::string text;
  for (const StreamEvent& e : s) {
    EXPECT_FALSE(std::holds_alternative<ToolCallDelta>(e) || std::holds_alternative<ToolCallDone>(e));
    if (auto* t = std::get_if<TextDelta>(&e)) text += t->text;
    if (auto* f = std::get_if<Finish>(&e)) EXPECT_EQ(f->reason, FinishReason::stop);
  }
  EXPECT_EQ(text, R"({"name": "Ada", "age": 36})");
  ASSERT_TRUE(s.response());
  EXPECT_EQ(s.response()->content, text);
  EXPECT_TRUE(s.response()->tool_calls.empty());
}

TEST(AnthropicStructuredOutput, EncodingRules) {
  const providers::AnthropicSettings settings;
  auto encode = [&](const Request& r) {
    return bj::parse(providers::encode_anthropic_request(r, "m", settings, false)).as_object();
  };
  Request r = structured_request();
  r.options.response_format = ResponseFormat{ResponseFormat::Kind::json_object};
  auto body = encode(r);
  EXPECT_EQ(body.at("tools").at(0).at("name"), "response");  // the format's default name
  EXPECT_EQ(body.at("tools").at(0).at("input_schema"), bj::parse(R"({"type":"object"})"));
  // With tools of its own the model may call one of them or answer.
  r = structured_request();
  r.options.response_format.name = "not a tool name!";
  r.options.tools = {ToolDefinition{"lookup", "", R"({"type":"object"})"}};
  body = encode(r);
  ASSERT_EQ(body.at("tools").as_array().size(), 2u);
  EXPECT_EQ(body.at("tools").at(1).at("name"), "structured_output");
  EXPECT_EQ(body.at("tool_choice"), bj::parse(R"({"type":"any"})"));
  EXPECT_EQ(providers::anthropic_output_tool(r.options), "structured_output");
  // Not expressible: a clear error, not a silently different request.
  r = structured_request();
  r.options.reasoning_budget_tokens = 2048;
  EXPECT_THROW(encode(r), InvalidArgumentError);
  r = structured_request();
  r.options.response_format = ResponseFormat::json_schema(R"({"type":"array"})");
  EXPECT_THROW(encode(r), InvalidArgumentError);
  r = structured_request();
  r.options.tools = {ToolDefinition{"person", "", R"({"type":"object"})"}};
  EXPECT_THROW(encode(r), InvalidArgumentError);
  // Decoding without an output tool keeps tool_use blocks as tool calls.
  const Response plain = providers::decode_anthropic_response(kAnthropicToolAnswer, "anthropic");
  ASSERT_EQ(plain.tool_calls.size(), 1u);
  EXPECT_EQ(plain.finish_reason, FinishReason::tool_calls);
}

}  // namespace
}  // namespace llmux
