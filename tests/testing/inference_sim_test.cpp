// The simulated inference server: slots, FIFO queue, queue limit, errors, and both protocols
// end to end through llmux's own HTTP client and OpenAI-compatible provider. No timing asserts.
#include <future>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "http/client.hpp"
#include "http/http_test_support.hpp"
#include "testing/inference_sim.hpp"

namespace llmux {
namespace {

using testing::InferenceServer;
using testing::SimulatorOptions;
using testing::SlotQueue;
using namespace std::chrono_literals;
namespace bj = boost::json;

// ---- SlotQueue, without a network ---------------------------------------------------------------

TEST(SlotQueue, GrantsAtMostKSlotsAndQueuesTheRestInOrder) {
  SlotQueue q(2, std::nullopt);
  std::vector<int> order;
  std::map<int, SlotQueue::Lease> leases;
  auto admit = [&](int id) {
    return q.admit([&, id](SlotQueue::Lease l) {
      order.push_back(id);
      leases[id] = std::move(l);
    });
  };
  // Frees a slot outside the map: the next grant inserts into it.
  auto release = [&](int id) {
    SlotQueue::Lease l = std::move(leases[id]);
    leases.erase(id);
    l.reset();
  };
  for (int id = 1; id <= 5; ++id) EXPECT_TRUE(admit(id));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(q.stats().active, 2u);
  EXPECT_EQ(q.stats().queued, 3u);
  release(2);  // a slot frees: the oldest waiting request (3) takes it
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  release(1);
  release(3);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(q.stats().active, 2u);
  auto finished = std::move(leases);
  finished.clear();
  const auto s = q.stats();
  EXPECT_EQ(s.active, 0u);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(s.completed, 5u);
  EXPECT_EQ(s.peak_active, 2u);
  EXPECT_EQ(s.peak_queued, 3u);
}

TEST(SlotQueue, QueueLimitRefusesWhenEverySlotIsBusyAndTheQueueIsFull) {
  SlotQueue q(1, 1);
  std::vector<SlotQueue::Lease> held;
  auto keep = [&](SlotQueue::Lease l) { held.push_back(std::move(l)); };
  EXPECT_TRUE(q.admit(keep));   // slot
  EXPECT_TRUE(q.admit(keep));   // queue
  EXPECT_FALSE(q.admit(keep));  // full
  EXPECT_EQ(held.size(), 1u);
  EXPECT_EQ(q.stats().rejected, 1u);
  auto finished = std::move(held);
  held.clear();
  finished.clear();  // the queued request takes the slot; there is room again
  EXPECT_EQ(held.size(), 1u);
  EXPECT_TRUE(q.admit(keep));
  EXPECT_EQ(q.drop_waiting(), 1u);  // shutdown: the waiting request is never granted
  EXPECT_EQ(q.stats().queued, 0u);
  // Queue limit 0: no waiting at all.
  SlotQueue none(1, 0);
  std::vector<SlotQueue::Lease> one;
  EXPECT_TRUE(none.admit([&](SlotQueue::Lease l) { one.push_back(std::move(l)); }));
  EXPECT_FALSE(none.admit([&](SlotQueue::Lease) { ADD_FAILURE() << "granted past the limit"; }));
}

// ---- the server, end to end ---------------------------------------------------------------------

class InferenceServerTest : public ::testing::Test {
 protected:
  std::shared_ptr<Provider> openai(const InferenceServer& server) {
    ProviderConfig config;
    config.base_url = server.base_url() + "/v1";
    config.model = "llmux-mock";
    config.use_environment = false;
    return create_llm("openai-compatible", std::move(config), client_rt);
  }
  static Request request(std::string text = "hello there") {
    Request r;
    r.messages = {Message::user(std::move(text))};
    return r;
  }
  http::HttpResponse raw(const InferenceServer& server, std::string method, std::string path,
                         std::string body = {}) {
    auto client = http::Client::create(client_rt.get_executor());
    http::HttpRequest req{std::move(method), server.base_url() + path, {}, std::move(body)};
    if (!req.body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    return test::run_on(client_rt.get_executor(), client->request(std::move(req)));
  }
  // Waits (bounded) until the server's stats satisfy `ready`.
  template <class Pred>
  static bool eventually(const InferenceServer& server, Pred ready) {
    for (int i = 0; i < 1000; ++i) {
      if (ready(server.stats())) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  Runtime server_rt{1};
  Runtime client_rt{1};
};

TEST_F(InferenceServerTest, AtMostKRequestsGenerateAtOnce) {
  SimulatorOptions o;
  o.slots = 3;
  o.ttft = 100ms;  // long enough that all 12 arrive while the first 3 generate, even under load
  o.tokens_per_second = 200;
  o.output_tokens = 4;
  InferenceServer server(server_rt.get_executor(), o);
  auto p = openai(server);
  std::vector<std::future<Response>> futures;
  for (int i = 0; i < 12; ++i) futures.push_back(p->async_generate(request(), asio::use_future));
  for (auto& f : futures) EXPECT_EQ(f.get().usage.output_tokens, 4);
  const auto s = server.stats();
  EXPECT_EQ(s.peak_active, 3u);
  EXPECT_GE(s.peak_queued, 1u);  // 12 requests arrive far faster than one generation takes
  EXPECT_EQ(s.admitted, 12u);
  EXPECT_EQ(s.completed, 12u);
  EXPECT_EQ(s.active, 0u);
  EXPECT_EQ(s.queued, 0u);
}

TEST_F(InferenceServerTest, FullQueueGives503) {
  SimulatorOptions o;
  o.slots = 1;
  o.queue_limit = 1;
  o.ttft = 60s;  // the first request holds its slot until the server stops
  InferenceServer server(server_rt.get_executor(), o);
  auto p = openai(server);
  auto first = p->async_generate(request(), asio::use_future);
  ASSERT_TRUE(eventually(server, [](const auto& s) { return s.active == 1; }));
  auto second = p->async_generate(request(), asio::use_future);
  ASSERT_TRUE(eventually(server, [](const auto& s) { return s.queued == 1; }));
  try {
    p->generate(request());
    FAIL() << "expected 503";
  } catch (const Error& e) {
    EXPECT_EQ(e.info().http_status, 503);
    EXPECT_NE(std::string(e.what()).find("queue is full"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.stats().rejected, 1u);
  server.stop();  // ends the two waiting requests: their connections close
  EXPECT_THROW(first.get(), Error);
  EXPECT_THROW(second.get(), Error);
}

TEST_F(InferenceServerTest, ErrorRateOneGivesTheErrorStatus) {
  SimulatorOptions o;
  o.error_rate = 1.0;
  o.error_status = 429;
  InferenceServer server(server_rt.get_executor(), o);
  auto p = openai(server);
  EXPECT_THROW(p->generate(request()), RateLimitError);
  auto r = raw(server, "POST", "/api/chat", R"({"model":"m","messages":[]})");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(bj::parse(r.body).at("error").as_string(), "simulated error (llmux mock-server)");
  EXPECT_EQ(server.stats().errors, 2u);
  EXPECT_EQ(server.stats().admitted, 0u);
}

TEST_F(InferenceServerTest, SeededErrorDrawsRepeat) {
  auto pattern = [&](std::uint64_t seed) {
    SimulatorOptions o;
    o.error_rate = 0.5;
    o.seed = seed;
    InferenceServer server(server_rt.get_executor(), o);
    auto p = openai(server);
    std::string bits;
    for (int i = 0; i < 24; ++i) {
      try {
        p->generate(request());
        bits += '.';
      } catch (const Error&) {
        bits += 'E';
      }
    }
    return bits;
  };
  const std::string a = pattern(7);
  EXPECT_EQ(a, pattern(7));
  EXPECT_NE(a.find('E'), std::string::npos);
  EXPECT_NE(a.find('.'), std::string::npos);
}

TEST_F(InferenceServerTest, OpenAIAnswersRespectMaxTokens) {
  SimulatorOptions o;
  o.output_tokens = 6;
  InferenceServer server(server_rt.get_executor(), o);
  auto p = openai(server);
  Response full = p->generate(request());
  EXPECT_EQ(full.usage.output_tokens, 6);
  EXPECT_EQ(full.finish_reason, FinishReason::stop);
  EXPECT_EQ(full.model, "llmux-mock");
  Request limited = request();
  limited.options.max_output_tokens = 2;
  limited.model = "asked-for";
  Response cut = p->generate(limited);
  EXPECT_EQ(cut.usage.output_tokens, 2);
  EXPECT_EQ(cut.finish_reason, FinishReason::length);
  EXPECT_EQ(cut.model, "asked-for");
  EXPECT_EQ(std::count(cut.content.begin(), cut.content.end(), ' '), 1);
}

TEST_F(InferenceServerTest, OpenAIStreamingWithUsage) {
  SimulatorOptions o;
  o.output_tokens = 5;
  o.tokens_per_second = 1000;
  InferenceServer server(server_rt.get_executor(), o);
  auto p = openai(server);
  Stream s = p->async_stream(request());
  std::string text;
  int deltas = 0;
  std::optional<Usage> usage;
  while (auto e = s.next()) {
    if (auto* t = std::get_if<TextDelta>(&*e)) {
      text += t->text;
      ++deltas;
    }
    if (auto* u = std::get_if<UsageEvent>(&*e)) usage = u->usage;
  }
  EXPECT_EQ(deltas, 5);
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->output_tokens, 5);
  EXPECT_EQ(usage->input_tokens, 3);  // "hello there": 11 bytes -> 3 tokens
  EXPECT_EQ(s.response()->content, text);
}

TEST_F(InferenceServerTest, StreamedRequestsReuseOneConnection) {
  // The provider stops reading at [DONE]; the body's end came in the same write, so the
  // connection must go back to the pool rather than be closed.
  SimulatorOptions o;
  o.output_tokens = 4;
  InferenceServer server(server_rt.get_executor(), o);
  auto p = openai(server);
  for (int i = 0; i < 5; ++i) {
    Stream s = p->async_stream(request());
    while (s.next()) {
    }
    EXPECT_EQ(s.response()->usage.output_tokens, 4);
  }
  p->generate(request());
  EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST_F(InferenceServerTest, OllamaChatStreamingAndNot) {
  SimulatorOptions o;
  o.output_tokens = 3;
  InferenceServer server(server_rt.get_executor(), o);
  auto r = raw(server, "POST", "/api/chat", R"({"model":"llama3","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(http::find_header(r.headers, "content-type"), "application/x-ndjson");
  std::vector<bj::value> lines;
  for (std::size_t pos = 0; pos < r.body.size();) {
    auto nl = r.body.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    lines.push_back(bj::parse(r.body.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_FALSE(lines[0].at("done").as_bool());
  EXPECT_EQ(lines[0].at("model").as_string(), "llama3");
  EXPECT_TRUE(lines[3].at("done").as_bool());
  EXPECT_EQ(lines[3].at("eval_count").as_int64(), 3);
  EXPECT_EQ(lines[3].at("done_reason").as_string(), "stop");

  r = raw(server, "POST", "/api/chat",
          R"({"messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":2}})");
  ASSERT_EQ(r.status, 200);
  bj::value body = bj::parse(r.body);
  EXPECT_TRUE(body.at("done").as_bool());
  EXPECT_EQ(body.at("done_reason").as_string(), "length");
  EXPECT_EQ(body.at("eval_count").as_int64(), 2);
  EXPECT_EQ(body.at("model").as_string(), "llmux-mock");
}

TEST_F(InferenceServerTest, ModelListsAndBadRequests) {
  SimulatorOptions o;
  o.model = "my-model";
  InferenceServer server(server_rt.get_executor(), o);
  auto models = openai(server)->list_models();
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].id, "my-model");
  auto tags = raw(server, "GET", "/api/tags");
  EXPECT_EQ(bj::parse(tags.body).at("models").at(0).at("name").as_string(), "my-model");
  EXPECT_EQ(raw(server, "POST", "/v1/chat/completions", "{not json").status, 400);
  EXPECT_EQ(raw(server, "GET", "/v1/chat/completions").status, 405);
  EXPECT_EQ(raw(server, "GET", "/nowhere").status, 404);
  EXPECT_EQ(raw(server, "GET", "/").status, 200);
  EXPECT_EQ(server.stats().bad_requests, 3u);
}

TEST_F(InferenceServerTest, RejectsImpossibleOptions) {
  auto make = [&](auto change) {
    SimulatorOptions o;
    change(o);
    InferenceServer server(server_rt.get_executor(), o);
  };
  EXPECT_THROW(make([](SimulatorOptions& o) { o.slots = 0; }), InvalidArgumentError);
  EXPECT_THROW(make([](SimulatorOptions& o) { o.error_rate = 1.5; }), InvalidArgumentError);
  EXPECT_THROW(make([](SimulatorOptions& o) { o.tokens_per_second = -1; }), InvalidArgumentError);
  EXPECT_THROW(make([](SimulatorOptions& o) { o.error_status = 200; }), InvalidArgumentError);
}

TEST_F(InferenceServerTest, ADisconnectedStreamFreesItsSlot) {
  SimulatorOptions o;
  o.slots = 1;
  o.output_tokens = 100000;
  o.tokens_per_second = 1000;  // 100 s of tokens
  InferenceServer server(server_rt.get_executor(), o);
  auto p = openai(server);
  {
    Stream s = p->async_stream(request());
    ASSERT_TRUE(s.next());  // generating
    EXPECT_EQ(server.stats().active, 1u);
  }  // destroying the stream closes the connection
  ASSERT_TRUE(eventually(server, [](const auto& s) { return s.active == 0; }));
  EXPECT_EQ(server.stats().completed, 1u);
}

}  // namespace
}  // namespace llmux
