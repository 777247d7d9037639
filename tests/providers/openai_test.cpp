// The OpenAI-compatible providers against the loopback test server.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "http/http_test_support.hpp"

namespace llmux {
namespace {

using testing::RecordedRequest;
using testing::Step;
using testing::TestServer;
using testing::Transcript;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace bj = boost::json;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// One SSE piece per chunk, so chunks arrive in separate reads.
std::vector<std::string> sse_pieces(const std::vector<std::string>& datas) {
  std::vector<std::string> out;
  for (const auto& d : datas) out.push_back("data: " + d + "\r\n\r\n");
  return out;
}

const char* kCompletion = R"({"id":"chatcmpl-1","object":"chat.completion","model":"gpt-test",
  "choices":[{"index":0,"message":{"role":"assistant","content":"Hello there","reasoning_content":"think"},
  "finish_reason":"stop"}],
  "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,
           "prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":1}}})";

const std::vector<std::string> kStreamChunks = {
    R"({"model":"gpt-test","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"think"}}]})",
    R"({"model":"gpt-test","choices":[{"index":0,"delta":{"content":"Hello"}}]})",
    R"({"model":"gpt-test","choices":[{"index":0,"delta":{"content":" there"},"finish_reason":"stop"}]})",
    R"({"model":"gpt-test","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":1}}})",
    "[DONE]"};

class OpenAIProviderTest : public ::testing::Test {
 protected:
  std::shared_ptr<Provider> provider(const TestServer& server, std::string name = "openai-compatible",
                                     ProviderConfig config = {}) {
    config.base_url = server.base_url() + "/v1";
    if (config.model.empty()) config.model = "gpt-test";
    if (config.api_key.empty()) config.api_key = "sk-test";
    config.use_environment = false;
    return create_llm(name, std::move(config), client_rt);
  }
  static Request request() {
    Request r;
    r.messages = {Message::system("be brief"), Message::user("hi")};
    return r;
  }
  Runtime server_rt{1};
  Runtime client_rt{1};
};

TEST_F(OpenAIProviderTest, NonStreamingResponseAndRequestShape) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(200, kCompletion, "application/json",
                                {{"x-request-id", "req_42"}, {"x-ratelimit-remaining-requests", "99"}});
  });
  auto p = provider(server, "openai");
  Request req = request();
  req.options.temperature = 0.5;
  req.options.max_output_tokens = 64;
  req.options.stop = {"END"};
  req.options.seed = 7;
  req.options.tools = {ToolDefinition{"get_weather", "Weather", R"({"type":"object"})"}};
  req.options.tool_choice = ToolChoice::tool("get_weather");
  // response_format (validated against the answer): tests/providers/structured_output_test.cpp
  req.options.reasoning_effort = ReasoningEffort::low;
  req.options.extra_body = R"({"user":"u1","temperature":0.25})";
  Response r = p->generate(req);
  EXPECT_EQ(r.content, "Hello there");
  EXPECT_EQ(r.reasoning, "think");
  EXPECT_EQ(r.finish_reason, FinishReason::stop);
  EXPECT_EQ(r.usage.input_tokens, 12);
  EXPECT_EQ(r.usage.output_tokens, 3);
  EXPECT_EQ(r.usage.total_tokens, 15);
  EXPECT_EQ(r.usage.cached_input_tokens, 8);
  EXPECT_EQ(r.usage.reasoning_tokens, 1);
  EXPECT_EQ(r.model, "gpt-test");
  EXPECT_EQ(r.provider, "openai");
  EXPECT_EQ(r.request_id, "req_42");
  ASSERT_EQ(r.rate_limits.size(), 1u);
  EXPECT_EQ(r.rate_limits[0].second, "99");

  auto sent = server.requests().at(0);
  EXPECT_EQ(sent.target, "/v1/chat/completions");
  EXPECT_EQ(sent.header("Authorization"), "Bearer sk-test");
  auto body = bj::parse(sent.body).as_object();
  EXPECT_EQ(body.at("model").as_string(), "gpt-test");
  EXPECT_EQ(body.at("messages").as_array().size(), 2u);
  EXPECT_EQ(body.at("messages").at(0).at("role").as_string(), "system");
  EXPECT_EQ(body.at("temperature").as_double(), 0.25);  // extra_body is merged last
  EXPECT_EQ(body.at("user").as_string(), "u1");
  EXPECT_EQ(body.at("max_completion_tokens").as_int64(), 64);
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_EQ(body.at("stop").at(0).as_string(), "END");
  EXPECT_EQ(body.at("seed").as_int64(), 7);
  EXPECT_EQ(body.at("tool_choice").at("function").at("name").as_string(), "get_weather");
  EXPECT_EQ(body.at("tools").at(0).at("function").at("parameters").at("type").as_string(), "object");
  EXPECT_EQ(body.at("reasoning_effort").as_string(), "low");
  EXPECT_FALSE(body.contains("stream"));
  EXPECT_FALSE(body.contains("top_p"));  // unset options are not sent
}

TEST_F(OpenAIProviderTest, StreamAndGenerateGiveTheSameResponse) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest& r) {
    auto body = bj::parse(r.body).as_object();
    if (body.contains("stream")) return Transcript::chunked(200, sse_pieces(kStreamChunks), 0ms, 5ms);
    return Transcript::response(200, kCompletion);
  });
  auto p = provider(server, "vllm");
  Response whole = p->generate(request());
  Stream s = p->async_stream(request());
  std::vector<StreamEvent> events;
  while (auto e = s.next()) events.push_back(*e);
  Response streamed = *s.response();
  EXPECT_EQ(streamed.content, whole.content);
  EXPECT_EQ(streamed.reasoning, whole.reasoning);
  EXPECT_EQ(streamed.usage, whole.usage);
  EXPECT_EQ(streamed.finish_reason, whole.finish_reason);
  EXPECT_EQ(streamed.model, whole.model);
  EXPECT_TRUE(streamed.timings.time_to_first_token.has_value());
  ASSERT_EQ(events.size(), 5u);  // reasoning, 2 text, usage, finish
  EXPECT_EQ(std::get<ReasoningDelta>(events[0]).text, "think");
  EXPECT_EQ(std::get<TextDelta>(events[1]).text, "Hello");
  EXPECT_EQ(std::get<UsageEvent>(events[3]).usage.cached_input_tokens, 8);
  EXPECT_EQ(std::get<Finish>(events[4]).reason, FinishReason::stop);
  auto sent = bj::parse(server.requests().at(1).body).as_object();
  EXPECT_TRUE(sent.at("stream").as_bool());
  EXPECT_TRUE(sent.at("stream_options").at("include_usage").as_bool());
}

TEST_F(OpenAIProviderTest, ToolCallDeltasMergeByIndexAndWithoutOne) {
  const std::vector<std::string> chunks = {
      // Two parallel calls by index, arguments split across chunks.
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"ci"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":""}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Paris\"}"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"tz\":\"CET\"}"}}]}}]})",
      // A whole third call in one chunk, without an index.
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_c","type":"function","function":{"name":"noop","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})",
      "[DONE]"};
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    return Transcript::chunked(200, sse_pieces(chunks));
  });
  auto p = provider(server);
  Stream s = p->async_stream(request());
  std::vector<ToolCallDone> done;
  while (auto e = s.next()) {
    if (auto* d = std::get_if<ToolCallDone>(&*e)) done.push_back(*d);
  }
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].call, (ToolCall{"call_a", "get_weather", R"({"city":"Paris"})"}));
  EXPECT_EQ(done[1].call, (ToolCall{"call_b", "get_time", R"({"tz":"CET"})"}));
  EXPECT_EQ(done[2].call, (ToolCall{"call_c", "noop", "{}"}));
  EXPECT_EQ(s.response()->finish_reason, FinishReason::tool_calls);
  EXPECT_EQ(s.response()->tool_calls.size(), 3u);
}

TEST_F(OpenAIProviderTest, HttpErrorsMapToTypedErrors) {
  struct Case {
    int status;
    std::string body;
    errc expected;
  };
  const std::vector<Case> cases = {
      {400, R"({"error":{"message":"bad field","type":"invalid_request_error"}})", errc::invalid_request},
      {400, R"({"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}})",
       errc::context_length_exceeded},
      {401, R"({"error":{"message":"Incorrect API key","code":"invalid_api_key"}})", errc::authentication},
      {403, R"({"error":{"message":"no access"}})", errc::permission_denied},
      {404, R"({"error":{"message":"The model `x` does not exist","code":"model_not_found"}})", errc::model_not_found},
      {429, R"({"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}})", errc::rate_limited},
      {500, "internal oops", errc::server_error},
      {503, "", errc::overloaded},
  };
  std::size_t next = 0;
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    const Case& c = cases[next++];
    return Transcript::response(c.status, c.body, "application/json",
                                {{"Retry-After", "2"}, {"x-request-id", "req_err"}});
  });
  auto p = provider(server);
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.status) + " " + c.body);
    try {
      p->generate(request());
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), c.expected) << e.what();
      EXPECT_EQ(e.http_status(), c.status);
      EXPECT_EQ(e.provider(), "openai-compatible");
      EXPECT_EQ(e.request_id(), "req_err");
      EXPECT_NE(std::string(e.what()).find("req_err"), std::string::npos);
      EXPECT_EQ(e.retry_after(), std::chrono::milliseconds(2000));
      EXPECT_EQ(e.body(), c.body);
    }
  }
}

TEST_F(OpenAIProviderTest, RateLimitRetryAfterAsMillisecondsAndDate) {
  int n = 0;
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    if (n++ == 0) return Transcript::response(429, "{}", "application/json", {{"retry-after-ms", "250"}});
    return Transcript::response(429, "{}", "application/json",
                                {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}});
  });
  auto p = provider(server);
  try {
    p->generate(request());
  } catch (const RateLimitError& e) {
    EXPECT_EQ(e.retry_after(), std::chrono::milliseconds(250));
  }
  try {
    p->generate(request());
  } catch (const RateLimitError& e) {
    EXPECT_EQ(e.retry_after(), std::chrono::milliseconds(0));  // a date in the past
  }
  EXPECT_EQ(n, 2);
}

TEST_F(OpenAIProviderTest, ResetMidStreamKeepsThePartialContent) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    auto t = Transcript::chunked(200, sse_pieces({kStreamChunks[1]}));
    t.steps.pop_back();  // no terminating chunk
    t.then({Step::Action::reset, 20ms, {}});
    return t;
  });
  auto p = provider(server);
  Stream s = p->async_stream(request());
  std::string seen;
  try {
    while (auto e = s.next()) seen += std::get<TextDelta>(*e).text;
    FAIL() << "no error";
  } catch (const ConnectionError& e) {
    ASSERT_NE(e.partial(), nullptr);
    EXPECT_EQ(e.partial()->content, "Hello");
    EXPECT_EQ(e.provider(), "openai-compatible");
  }
  EXPECT_EQ(seen, "Hello");
}

TEST_F(OpenAIProviderTest, ErrorObjectAfterA200) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::chunked(
        200, sse_pieces({kStreamChunks[1],
                         R"({"error":{"message":"The server is overloaded","type":"overloaded_error"}})"}));
  });
  auto p = provider(server);
  try {
    p->generate(request());  // a JSON body that is an error object
  } catch (const Error&) {
  }
  Stream s = p->async_stream(request());
  try {
    while (s.next()) {
    }
    FAIL() << "no error";
  } catch (const OverloadedError& e) {
    ASSERT_NE(e.partial(), nullptr);
    EXPECT_EQ(e.partial()->content, "Hello");
  }
}

TEST_F(OpenAIProviderTest, InvalidJsonIsAProtocolError) {
  int n = 0;
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    if (n++ == 0) return Transcript::response(200, "{not json");
    return Transcript::chunked(200, sse_pieces({"{broken"}));
  });
  auto p = provider(server);
  EXPECT_THROW(p->generate(request()), ProtocolError);
  Stream s = p->async_stream(request());
  EXPECT_THROW(while (s.next()) {}, ProtocolError);
}

TEST_F(OpenAIProviderTest, StreamEndingWithoutFinishIsAnError) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::chunked(200, sse_pieces({kStreamChunks[1]}));
  });
  auto p = provider(server);
  Stream s = p->async_stream(request());
  EXPECT_THROW(while (s.next()) {}, ProtocolError);
}

TEST_F(OpenAIProviderTest, TimeoutsFire) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest& r) {
    if (r.body.find("\"stream\"") == std::string::npos) {
      return Transcript{{Step{Step::Action::hang, 0ms, {}}}, true};
    }
    return Transcript::chunked(200, sse_pieces({kStreamChunks[1], kStreamChunks[2]}), 0ms, 2000ms);
  });
  ProviderConfig config;
  config.timeouts.first_token = 100ms;
  config.timeouts.idle = 100ms;
  auto p = provider(server, "openai-compatible", config);
  const auto t0 = Clock::now();
  try {
    p->generate(request());
    FAIL();
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("first byte"), std::string::npos) << e.what();
  }
  EXPECT_LT(ms_since(t0), 1000.0);
  Stream s = p->async_stream(request());
  try {
    while (s.next()) {
    }
    FAIL();
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("idle"), std::string::npos) << e.what();
    ASSERT_NE(e.partial(), nullptr);
    EXPECT_EQ(e.partial()->content, "Hello");
  }
}

TEST_F(OpenAIProviderTest, CancellingAStreamClosesTheConnectionAtOnce) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::chunked(200, sse_pieces({kStreamChunks[1], kStreamChunks[2]}), 0ms, 300ms);
  });
  auto p = provider(server);
  Stream s = p->async_stream(request());
  ASSERT_TRUE(s.next().has_value());  // "Hello"
  auto pending = s.async_next(asio::use_future);
  const auto t0 = Clock::now();
  s.cancel();
  EXPECT_THROW(pending.get(), CancelledError);
  EXPECT_LT(ms_since(t0), 50.0);
  const auto t1 = Clock::now();
  while (server.connections_open() > 0 && ms_since(t1) < 2000) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(server.connections_open(), 0u);
}

TEST_F(OpenAIProviderTest, TlsWithATestCa) {
  TestServer server(server_rt.get_executor(),
                    [](const RecordedRequest&) { return Transcript::response(200, kCompletion); }, 0,
                    testing::TlsFiles{test::tls_file("server.pem"), test::tls_file("server.key")});
  ProviderConfig config;
  config.ca_file = test::tls_file("ca.pem");
  auto p = provider(server, "openai-compatible", config);
  EXPECT_EQ(p->generate(request()).content, "Hello there");
  auto untrusted = provider(server);
  EXPECT_THROW(untrusted->generate(request()), ConnectionError);
}

TEST_F(OpenAIProviderTest, ModelListing) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest& r) {
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/v1/models");
    return Transcript::response(
        200, R"({"object":"list","data":[{"id":"m1","owned_by":"me","created":1700000000},{"id":"m2"}]})");
  });
  auto p = provider(server);
  auto models = p->list_models();
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0], (ModelInfo{"m1", "me", 1700000000}));
  EXPECT_EQ(models[1].id, "m2");
}

TEST_F(OpenAIProviderTest, DialectDifferences) {
  TestServer server(server_rt.get_executor(),
                    [](const RecordedRequest&) { return Transcript::response(200, kCompletion); });
  Request req = request();
  req.options.top_k = 40;
  req.options.max_output_tokens = 10;
  req.options.reasoning_effort = ReasoningEffort::high;
  EXPECT_THROW(provider(server, "openai")->generate(req), InvalidArgumentError);
  EXPECT_TRUE(server.requests().empty());  // rejected before anything was sent

  ProviderConfig config;
  config.options = {{"app_name", "my app"}};
  provider(server, "openrouter", config)->generate(req);
  auto sent = server.requests().back();
  EXPECT_EQ(sent.header("X-Title"), "my app");
  EXPECT_FALSE(sent.header("HTTP-Referer").empty());
  auto body = bj::parse(sent.body).as_object();
  EXPECT_EQ(body.at("top_k").as_int64(), 40);
  EXPECT_EQ(body.at("max_tokens").as_int64(), 10);
  EXPECT_EQ(body.at("reasoning").at("effort").as_string(), "high");

  ProviderConfig bad;
  bad.options = {{"bogus", "1"}};
  EXPECT_THROW(provider(server, "vllm", bad), InvalidArgumentError);
  ProviderConfig no_url;
  no_url.use_environment = false;
  EXPECT_THROW(create_llm("openai-compatible", no_url, client_rt), InvalidArgumentError);
  no_url.base_url = "not a url";
  EXPECT_THROW(create_llm("openai-compatible", no_url, client_rt), InvalidArgumentError);
  ProviderConfig keyless;
  keyless.use_environment = false;
  EXPECT_THROW(create_llm("openai", keyless, client_rt), AuthenticationError);
}

TEST_F(OpenAIProviderTest, ConversationWithToolResultsRoundTrips) {
  TestServer server(server_rt.get_executor(),
                    [](const RecordedRequest&) { return Transcript::response(200, kCompletion); });
  Request req = request();
  req.messages.push_back(Message::assistant("", {ToolCall{"call_1", "get_weather", R"({"city":"Oslo"})"}}));
  req.messages.push_back(Message::tool_result("call_1", "sunny"));
  provider(server)->generate(req);
  auto msgs = bj::parse(server.requests().at(0).body).at("messages").as_array();
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_TRUE(msgs[2].at("content").is_null());
  EXPECT_EQ(msgs[2].at("tool_calls").at(0).at("function").at("arguments").as_string(), R"({"city":"Oslo"})");
  EXPECT_EQ(msgs[3].at("role").as_string(), "tool");
  EXPECT_EQ(msgs[3].at("tool_call_id").as_string(), "call_1");
  EXPECT_EQ(msgs[3].at("content").as_string(), "sunny");
}

TEST_F(OpenAIProviderTest, SyncAndAsyncPathsGiveIdenticalResponsesForEveryTranscript) {
  const std::vector<std::string> bodies = {
      kCompletion,
      R"({"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,
         "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
         "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":7}})",
      R"({"model":"m","choices":[{"index":0,"message":{"content":"cut"},"finish_reason":"length"}]})",
      R"({"model":"m","choices":[{"index":0,"message":{"content":""},"finish_reason":"content_filter"}]})"};
  std::size_t index = 0;
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    return Transcript::response(200, bodies[index / 2]);  // each transcript answers twice
  });
  auto p = provider(server);
  for (; index < 2 * bodies.size();) {
    SCOPED_TRACE(bodies[index / 2]);
    Response sync = p->generate(request());
    ++index;
    auto task = [p]() -> asio::awaitable<Response> {
      co_return co_await p->async_generate(request(), asio::use_awaitable);
    };
    Response async = asio::co_spawn(client_rt.get_executor(), task, asio::use_future).get();
    ++index;
    sync.timings = {};
    async.timings = {};
    EXPECT_EQ(sync, async);
  }
  EXPECT_EQ(server.requests().size(), 2 * bodies.size());
}

TEST_F(OpenAIProviderTest, ThousandConcurrentRequestsOnOneThread) {
  test::raise_fd_limit();
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(200, kCompletion).delayed(100ms);
  });
  ProviderConfig config;
  config.max_connections = 1000;
  auto p = provider(server, "openai-compatible", config);
  double best = 1e9;
  for (int round = 0; round < 3 && best >= 300.0; ++round) {
    std::atomic<int> ok{0};
    std::atomic<int> remaining{1000};
    std::promise<void> done;
    const auto t0 = Clock::now();
    for (int i = 0; i < 1000; ++i) {
      p->async_generate(request(), [&](std::exception_ptr e, Response r) {
        if (!e && r.content == "Hello there") ok.fetch_add(1);
        if (remaining.fetch_sub(1) == 1) done.set_value();
      });
    }
    done.get_future().wait();
    best = std::min(best, ms_since(t0));
    EXPECT_EQ(ok.load(), 1000);
  }
#ifndef LLMUX_SANITIZED
  EXPECT_LT(best, 300.0);
#else
  EXPECT_LT(best, 5000.0);
#endif
}

}  // namespace
}  // namespace llmux
