// Stream semantics: event order, the assembled response, errors after the first event.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "api/test_support.hpp"

namespace llmux {
namespace {

using test::hello_request;
using test::make_fake;
using test::without_timings;

TEST(Stream, EventsArriveInOrderAndEndWithUsageAndFinish) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor(), {{"ttft_ms", "2"}, {"tokens_per_second", "5000"},
                                         {"output_tokens", "8"}});
  Stream s = p->async_stream(hello_request());
  std::vector<StreamEvent> events;
  while (auto e = s.next()) events.push_back(*e);
  ASSERT_EQ(events.size(), 8u + 2u);
  std::string text;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(std::holds_alternative<TextDelta>(events[i])) << i;
    text += std::get<TextDelta>(events[i]).text;
  }
  ASSERT_TRUE(std::holds_alternative<UsageEvent>(events[8]));
  EXPECT_EQ(std::get<UsageEvent>(events[8]).usage.output_tokens, 8);
  ASSERT_TRUE(std::holds_alternative<Finish>(events[9]));
  EXPECT_EQ(std::get<Finish>(events[9]).reason, FinishReason::stop);
  EXPECT_EQ(s.next(), std::nullopt);  // stays ended

  ASSERT_TRUE(s.response());
  EXPECT_EQ(s.response()->content, text);
  EXPECT_TRUE(s.response()->timings.time_to_first_token.has_value());
  EXPECT_EQ(without_timings(*s.response()), without_timings(p->generate(hello_request())));
}

TEST(Stream, ToolCallsStreamAsDeltaThenDone) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor());
  Request req = hello_request();
  req.options.tools = {ToolDefinition{"lookup", "", "{}"}};
  req.options.tool_choice = ToolChoice{ToolChoice::Mode::required, {}};
  Stream s = p->async_stream(req);
  std::vector<StreamEvent> events;
  for (const auto& e : s) events.push_back(e);
  ASSERT_EQ(events.size(), 4u);
  auto& delta = std::get<ToolCallDelta>(events[0]);
  auto& done = std::get<ToolCallDone>(events[1]);
  EXPECT_EQ(delta.name, "lookup");
  EXPECT_EQ(done.call.name, "lookup");
  EXPECT_EQ(done.call.id, delta.id);
  EXPECT_EQ(std::get<Finish>(events[3]).reason, FinishReason::tool_calls);
  EXPECT_EQ(s.response()->tool_calls, std::vector<ToolCall>{done.call});
}

TEST(Stream, FailureAfterTheFirstEventsCarriesThePartialContent) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor(), {{"fail", "server_error"}, {"fail_after_tokens", "3"}});
  auto task = [p]() -> asio::awaitable<std::pair<std::string, std::string>> {
    Stream s = p->async_stream(hello_request());
    std::string seen;
    try {
      while (auto e = co_await s.async_next(asio::use_awaitable)) {
        seen += std::get<TextDelta>(*e).text;
      }
    } catch (const ServerError& err) {
      co_return std::pair{seen, err.partial() ? err.partial()->content : std::string("none")};
    }
    co_return std::pair{seen, std::string("no error")};
  };
  auto [seen, partial] = asio::co_spawn(rt.get_executor(), task, asio::use_future).get();
  EXPECT_FALSE(seen.empty());
  EXPECT_EQ(partial, seen);
}

TEST(Stream, SecondConcurrentNextIsRejected) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor(), {{"ttft_ms", "200"}});
  Stream s = p->async_stream(hello_request());
  auto first = s.async_next(asio::use_future);
  auto second = s.async_next(asio::use_future);
  EXPECT_THROW(second.get(), InvalidArgumentError);
  EXPECT_TRUE(std::holds_alternative<TextDelta>(*first.get()));
}

TEST(Stream, EventsBeforeTheFirstNextAreKept) {
  Runtime rt(1);
  auto p = make_fake(rt.get_executor(), {{"output_tokens", "4"}});
  Stream s = p->async_stream(hello_request());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // everything has been produced
  int n = 0;
  while (s.next()) ++n;
  EXPECT_EQ(n, 4 + 2);
}

}  // namespace
}  // namespace llmux
