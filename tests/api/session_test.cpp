// Sessions: history under 50 concurrent coroutines, tool turns, JSON round trip, failed turns.
#include <map>
#include <set>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <llmux/session.hpp>

#include "api/test_support.hpp"

namespace llmux {
namespace {

using namespace std::chrono_literals;

TEST(Session, FiftyConcurrentCoroutinesKeepAConsistentHistory) {
  Runtime rt(4);
  auto p = test::make_fake(rt.get_executor(), {{"latency_ms", "1"}, {"output_tokens", "4"}});
  Session session(p, {.system_prompt = "You are terse."});
  constexpr int kTurns = 50;
  std::vector<std::future<std::pair<std::string, std::string>>> futures;
  for (int i = 0; i < kTurns; ++i) {
    auto task = [session, i]() mutable -> asio::awaitable<std::pair<std::string, std::string>> {
      std::string q = "question " + std::to_string(i);
      Response r = co_await session.async_send(q, asio::use_awaitable);
      co_return std::pair{q, r.content};
    };
    futures.push_back(asio::co_spawn(rt.get_executor(), task, asio::use_future));
  }
  std::map<std::string, std::string> answers;
  for (auto& f : futures) answers.insert(f.get());
  ASSERT_EQ(answers.size(), std::size_t(kTurns));

  std::vector<Message> history = session.history();
  ASSERT_EQ(history.size(), std::size_t(2 * kTurns));
  std::set<std::string> seen;
  for (int k = 0; k < kTurns; ++k) {
    const Message& user = history[2 * k];
    const Message& reply = history[2 * k + 1];
    ASSERT_EQ(user.role, Role::user) << k;
    ASSERT_EQ(reply.role, Role::assistant) << k;
    ASSERT_TRUE(seen.insert(user.text()).second) << "duplicate " << user.text();
    ASSERT_TRUE(answers.count(user.text())) << user.text();
    EXPECT_EQ(reply.text(), answers[user.text()]) << "turn " << k << " got another turn's reply";
  }
  auto messages = session.messages();
  ASSERT_EQ(messages.size(), history.size() + 1);
  EXPECT_EQ(messages.front(), Message::system("You are terse."));

  // Each turn saw every earlier turn: replaying the history on the fake provider (whose answer
  // is a function of the whole conversation) gives the same replies.
  Request replay;
  replay.messages = {Message::system("You are terse.")};
  for (int k = 0; k < 3; ++k) {
    replay.messages.push_back(history[2 * k]);
    EXPECT_EQ(p->generate(replay).content, history[2 * k + 1].text()) << k;
    replay.messages.push_back(history[2 * k + 1]);
  }
}

TEST(Session, ToolTurnsStoreCallsAndResults) {
  Runtime rt(1);
  auto p = test::make_fake(rt.get_executor());
  ToolSet tools;
  tools.add(ToolDefinition{"lookup", "Looks things up", R"({"type":"object"})"},
            [](std::string_view) { return std::string(R"({"found":true})"); });
  SessionOptions options;
  options.system_prompt = "Use tools.";
  options.tools = tools;
  Session session(p, options);
  Response r = session.send("please lookup the weather");
  auto h = session.history();
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].role, Role::user);
  EXPECT_EQ(h[1].role, Role::assistant);
  ASSERT_EQ(h[1].tool_calls.size(), 1u);
  EXPECT_EQ(h[1].tool_calls[0].name, "lookup");
  EXPECT_EQ(h[2].role, Role::tool);
  EXPECT_EQ(h[2].tool_call_id, h[1].tool_calls[0].id);
  EXPECT_EQ(h[2].text(), R"({"found":true})");
  EXPECT_EQ(h[3].role, Role::assistant);
  EXPECT_EQ(h[3].text(), r.content);
  EXPECT_TRUE(h[3].tool_calls.empty());
}

TEST(Session, AFailedTurnLeavesTheHistoryUnchanged) {
  Runtime rt(1);
  auto p = test::make_fake(rt.get_executor(), {{"fail", "server_error"}, {"fail_first", "1"}});
  Session session(p);
  EXPECT_THROW(session.send("one"), ServerError);
  EXPECT_TRUE(session.history().empty());
  session.send("two");
  ASSERT_EQ(session.history().size(), 2u);
  EXPECT_EQ(session.history()[0].text(), "two");
}

TEST(Session, JsonRoundTripKeepsEveryField) {
  Runtime rt(1);
  auto p = test::make_fake(rt.get_executor());
  Message user = Message::user("part one ");
  user.content.push_back(ContentPart::from_text("part two"));
  user.content.back().cache_control = CacheControl{"1h"};
  user.content.front().cache_control = CacheControl{};
  user.name = "alice";
  Message assistant = Message::assistant("calling", {{"call_1", "lookup", R"({"q":"x"})"},
                                                     {"call_2", "other", "{}"}});
  assistant.reasoning = "thinking\nhard";
  assistant.reasoning_signature = "sig==";
  Message tool = Message::tool_result("call_1", R"({"ok":1})", "lookup");
  Message bare = Message::assistant("");
  bare.content.clear();
  std::vector<Message> history{user, assistant, tool, bare};

  EXPECT_EQ(messages_from_json(messages_to_json(history)), history);

  Session a(p, {.system_prompt = "sys \"quoted\" \xc3\xbcnicode"});
  a.load_json(R"({"format":"llmux-session","version":1,"system":"x","messages":[]})");
  EXPECT_EQ(a.system_prompt(), "x");
  Session b(p);
  std::string doc = R"({"format":"llmux-session","version":1,"system":"s","messages":)" +
                    messages_to_json(history) + "}";
  b.load_json(doc);
  EXPECT_EQ(b.history(), history);
  EXPECT_EQ(b.system_prompt(), "s");
  Session c(p);
  c.load_json(b.to_json());
  EXPECT_EQ(c.history(), history);
  EXPECT_EQ(c.messages(), b.messages());
  EXPECT_EQ(c.to_json(), b.to_json());

  // A conversation continues after loading.
  c.send("and now?");
  EXPECT_EQ(c.history().size(), history.size() + 2);
}

TEST(Session, MalformedJsonIsAClearErrorAndChangesNothing) {
  Runtime rt(1);
  Session s(test::make_fake(rt.get_executor()), {.system_prompt = "keep"});
  s.send("hello");
  const auto before = s.to_json();
  for (const char* bad : {
           "", "{", "[]", "null", R"({"format":"other","version":1,"messages":[]})",
           R"({"format":"llmux-session","version":2,"messages":[]})",
           R"({"format":"llmux-session","version":1})",
           R"({"format":"llmux-session","version":1,"messages":{}})",
           R"({"format":"llmux-session","version":1,"messages":[1]})",
           R"({"format":"llmux-session","version":1,"messages":[{"role":"robot"}]})",
           R"({"format":"llmux-session","version":1,"messages":[{"role":"user","content":"text"}]})",
           R"({"format":"llmux-session","version":1,"messages":[{"role":"user","content":[{"type":"image"}]}]})",
           R"({"format":"llmux-session","version":1,"messages":[{"role":"user","tool_calls":[{"id":1}]}]})",
           R"({"format":"llmux-session","version":1,"system":5,"messages":[]})",
           R"({"format":"llmux-session","version":1,"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":"no"}]}]})",
       }) {
    EXPECT_THROW(s.load_json(bad), InvalidArgumentError) << bad;
  }
  EXPECT_EQ(s.to_json(), before);
}

TEST(Session, CancellingATurnWaitingForAnotherLeavesHistoryConsistent) {
  Runtime rt(1);
  auto p = test::make_fake(rt.get_executor(), {{"latency_ms", "100"}});
  Session session(p);
  auto first = session.async_send("first", asio::use_future);
  asio::cancellation_signal signal;
  std::promise<std::exception_ptr> second;
  session.async_send("second", asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, Response) {
                       second.set_value(e);
                     }));
  asio::post(rt.get_executor(), [&] { signal.emit(asio::cancellation_type::terminal); });
  auto f = second.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(error_code_of(f.get()), errc::cancelled);
  first.get();
  auto h = session.history();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].text(), "first");
}

}  // namespace
}  // namespace llmux
