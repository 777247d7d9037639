// The tool loop (llmux/tools.hpp) against the loopback test server: sync and awaitable tools,
// parallel calls, errors and timeouts fed back to the model, the step limit, cancellation.
#include <atomic>
#include <thread>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
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
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace bj = boost::json;

std::string tool_use_message(const std::vector<ToolCall>& calls) {
  bj::array content;
  for (const auto& c : calls) {
    content.push_back({{"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", bj::parse(c.arguments)}});
  }
  return bj::serialize(bj::object{{"type", "message"},
                                  {"model", "m"},
                                  {"content", std::move(content)},
                                  {"stop_reason", "tool_use"},
                                  {"usage", {{"input_tokens", 1}, {"output_tokens", 1}}}});
}

const char* kFinal = R"({"type":"message","model":"m","content":[{"type":"text","text":"Done."}],
  "stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}})";

ToolDefinition def(std::string name) { return {std::move(name), "test tool", R"({"type":"object"})"}; }

class ToolLoopTest : public ::testing::Test {
 protected:
  std::shared_ptr<Provider> anthropic(const TestServer& server) {
    return create_llm("anthropic", test::loopback_config(server.base_url(), "k", "m"), client_rt);
  }
  // The tool results of the last request, by tool_use_id.
  static std::map<std::string, std::string> results_of(const RecordedRequest& r) {
    std::map<std::string, std::string> out;
    auto msgs = bj::parse(r.body).at("messages").as_array();
    for (const auto& block : msgs.back().at("content").as_array()) {
      if (block.at("type") == "tool_result") {
        out[block.at("tool_use_id").as_string().c_str()] = block.at("content").as_string().c_str();
      }
    }
    return out;
  }
  Runtime server_rt{1};
  Runtime client_rt{2};
};

TEST_F(ToolLoopTest, SyncAndAwaitableToolsRunInParallelAndResultsGoBack) {
  int step = 0;
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    if (step++ == 0) {
      return Transcript::response(200, tool_use_message({{"t1", "get_weather", R"({"city":"Paris"})"},
                                                         {"t2", "get_time", R"({"tz":"CET"})"}}));
    }
    return Transcript::response(200, kFinal);
  });
  ToolSet tools;
  // The blocking tool waits (bounded) until the awaitable one has started: both run at once.
  std::atomic<bool> async_started{false}, overlapped{false};
  tools.add(def("get_weather"), [&](std::string_view args) {
    for (int i = 0; i < 400 && !async_started; ++i) std::this_thread::sleep_for(5ms);
    overlapped = async_started.load();
    auto city = bj::parse(args).at("city").as_string();
    return std::string("sunny in ") + city.c_str();
  });
  tools.add_async(def("get_time"), [&](std::string args) -> asio::awaitable<std::string> {
    async_started = true;
    asio::steady_timer t(co_await asio::this_coro::executor, 50ms);
    co_await t.async_wait(asio::use_awaitable);
    co_return "12:00 " + std::string(bj::parse(args).at("tz").as_string().c_str());
  });
  Request req;
  req.messages = {Message::user("weather and time?")};
  ToolLoopResult r = run_tools(anthropic(server), req, tools);
  EXPECT_EQ(r.steps, 2u);
  EXPECT_FALSE(r.step_limit_reached);
  EXPECT_EQ(r.response.content, "Done.");
  ASSERT_EQ(r.runs.size(), 2u);
  EXPECT_EQ(r.runs[0].result, "sunny in Paris");
  EXPECT_EQ(r.runs[1].result, "12:00 CET");
  EXPECT_FALSE(r.runs[0].error);
  EXPECT_TRUE(overlapped.load());  // both tools ran at once
  // History: user, assistant (tool calls), two tool results, final assistant.
  ASSERT_EQ(r.messages.size(), 5u);
  EXPECT_EQ(r.messages[1].tool_calls.size(), 2u);
  EXPECT_EQ(r.messages[3].tool_call_id, "t2");
  EXPECT_EQ(r.messages[4].text(), "Done.");
  // The second request carried the tools and the results.
  auto second = server.requests().at(1);
  EXPECT_EQ(results_of(second), (std::map<std::string, std::string>{{"t1", "sunny in Paris"},
                                                                    {"t2", "12:00 CET"}}));
  EXPECT_EQ(bj::parse(second.body).at("tools").as_array().size(), 2u);
}

TEST_F(ToolLoopTest, ErrorsAndTimeoutsAreFedBackToTheModel) {
  int step = 0;
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    if (step++ == 0) {
      return Transcript::response(200, tool_use_message({{"a", "throws", "{}"},
                                                         {"b", "no_such_tool", "{}"},
                                                         {"c", "slow_sync", "{}"},
                                                         {"d", "slow_async", "{}"},
                                                         {"e", "async_throws", "{}"}}));
    }
    return Transcript::response(200, kFinal);
  });
  std::atomic<bool> async_cancelled{false};
  ToolSet tools;
  tools.add(def("throws"), [](std::string_view) -> std::string { throw std::runtime_error("boom"); });
  tools.add(def("slow_sync"), [](std::string_view) {
    std::this_thread::sleep_for(1500ms);
    return std::string("late");
  });
  tools.add_async(def("slow_async"), [&](std::string) -> asio::awaitable<std::string> {
    asio::steady_timer t(co_await asio::this_coro::executor, 10s);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) async_cancelled = true;
    co_return "late";
  });
  tools.add_async(def("async_throws"), [](std::string) -> asio::awaitable<std::string> {
    throw std::invalid_argument("bad city");
    co_return "";
  });
  Request req;
  req.messages = {Message::user("go")};
  auto t0 = Clock::now();
  ToolLoopResult r = run_tools(anthropic(server), req, tools, {.max_steps = 4, .tool_timeout = 100ms});
  EXPECT_LT(Clock::now() - t0, 1400ms);  // the slow sync tool was not waited for
  EXPECT_EQ(r.steps, 2u);
  auto results = results_of(server.requests().at(1));
  EXPECT_EQ(results["a"], "error: boom");
  EXPECT_EQ(results["b"], "error: unknown tool 'no_such_tool'");
  EXPECT_EQ(results["c"], "error: tool 'slow_sync' timed out after 100 ms");
  EXPECT_EQ(results["d"], "error: tool 'slow_async' timed out after 100 ms");
  EXPECT_EQ(results["e"], "error: bad city");
  for (const auto& run : r.runs) EXPECT_TRUE(run.error) << run.call.name;
  EXPECT_TRUE(async_cancelled.load());
}

TEST_F(ToolLoopTest, InvalidArgumentsFromAnOpenAIModelBecomeAnErrorResult) {
  int step = 0;
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    if (step++ == 0) {
      return Transcript::response(200, R"({"choices":[{"index":0,"message":{"role":"assistant","tool_calls":[
          {"id":"x1","type":"function","function":{"name":"echo","arguments":"{\"a\":"}}]},"finish_reason":"tool_calls"}]})");
    }
    return Transcript::response(200, R"({"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]})");
  });
  bool called = false;
  ToolSet tools;
  tools.add(def("echo"), [&](std::string_view a) {
    called = true;
    return std::string(a);
  });
  auto p = create_llm("openai-compatible", test::loopback_config(server.base_url(), "", "m"), client_rt);
  ToolLoopResult r = run_tools(p, test::ask("hi"), tools);
  EXPECT_FALSE(called);
  ASSERT_EQ(r.runs.size(), 1u);
  EXPECT_TRUE(r.runs[0].result.starts_with("error: the arguments are not a JSON object")) << r.runs[0].result;
  auto msgs = bj::parse(server.requests().at(1).body).at("messages").as_array();
  EXPECT_EQ(msgs.back().at("role").as_string(), "tool");
  EXPECT_EQ(msgs.back().at("tool_call_id").as_string(), "x1");
}

TEST_F(ToolLoopTest, StepLimitAndForcedChoiceOnlyOnTheFirstStep) {
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    return Transcript::response(200, tool_use_message({{"t" + std::to_string(std::rand()), "ping", "{}"}}));
  });
  int calls = 0;
  ToolSet tools;
  tools.add(def("ping"), [&](std::string_view) {
    ++calls;
    return std::string("pong");
  });
  Request req;
  req.messages = {Message::user("ping forever")};
  req.options.tool_choice = ToolChoice{ToolChoice::Mode::required, ""};
  ToolLoopResult r = run_tools(anthropic(server), req, tools, {.max_steps = 3});
  EXPECT_EQ(r.steps, 3u);
  EXPECT_TRUE(r.step_limit_reached);
  EXPECT_EQ(calls, 2);  // the last step's call is not run
  EXPECT_EQ(r.response.finish_reason, FinishReason::tool_calls);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(bj::parse(requests[0].body).at("tool_choice").at("type").as_string(), "any");
  EXPECT_EQ(bj::parse(requests[1].body).at("tool_choice").at("type").as_string(), "auto");
  EXPECT_THROW(run_tools(anthropic(server), req, tools, {.max_steps = 0}), InvalidArgumentError);
}

TEST_F(ToolLoopTest, CancellationStopsALoopWaitingForItsTools) {
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    return Transcript::response(200, tool_use_message({{"t1", "wait", "{}"}, {"t2", "wait", "{}"}}));
  });
  std::atomic<int> started{0}, cancelled{0};
  ToolSet tools;
  tools.add_async(def("wait"), [&](std::string) -> asio::awaitable<std::string> {
    ++started;
    asio::steady_timer t(co_await asio::this_coro::executor, 10s);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) ++cancelled;
    co_return "never";
  });
  asio::cancellation_signal signal;
  auto fut = async_run_tools(anthropic(server), test::ask("x"), tools, {},
                             asio::bind_cancellation_slot(signal.slot(), asio::use_future));
  for (int i = 0; i < 200 && started < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(started.load(), 2);
  auto t0 = Clock::now();
  asio::post(client_rt.get_executor(), [&] { signal.emit(asio::cancellation_type::terminal); });
  EXPECT_THROW(fut.get(), CancelledError);
  EXPECT_LT(Clock::now() - t0, 2s);
  for (int i = 0; i < 200 && cancelled < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(cancelled.load(), 2);  // both running tools were told
}

TEST_F(ToolLoopTest, ToolSetValidation) {
  ToolSet tools;
  EXPECT_THROW(tools.add(def(""), [](std::string_view) { return std::string(); }), InvalidArgumentError);
  EXPECT_THROW(tools.add(def("f"), SyncToolFunction{}), InvalidArgumentError);
  EXPECT_THROW(tools.add({"f", "", "[1]"}, [](std::string_view) { return std::string(); }),
               InvalidArgumentError);
  tools.add(def("a"), [](std::string_view) { return std::string(); });
  tools.add(def("b"), [](std::string_view) { return std::string(); });
  tools.add({"a", "replaced", "{}"}, [](std::string_view) { return std::string(); });
  auto defs = tools.definitions();
  ASSERT_EQ(defs.size(), 2u);
  EXPECT_EQ(defs[0].description, "replaced");
  EXPECT_TRUE(tools.contains("b"));
  EXPECT_FALSE(tools.contains("c"));
}

}  // namespace
}  // namespace llmux
