// Request events: order, timings and usage; subscribers per provider; throwing subscribers.
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "api/resilience_support.hpp"
#include "api/test_support.hpp"

namespace llmux {
namespace {

using namespace std::chrono_literals;

class Throwing : public RequestObserver {
 public:
  void on_start(const RequestStartEvent&) override { throw std::runtime_error("start"); }
  void on_first_token(const FirstTokenEvent&) override { throw std::runtime_error("token"); }
  void on_retry(const RetryEvent&) override { throw 42; }
  void on_error(const ErrorEvent&) override { throw std::runtime_error("error"); }
  void on_end(const RequestEndEvent&) override { throw std::runtime_error("end"); }
};

TEST(Events, StreamEventsCarryTimingsUsageAndIds) {
  Runtime rt(1);
  auto recorder = std::make_shared<test::Recorder>();
  ProviderConfig pc;
  pc.options = {{"output_tokens", "5"}};
  pc.resilience.observers = {recorder};
  auto p = create_llm("fake", pc, rt.get_executor());
  Request r = test::hello_request();
  r.model = "m1";
  Stream s = p->async_stream(r);
  while (s.next()) {
  }
  p->generate(r);
  EXPECT_EQ(recorder->lines(), (std::vector<std::string>{"start", "first_token 1", "end ok 1", "start", "end ok 1"}));
  auto infos = recorder->infos();
  ASSERT_EQ(infos.size(), 3u);
  EXPECT_EQ(infos[0].provider, "fake");
  EXPECT_EQ(infos[0].model, "m1");
  EXPECT_TRUE(infos[0].stream);
  EXPECT_EQ(infos[0].id, infos[1].id);  // the same request
  EXPECT_FALSE(infos[2].stream);
  EXPECT_GT(infos[2].id, infos[0].id);
  RequestEndEvent end = recorder->last_end();
  EXPECT_TRUE(end.ok);
  EXPECT_EQ(end.usage.output_tokens, 5);
  EXPECT_GT(end.usage.input_tokens, 0);
  EXPECT_FALSE(end.time_to_first_token);  // generate: no first-token event
}

TEST(Events, FirstTokenTimeIsMeasuredFromTheStart) {
  Runtime rt(1);
  auto recorder = std::make_shared<test::Recorder>();
  ProviderConfig pc;
  pc.options = {{"ttft_ms", "40"}};
  auto p = create_llm("fake", pc, rt.get_executor());
  p->subscribe(recorder);
  Stream s = p->async_stream(test::hello_request());
  while (s.next()) {
  }
  auto end = recorder->last_end();
  ASSERT_TRUE(end.time_to_first_token);
  EXPECT_GE(*end.time_to_first_token, 35ms);
  EXPECT_GE(end.elapsed, *end.time_to_first_token);
}

TEST(Events, ThrowingSubscribersNeverBreakTheRequest) {
  Runtime rt(1);
  auto recorder = std::make_shared<test::Recorder>();
  ProviderConfig pc;
  pc.options = {{"fail", "server_error"}, {"fail_first", "1"}, {"fail_after_tokens", "0"}};
  pc.resilience.retry.max_attempts = 2;
  pc.resilience.clock = std::make_shared<ManualClock>(true);
  pc.resilience.observers = {std::make_shared<Throwing>(), recorder};
  auto p = create_llm("fake", pc, rt.get_executor());
  Stream s = p->async_stream(test::hello_request());
  std::string text;
  while (auto e = s.next()) {
    if (auto* t = std::get_if<TextDelta>(&*e)) text += t->text;
  }
  EXPECT_FALSE(text.empty());
  auto lines = recorder->lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1].rfind("retry 1 ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2], "first_token 2");
  EXPECT_EQ(lines[3], "end ok 2");

  // errors too
  ProviderConfig bad = pc;
  bad.options = {{"fail", "invalid_request"}};
  auto p2 = create_llm("fake", bad, rt.get_executor());
  EXPECT_THROW(p2->generate(test::hello_request()), InvalidRequestError);
  EXPECT_EQ(recorder->lines().back(), "end fail invalid_request 1");
}

TEST(Events, UnsubscribeStopsDeliveryAndProvidersDoNotShareSubscribers) {
  Runtime rt(1);
  auto a = std::make_shared<test::Recorder>();
  auto p1 = test::make_fake(rt.get_executor());
  auto p2 = test::make_fake(rt.get_executor());
  p1->subscribe(a);
  p1->generate(test::hello_request());
  p2->generate(test::hello_request());
  EXPECT_EQ(a->lines().size(), 2u);
  p1->unsubscribe(a);
  p1->generate(test::hello_request());
  EXPECT_EQ(a->lines().size(), 2u);
}

TEST(Events, ErrorEventCarriesThePartialUsage) {
  Runtime rt(1);
  struct Last : RequestObserver {
    std::mutex mu;
    ErrorEvent error;
    void on_error(const ErrorEvent& e) override {
      std::lock_guard lock(mu);
      error = e;
    }
  };
  auto last = std::make_shared<Last>();
  auto p = test::make_fake(rt.get_executor(), {{"fail", "server_error"}, {"fail_after_tokens", "4"}});
  p->subscribe(last);
  Stream s = p->async_stream(test::hello_request());
  EXPECT_THROW({ while (s.next()) {} }, ServerError);
  std::lock_guard lock(last->mu);
  EXPECT_EQ(last->error.code, errc::server_error);
  EXPECT_EQ(last->error.usage.output_tokens, 4);
  EXPECT_EQ(last->error.attempts, 1);
  EXPECT_TRUE(last->error.error);
}

}  // namespace
}  // namespace llmux
