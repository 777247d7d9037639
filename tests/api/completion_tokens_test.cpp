// The same request through every completion token gives the same Response, and typed errors
// arrive typed through each.
#include <future>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "api/test_support.hpp"

namespace llmux {
namespace {

using test::hello_request;
using test::make_fake;
using test::without_timings;

const std::map<std::string, std::string> kTimed = {{"ttft_ms", "5"}, {"tokens_per_second", "2000"}};

Response via_awaitable(Runtime& rt, const std::shared_ptr<Provider>& p, Request req) {
  auto task = [p, req]() -> asio::awaitable<Response> {
    co_return co_await p->async_generate(req, asio::use_awaitable);
  };
  return asio::co_spawn(rt.get_executor(), task, asio::use_future).get();
}

Response via_future(const std::shared_ptr<Provider>& p, Request req) {
  return p->async_generate(std::move(req), asio::use_future).get();
}

Response via_deferred(const std::shared_ptr<Provider>& p, Request req) {
  auto op = p->async_generate(std::move(req), asio::deferred);
  return std::move(op)(asio::use_future).get();
}

Response via_callback(const std::shared_ptr<Provider>& p, Request req) {
  std::promise<Response> promise;
  p->async_generate(std::move(req), [&promise](std::exception_ptr e, Response r) {
    if (e) {
      promise.set_exception(e);
    } else {
      promise.set_value(std::move(r));
    }
  });
  return promise.get_future().get();
}

Response via_stream(const std::shared_ptr<Provider>& p, Request req) {
  Stream s = p->async_stream(std::move(req));
  while (s.next()) {
  }
  return *s.response();
}

TEST(CompletionTokens, EveryTokenGivesTheSameResponse) {
  Runtime rt(2);
  auto p = make_fake(rt.get_executor(), kTimed);
  Request req = hello_request();

  Response sync = p->generate(req);
  EXPECT_FALSE(sync.content.empty());
  EXPECT_EQ(sync.provider, "fake");
  EXPECT_EQ(sync.model, "fake-model");
  EXPECT_EQ(sync.finish_reason, FinishReason::stop);
  EXPECT_EQ(sync.usage.output_tokens, 16);
  EXPECT_GT(sync.usage.input_tokens, 0);
  EXPECT_EQ(sync.usage.total_tokens, sync.usage.input_tokens + sync.usage.output_tokens);
  EXPECT_GE(sync.timings.total, std::chrono::milliseconds(5));

  const Response expected = without_timings(sync);
  EXPECT_EQ(without_timings(via_awaitable(rt, p, req)), expected);
  EXPECT_EQ(without_timings(via_future(p, req)), expected);
  EXPECT_EQ(without_timings(via_deferred(p, req)), expected);
  EXPECT_EQ(without_timings(via_callback(p, req)), expected);
  EXPECT_EQ(without_timings(via_stream(p, req)), expected);
}

TEST(CompletionTokens, OutputDependsOnTheRequest) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor());
  Request a = hello_request();
  Request b = hello_request();
  b.messages.back() = Message::user("Something else entirely");
  EXPECT_NE(p->generate(a).content, p->generate(b).content);
  EXPECT_EQ(p->generate(a).content, p->generate(a).content);
}

template <class F>
void expect_rate_limit(F&& call, const char* token) {
  try {
    call();
    ADD_FAILURE() << token << ": no exception";
  } catch (const RateLimitError& e) {
    EXPECT_EQ(e.code(), errc::rate_limited) << token;
    EXPECT_EQ(e.provider(), "fake") << token;
    EXPECT_EQ(e.retry_after(), std::chrono::milliseconds(1200)) << token;
    ASSERT_NE(e.partial(), nullptr) << token;
    EXPECT_EQ(e.partial()->finish_reason, FinishReason::error) << token;
  } catch (const std::exception& e) {
    ADD_FAILURE() << token << ": wrong exception type: " << e.what();
  }
}

TEST(CompletionTokens, TypedErrorsArriveTypedThroughEveryToken) {
  Runtime rt(2);
  auto p = make_fake(rt.get_executor(), {{"fail", "rate_limited"}, {"retry_after_ms", "1200"}});
  Request req = hello_request();
  expect_rate_limit([&] { p->generate(req); }, "sync");
  expect_rate_limit([&] { via_awaitable(rt, p, req); }, "use_awaitable");
  expect_rate_limit([&] { via_future(p, req); }, "use_future");
  expect_rate_limit([&] { via_deferred(p, req); }, "deferred");
  expect_rate_limit([&] { via_callback(p, req); }, "callback");
  expect_rate_limit([&] { via_stream(p, req); }, "stream");
}

TEST(CompletionTokens, AwaitableCatchesTheTypedError) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor(), {{"fail", "overloaded"}});
  auto task = [p]() -> asio::awaitable<std::string> {
    try {
      co_await p->async_generate(hello_request(), asio::use_awaitable);
    } catch (const OverloadedError& e) {
      co_return std::string("caught:") + std::string(to_string(e.code()));
    }
    co_return "not caught";
  };
  EXPECT_EQ(asio::co_spawn(rt.get_executor(), task, asio::use_future).get(), "caught:overloaded");
}

TEST(CompletionTokens, CallbackRunsOnItsAssociatedExecutor) {
  Runtime rt(1);
  asio::io_context other;
  auto p = make_fake(rt.get_executor());
  bool ran_on_other = false;
  p->async_generate(hello_request(),
                    asio::bind_executor(other.get_executor(), [&](std::exception_ptr e, Response) {
                      EXPECT_FALSE(e);
                      ran_on_other = other.get_executor().running_in_this_thread();
                    }));
  // The handler is queued on `other`, so it runs inside this run() call.
  other.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(ran_on_other);
}

TEST(CompletionTokens, FakeHonoursMaxTokensStopAndTools) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor());
  Request req = hello_request();
  req.options.max_output_tokens = 3;
  Response r = p->generate(req);
  EXPECT_EQ(r.finish_reason, FinishReason::length);
  EXPECT_EQ(r.usage.output_tokens, 3);

  Request full = hello_request();
  std::string text = p->generate(full).content;
  auto space = text.find(' ', text.find(' ') + 1);  // the end of the second word
  ASSERT_NE(space, std::string::npos);
  const std::string stop = text.substr(space, 4);
  full.options.stop = {stop};
  Response stopped = p->generate(full);
  EXPECT_EQ(stopped.content, text.substr(0, text.find(stop)));
  EXPECT_LT(stopped.content.size(), text.size());
  EXPECT_EQ(stopped.finish_reason, FinishReason::stop);

  Request tools = hello_request();
  tools.messages.back() = Message::user("what is the weather? use get_weather");
  tools.options.tools = {ToolDefinition{"get_weather", "weather for a city", "{}"}};
  Response called = p->generate(tools);
  EXPECT_EQ(called.finish_reason, FinishReason::tool_calls);
  ASSERT_EQ(called.tool_calls.size(), 1u);
  EXPECT_EQ(called.tool_calls[0].name, "get_weather");
  EXPECT_FALSE(called.tool_calls[0].id.empty());
  EXPECT_TRUE(called.content.empty());

  tools.messages.push_back(Message::assistant("", called.tool_calls));
  tools.messages.push_back(Message::tool_result(called.tool_calls[0].id, "sunny"));
  EXPECT_EQ(p->generate(tools).finish_reason, FinishReason::stop);
}

}  // namespace
}  // namespace llmux
