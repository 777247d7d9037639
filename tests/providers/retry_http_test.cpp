// The retry loop against real HTTP responses (loopback TestServer): 429 with Retry-After in
// seconds, 503 with Retry-After as an HTTP date, retry-after-ms, x-should-retry, a stream reset
// after its first event — on the sync, async and streaming paths, on a ManualClock.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <llmux/llmux.hpp>

#include "testing/test_server.hpp"

namespace llmux {
namespace {

using testing::RecordedRequest;
using testing::Step;
using testing::TestServer;
using testing::Transcript;
using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

const char* kCompletion = R"({"id":"c1","object":"chat.completion","model":"gpt-test",
  "choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},"finish_reason":"stop"}],
  "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})";

std::vector<std::string> sse(const std::vector<std::string>& datas) {
  std::vector<std::string> out;
  for (const auto& d : datas) out.push_back("data: " + d + "\r\n\r\n");
  return out;
}
const std::vector<std::string> kChunks = {
    R"({"model":"gpt-test","choices":[{"index":0,"delta":{"content":"Hello"}}]})",
    R"({"model":"gpt-test","choices":[{"index":0,"delta":{"content":" there"},"finish_reason":"stop"}]})",
    R"({"model":"gpt-test","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})",
    "[DONE]"};

enum class Path { sync, async, stream };
const Path kPaths[] = {Path::sync, Path::async, Path::stream};
const char* path_name(Path p) { return p == Path::sync ? "sync" : p == Path::async ? "async" : "stream"; }

// The success answer for a request (streamed when it asks for a stream).
Transcript success(const RecordedRequest& r) {
  if (r.body.find("\"stream\":true") != std::string::npos) return Transcript::chunked(200, sse(kChunks));
  return Transcript::response(200, kCompletion);
}

class RetryHttpTest : public ::testing::Test {
 protected:
  std::shared_ptr<Provider> provider(const TestServer& server, int attempts) {
    ProviderConfig config;
    config.base_url = server.base_url() + "/v1";
    config.model = "gpt-test";
    config.api_key = "sk-test";
    config.use_environment = false;
    config.resilience.retry.max_attempts = attempts;
    config.resilience.retry.random = [] { return 0.5; };
    config.resilience.clock = clock;
    return create_llm("openai", std::move(config), client_rt);
  }
  static Request request() {
    Request r;
    r.messages = {Message::user("hi")};
    return r;
  }
  static Response run(Path path, const std::shared_ptr<Provider>& p) {
    switch (path) {
      case Path::sync: return p->generate(request());
      case Path::async: {
        auto task = [p]() -> asio::awaitable<Response> {
          co_return co_await p->async_generate(request(), asio::use_awaitable);
        };
        return asio::co_spawn(p->get_executor(), task, asio::use_future).get();
      }
      case Path::stream: {
        Stream s = p->async_stream(request());
        while (s.next()) {
        }
        return *s.response();
      }
    }
    return {};
  }
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(true);
  Runtime server_rt{1};
  Runtime client_rt{1};
};

TEST_F(RetryHttpTest, RetryAfterSecondsThenHttpDateThenSuccessOnEveryPath) {
  for (Path path : kPaths) {
    clock = std::make_shared<ManualClock>(true);
    // The date is 3 s after the ManualClock's start (2026-01-01T00:00:00Z) plus the 2 s waited.
    int n = 0;
    TestServer server(server_rt.get_executor(), [&n](const RecordedRequest& r) {
      switch (n++) {
        case 0: return Transcript::response(429, R"({"error":{"message":"slow down"}})", "application/json",
                                            {{"retry-after", "2"}});
        case 1: return Transcript::response(503, "", "application/json",
                                            {{"retry-after", "Thu, 01 Jan 2026 00:00:05 GMT"}});
        default: return success(r);
      }
    });
    Response r = run(path, provider(server, 3));
    EXPECT_EQ(r.content, "Hello there") << path_name(path);
    EXPECT_EQ(n, 3) << path_name(path);
    EXPECT_EQ(clock->requested_waits(), (std::vector<ms>{2000ms, 3000ms})) << path_name(path);
  }
}

TEST_F(RetryHttpTest, RetryAfterMsWinsAndXShouldRetryDecides) {
  for (Path path : kPaths) {
    clock = std::make_shared<ManualClock>(true);
    int n = 0;
    TestServer server(server_rt.get_executor(), [&n](const RecordedRequest& r) {
      switch (n++) {
        case 0: return Transcript::response(500, "{}", "application/json",
                                            {{"retry-after-ms", "750"}, {"retry-after", "9"}});
        // Not normally retried (model_not_found), but the server says it may be.
        case 1: return Transcript::response(404, R"({"error":{"message":"model warming up","code":"model_not_found"}})",
                                            "application/json", {{"x-should-retry", "true"}});
        default: return success(r);
      }
    });
    EXPECT_EQ(run(path, provider(server, 3)).content, "Hello there") << path_name(path);
    ASSERT_EQ(clock->requested_waits().size(), 2u);
    EXPECT_EQ(clock->requested_waits()[0], 750ms) << path_name(path);
    EXPECT_EQ(clock->requested_waits()[1], 500ms) << path_name(path);  // jitter: 0.5 x (500 ms x 2)
  }
}

TEST_F(RetryHttpTest, XShouldRetryFalseAndNonRetryableStatusesAreFinal) {
  for (Path path : kPaths) {
    for (auto [status, headers] : std::vector<std::pair<int, testing::Headers>>{
             {503, {{"x-should-retry", "false"}}}, {400, {}}, {401, {}}, {403, {}}, {400, {{"x-should-retry", "true"}}}}) {
      clock = std::make_shared<ManualClock>(true);
      int n = 0;
      TestServer server(server_rt.get_executor(), [&n, status, headers](const RecordedRequest&) {
        ++n;
        return Transcript::response(status, R"({"error":{"message":"no"}})", "application/json", headers);
      });
      EXPECT_THROW(run(path, provider(server, 4)), Error) << status << " " << path_name(path);
      EXPECT_EQ(n, 1) << status << " " << path_name(path);
      EXPECT_TRUE(clock->requested_waits().empty());
    }
  }
}

TEST_F(RetryHttpTest, Retries408And409And5xxAndConnectionErrors) {
  for (int status : {408, 409, 500, 502, 503, 504, 529}) {
    clock = std::make_shared<ManualClock>(true);
    int n = 0;
    TestServer server(server_rt.get_executor(), [&n, status](const RecordedRequest& r) {
      if (n++ == 0) return Transcript::response(status, "{}");
      return success(r);
    });
    EXPECT_EQ(provider(server, 2)->generate(request()).content, "Hello there") << status;
    EXPECT_EQ(n, 2) << status;
  }
  int n = 0;
  TestServer server(server_rt.get_executor(), [&n](const RecordedRequest& r) {
    if (n++ == 0) return Transcript{{Step{Step::Action::reset, 0ms, {}}}, false};
    return success(r);
  });
  EXPECT_EQ(provider(server, 2)->generate(request()).content, "Hello there");
  EXPECT_EQ(n, 2);
}

TEST_F(RetryHttpTest, StreamResetAfterTheFirstEventIsATypedErrorWithThePartial) {
  int n = 0;
  TestServer server(server_rt.get_executor(), [&n](const RecordedRequest&) {
    ++n;
    auto t = Transcript::chunked(200, sse({kChunks[0]}));
    t.steps.pop_back();  // no terminating chunk
    t.then({Step::Action::reset, 20ms, {}});
    return t;
  });
  auto p = provider(server, 5);
  Stream s = p->async_stream(request());
  std::string seen;
  try {
    while (auto e = s.next()) seen += std::get<TextDelta>(*e).text;
    FAIL() << "no error";
  } catch (const ConnectionError& e) {
    ASSERT_NE(e.partial(), nullptr);
    EXPECT_EQ(e.partial()->content, "Hello");
  }
  EXPECT_EQ(seen, "Hello");
  EXPECT_EQ(n, 1);  // never restarted
  EXPECT_TRUE(clock->requested_waits().empty());
}

}  // namespace
}  // namespace llmux
