// The simulated server's wire layer: request parsing and the timing of rendered responses.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "testing/inference_wire.hpp"

namespace llmux::testing {
namespace {

using namespace std::chrono_literals;
namespace bj = boost::json;

Generation generation(std::size_t n, std::chrono::microseconds ttft, std::chrono::microseconds gap) {
  Generation g;
  g.tokens = plan_tokens(1, static_cast<std::int64_t>(n));
  g.model = "m";
  g.id = "chatcmpl-mock-1";
  g.ttft = ttft;
  g.token_interval = gap;
  return g;
}

std::string all_bytes(const Transcript& t) {
  std::string s;
  for (const auto& step : t.steps) s += step.bytes;
  return s;
}

TEST(InferenceWire, ParsesOpenAIRequests) {
  std::string error;
  auto call = parse_chat_call(ChatProtocol::openai,
                              R"({"model":"x","messages":[{"role":"user","content":"12345678"}],
                                  "stream":true,"stream_options":{"include_usage":true},"max_tokens":5})",
                              error);
  ASSERT_TRUE(call) << error;
  EXPECT_TRUE(call->stream);
  EXPECT_TRUE(call->include_usage);
  EXPECT_EQ(call->max_tokens, 5);
  EXPECT_EQ(call->model, "x");
  EXPECT_EQ(call->prompt_tokens, 2);
  // max_completion_tokens wins over max_tokens; content parts count.
  call = parse_chat_call(ChatProtocol::openai,
                         R"({"messages":[{"role":"user","content":[{"type":"text","text":"abcd"}]}],
                             "max_completion_tokens":3,"max_tokens":9})",
                         error);
  ASSERT_TRUE(call) << error;
  EXPECT_FALSE(call->stream);
  EXPECT_EQ(call->max_tokens, 3);
  EXPECT_EQ(call->prompt_tokens, 1);
}

TEST(InferenceWire, OllamaStreamsByDefaultAndReadsNumPredict) {
  std::string error;
  auto call = parse_chat_call(ChatProtocol::ollama,
                              R"({"model":"llama3","messages":[],"options":{"num_predict":7}})", error);
  ASSERT_TRUE(call) << error;
  EXPECT_TRUE(call->stream);
  EXPECT_EQ(call->max_tokens, 7);
  call = parse_chat_call(ChatProtocol::ollama,
                         R"({"messages":[],"stream":false,"options":{"num_predict":-1}})", error);
  ASSERT_TRUE(call) << error;
  EXPECT_FALSE(call->stream);
  EXPECT_FALSE(call->max_tokens);
}

TEST(InferenceWire, RejectsMalformedRequests) {
  for (const char* body : {"", "[1]", "{\"messages\":3}", "{\"messages\":[1]}",
                           "{\"messages\":[],\"stream\":\"yes\"}", "{\"messages\":[],\"max_tokens\":0}",
                           "{\"messages\":[],\"max_tokens\":1.5}", "{\"messages\":[],\"model\":7}",
                           "{\"messages\":[],\"options\":[]}", "{\"messages\":[]"}) {
    std::string error;
    ChatProtocol protocol = std::string_view(body).find("options") != std::string_view::npos
                                ? ChatProtocol::ollama
                                : ChatProtocol::openai;
    EXPECT_FALSE(parse_chat_call(protocol, body, error)) << body;
    EXPECT_FALSE(error.empty()) << body;
  }
}

TEST(InferenceWire, StreamingTokensAreWrittenAtTheirTimes) {
  ChatCall call;
  call.stream = true;
  call.include_usage = true;
  Transcript t = render_generation(call, generation(3, 10ms, 5ms), 4);
  ASSERT_EQ(t.steps.size(), 3u);  // head + token 1, token 2, token 3 + finish + usage + [DONE]
  EXPECT_EQ(t.steps[0].delay, 10ms);
  EXPECT_EQ(t.steps[1].delay, 5ms);
  EXPECT_EQ(t.steps[2].delay, 5ms);
  EXPECT_TRUE(t.steps[0].bytes.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(t.steps[0].bytes.find("text/event-stream"), std::string::npos);
  const std::string& last = t.steps[2].bytes;
  EXPECT_NE(last.find("\"finish_reason\":\"stop\""), std::string::npos);
  EXPECT_NE(last.find("\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":3,\"total_tokens\":7}"),
            std::string::npos);
  EXPECT_TRUE(last.ends_with("data: [DONE]\n\n\r\n0\r\n\r\n"));
}

TEST(InferenceWire, TokensDueInTheSameMillisecondShareAWrite) {
  ChatCall call;
  call.stream = true;
  // 10 tokens 250 us apart: due at 0, 0.25, … 2.25 ms -> rounded to 0, 1, 2 ms.
  Transcript t = render_generation(call, generation(10, 0ms, 250us), 1);
  ASSERT_GE(t.steps.size(), 3u);
  ASSERT_LE(t.steps.size(), 4u);
  std::chrono::milliseconds total{0};
  for (const auto& s : t.steps) total += s.delay;
  EXPECT_EQ(total, 2ms);
  // No delay at all: one write.
  Transcript instant = render_generation(call, generation(10, 0ms, 0us), 1);
  ASSERT_EQ(instant.steps.size(), 1u);
  EXPECT_EQ(instant.steps[0].delay, 0ms);
  // 10 token events, the finish event and [DONE].
  std::string bytes = all_bytes(instant);
  std::size_t events = 0;
  for (auto pos = bytes.find("data: "); pos != std::string::npos; pos = bytes.find("data: ", pos + 1)) ++events;
  EXPECT_EQ(events, 12u);
}

TEST(InferenceWire, NonStreamingBodyArrivesWithTheLastToken) {
  ChatCall call;
  Generation g = generation(4, 20ms, 10ms);
  g.truncated = true;
  Transcript t = render_generation(call, g, 3);
  ASSERT_EQ(t.steps.size(), 1u);
  EXPECT_EQ(t.steps[0].delay, 50ms);
  const std::string bytes = all_bytes(t);
  bj::value body = bj::parse(bytes.substr(bytes.find("\r\n\r\n") + 4));
  const auto& choice = body.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason").as_string(), "length");
  std::string text;
  for (const auto& tok : g.tokens) text += tok;
  EXPECT_EQ(choice.at("message").at("content").as_string(), text);
  EXPECT_EQ(body.at("usage").at("completion_tokens").as_int64(), 4);
  EXPECT_EQ(body.at("usage").at("prompt_tokens").as_int64(), 3);
}

TEST(InferenceWire, OllamaNdjsonEndsWithStats) {
  ChatCall call;
  call.protocol = ChatProtocol::ollama;
  call.stream = true;
  Transcript t = render_generation(call, generation(2, 1ms, 1ms), 5);
  std::string bytes = all_bytes(t);
  EXPECT_NE(bytes.find("application/x-ndjson"), std::string::npos);
  // The last NDJSON line, inside the last chunk.
  const std::string& last_step = t.steps.back().bytes;
  auto end = last_step.rfind("}\n");
  auto begin = last_step.rfind("\r\n{\"model\"", end);
  ASSERT_NE(begin, std::string::npos);
  bj::value done = bj::parse(last_step.substr(begin + 2, end + 1 - (begin + 2)));
  EXPECT_TRUE(done.at("done").as_bool());
  EXPECT_EQ(done.at("done_reason").as_string(), "stop");
  EXPECT_EQ(done.at("eval_count").as_int64(), 2);
  EXPECT_EQ(done.at("prompt_eval_count").as_int64(), 5);
  EXPECT_EQ(done.at("prompt_eval_duration").as_int64(), 1'000'000);
  EXPECT_GE(done.at("total_duration").as_int64(), 2'000'000);
}

TEST(InferenceWire, ErrorsInEachProtocolsShape) {
  std::string openai = all_bytes(render_error(ChatProtocol::openai, 429, "slow down"));
  EXPECT_TRUE(openai.starts_with("HTTP/1.1 429 "));
  EXPECT_NE(openai.find("Retry-After: 1\r\n"), std::string::npos);
  EXPECT_NE(openai.find(R"({"error":{"message":"slow down","type":"rate_limit_error","code":null}})"),
            std::string::npos);
  std::string ollama = all_bytes(render_error(ChatProtocol::ollama, 500, "boom \"x\""));
  EXPECT_TRUE(ollama.ends_with(R"({"error":"boom \"x\""})"));
  EXPECT_EQ(ollama.find("Retry-After"), std::string::npos);
}

TEST(InferenceWire, PlannedTokensAreDeterministic) {
  EXPECT_EQ(plan_tokens(3, 5), plan_tokens(3, 5));
  EXPECT_NE(plan_tokens(3, 5), plan_tokens(4, 5));
  EXPECT_EQ(plan_tokens(9, 0).size(), 0u);
  auto t = plan_tokens(1, 3);
  EXPECT_NE(t[0][0], ' ');
  EXPECT_EQ(t[1][0], ' ');
}

}  // namespace
}  // namespace llmux::testing
