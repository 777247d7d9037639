// The `ollama` provider (native /api/chat, /api/tags) against the loopback test server, and its
// NDJSON stream assembler fed bytes split at every position.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "http/ndjson.hpp"
#include "providers/native_test_support.hpp"
#include "providers/ollama.hpp"

namespace llmux {
namespace {

using testing::RecordedRequest;
using testing::TestServer;
using testing::Transcript;
using namespace std::chrono_literals;
namespace bj = boost::json;

// Thinking, text, two parallel tool calls (one without an id), then the final line with every
// statistic. Blank lines and CRLF are part of what the decoder must take.
const std::vector<std::string> kToolLines = {
    R"({"model":"qwen-test","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"","thinking":"hmm"},"done":false})",
    R"({"model":"qwen-test","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"Hel"},"done":false})",
    R"({"model":"qwen-test","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"lo"},"done":false})",
    R"({"model":"qwen-test","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}},{"id":"call_t","function":{"index":1,"name":"get_time","arguments":{"tz":"CET"}}}]},"done":false})",
    R"({"model":"qwen-test","created_at":"2025-01-01T00:00:01Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":5000000000,"load_duration":1000000,"prompt_eval_count":26,"prompt_eval_duration":130000000,"eval_count":298,"eval_duration":4700000000})"};

const char* kWhole = R"({"model":"qwen-test","created_at":"2025-01-01T00:00:01Z",
  "message":{"role":"assistant","content":"Hello","thinking":"hmm",
    "tool_calls":[{"id":"call_w","function":{"name":"get_weather","arguments":{"city":"Paris"}}},
                  {"id":"call_t","function":{"name":"get_time","arguments":{"tz":"CET"}}}]},
  "done":true,"done_reason":"stop","total_duration":5000000000,"load_duration":1000000,
  "prompt_eval_count":26,"prompt_eval_duration":130000000,"eval_count":298,"eval_duration":4700000000})";

class OllamaTest : public ::testing::Test {
 protected:
  std::shared_ptr<Provider> provider(const TestServer& server, ProviderConfig config = {}) {
    config.base_url = server.base_url();
    config.model = "qwen-test";
    config.use_environment = false;
    return create_llm("ollama", std::move(config), client_rt);
  }
  static Request request() {
    Request r;
    r.messages = {Message::system("be brief"), Message::user("weather in Paris?")};
    return r;
  }
  Runtime server_rt{1};
  Runtime client_rt{1};
};

struct Decoded {
  std::vector<StreamEvent> events;
  Response response;
  std::string error;
  bool operator==(const Decoded&) const = default;
};

// Synthesized ids are random: compare them by position instead.
void normalize_ids(Decoded& d) {
  for (auto& e : d.events) {
    if (auto* delta = std::get_if<ToolCallDelta>(&e); delta && delta->id.starts_with("call_") &&
                                                      delta->id.size() == 29) {
      delta->id = "synth";
    }
    if (auto* done = std::get_if<ToolCallDone>(&e); done && done->call.id.size() == 29) {
      done->call.id = "synth";
    }
  }
  for (auto& c : d.response.tool_calls) {
    if (c.id.size() == 29) c.id = "synth";
  }
}

Decoded decode_ndjson(const std::vector<std::string_view>& reads) {
  Decoded d;
  providers::OllamaStreamAssembler assembler("ollama");
  http::NdjsonDecoder decoder;
  std::vector<std::string> lines;
  try {
    for (auto piece : reads) {
      decoder.feed(piece, lines);
      for (const auto& l : lines) {
        for (auto& e : assembler.feed(l)) d.events.push_back(std::move(e));
      }
      lines.clear();
    }
    decoder.finish(lines);
    for (const auto& l : lines) {
      for (auto& e : assembler.feed(l)) d.events.push_back(std::move(e));
    }
    assembler.finish();
  } catch (const Error& e) {
    d.error = std::string(to_string(e.code())) + ": " + e.what();
  }
  d.response = assembler.response();
  normalize_ids(d);
  return d;
}

TEST_F(OllamaTest, EveryFieldOfTheStreamAssembled) {
  Decoded d = decode_ndjson({test::join(test::ndjson_lines(kToolLines))});
  ASSERT_TRUE(d.error.empty()) << d.error;
  Usage usage{26, 298, 324, 0, 0, 0};
  const std::vector<StreamEvent> expected = {
      ReasoningDelta{"hmm"},
      TextDelta{"Hel"},
      TextDelta{"lo"},
      ToolCallDelta{0, "synth", "get_weather", R"({"city":"Paris"})"},
      ToolCallDone{0, {"synth", "get_weather", R"({"city":"Paris"})"}},
      ToolCallDelta{1, "call_t", "get_time", R"({"tz":"CET"})"},
      ToolCallDone{1, {"call_t", "get_time", R"({"tz":"CET"})"}},
      UsageEvent{usage},
      Finish{FinishReason::tool_calls}};
  EXPECT_EQ(d.events, expected);
  EXPECT_EQ(d.response.model, "qwen-test");
  EXPECT_EQ(d.response.timings.load, 1000us);
  EXPECT_EQ(d.response.timings.prompt_eval, 130000us);
  EXPECT_EQ(d.response.timings.generation, 4700000us);
  EXPECT_EQ(d.response.timings.server_total, 5000000us);
}

TEST_F(OllamaTest, ReadsSplitAtEveryByteGiveTheSameEvents) {
  std::string crlf = "\r\n";
  for (const auto& l : kToolLines) crlf += l + "\r\n\r\n";
  std::string no_final_newline = test::join(test::ndjson_lines(kToolLines));
  no_final_newline.pop_back();
  for (const std::string& bytes : {test::join(test::ndjson_lines(kToolLines)), crlf, no_final_newline}) {
    test::expect_same_at_every_split<Decoded>(bytes, decode_ndjson);
    EXPECT_EQ(decode_ndjson({bytes}), decode_ndjson({test::join(test::ndjson_lines(kToolLines))}));
  }
}

TEST_F(OllamaTest, StreamAndGenerateGiveTheSameResponse) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest& r) {
    if (bj::parse(r.body).at("stream").as_bool()) {
      std::vector<std::string> bytes;
      for (char c : test::join(test::ndjson_lines(kToolLines))) bytes.emplace_back(1, c);
      return Transcript::chunked(200, bytes, 0ms, 0ms, "application/x-ndjson");
    }
    return Transcript::response(200, kWhole);
  });
  auto p = provider(server);
  Response whole = p->generate(request());
  Stream s = p->async_stream(request());
  while (s.next()) {
  }
  Response streamed = *s.response();
  EXPECT_EQ(streamed.content, "Hello");
  EXPECT_EQ(streamed.content, whole.content);
  EXPECT_EQ(streamed.reasoning, whole.reasoning);
  EXPECT_EQ(streamed.usage, whole.usage);
  EXPECT_EQ(whole.usage, (Usage{26, 298, 324, 0, 0, 0}));
  EXPECT_EQ(streamed.finish_reason, FinishReason::tool_calls);
  EXPECT_EQ(whole.finish_reason, FinishReason::tool_calls);
  ASSERT_EQ(whole.tool_calls.size(), 2u);
  ASSERT_EQ(streamed.tool_calls.size(), 2u);
  EXPECT_EQ(whole.tool_calls[0], (ToolCall{"call_w", "get_weather", R"({"city":"Paris"})"}));
  EXPECT_EQ(streamed.tool_calls[1], whole.tool_calls[1]);
  EXPECT_EQ(streamed.tool_calls[0].name, "get_weather");
  EXPECT_TRUE(streamed.tool_calls[0].id.starts_with("call_"));  // synthesized
  EXPECT_EQ(whole.timings.generation, streamed.timings.generation);
  EXPECT_EQ(whole.timings.load, 1000us);
  EXPECT_TRUE(streamed.timings.time_to_first_token.has_value());
  EXPECT_EQ(whole.provider, "ollama");
  EXPECT_EQ(whole.model, "qwen-test");
}

TEST_F(OllamaTest, RequestShape) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::response(200, R"({"model":"qwen-test","message":{"role":"assistant","content":"ok"},"done":true,"done_reason":"length"})");
  });
  auto p = provider(server, test::loopback_config("", "", "", {{"keep_alive", "10m"}, {"num_ctx", "8192"}}));
  Request req = request();
  Message asked = Message::assistant("", {{"call_1", "get_weather", R"({"city":"Paris"})"}});
  asked.reasoning = "need weather";
  req.messages.push_back(asked);
  req.messages.push_back(Message::tool_result("call_1", "sunny"));  // tool_name looked up by id
  req.options.temperature = 0.2;
  req.options.top_p = 0.9;
  req.options.top_k = 40;
  req.options.seed = 42;
  req.options.stop = {"END"};
  req.options.max_output_tokens = 128;
  // response_format (validated against the answer): tests/providers/structured_output_test.cpp
  req.options.reasoning_effort = ReasoningEffort::high;
  req.options.tools = {ToolDefinition{"get_weather", "Weather", R"({"type":"object"})"}};
  req.options.extra_body = R"({"options":{"repeat_penalty":1.1}})";
  Response r = p->generate(req);
  EXPECT_EQ(r.finish_reason, FinishReason::length);
  EXPECT_EQ(r.content, "ok");

  auto sent = server.requests().at(0);
  EXPECT_EQ(sent.target, "/api/chat");
  EXPECT_EQ(sent.header("Authorization"), "");
  auto body = bj::parse(sent.body).as_object();
  EXPECT_EQ(body.at("model").as_string(), "qwen-test");
  EXPECT_FALSE(body.at("stream").as_bool());
  EXPECT_EQ(body.at("messages"), bj::parse(R"([
      {"role":"system","content":"be brief"},
      {"role":"user","content":"weather in Paris?"},
      {"role":"assistant","content":"","thinking":"need weather",
       "tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},
      {"role":"tool","content":"sunny","tool_name":"get_weather"}])"));
  EXPECT_EQ(body.at("options"), bj::parse(R"({"temperature":0.2,"top_p":0.9,"top_k":40,"seed":42,
      "num_predict":128,"num_ctx":8192,"stop":["END"],"repeat_penalty":1.1})"));
  EXPECT_TRUE(body.at("think").as_bool());
  EXPECT_EQ(body.at("keep_alive").as_string(), "10m");
  EXPECT_EQ(body.at("tools"), bj::parse(R"([{"type":"function","function":{"name":"get_weather",
      "parameters":{"type":"object"},"description":"Weather"}}])"));
}

TEST_F(OllamaTest, OptionMappingEdges) {
  providers::OllamaSettings settings;
  auto encode = [&](const Request& r, bool stream = true) {
    return bj::parse(providers::encode_ollama_request(r, "m", settings, stream)).as_object();
  };
  Request r = request();
  auto body = encode(r);
  EXPECT_TRUE(body.at("stream").as_bool());
  EXPECT_FALSE(body.contains("options"));  // nothing unasked is sent
  EXPECT_FALSE(body.contains("think"));
  EXPECT_FALSE(body.contains("keep_alive"));
  EXPECT_FALSE(body.contains("format"));
  settings.keep_alive = "-1";
  EXPECT_EQ(encode(r).at("keep_alive").as_int64(), -1);
  r.options.response_format.kind = ResponseFormat::Kind::json_object;
  EXPECT_EQ(encode(r).at("format").as_string(), "json");
  r.options.reasoning_effort = ReasoningEffort::minimal;
  EXPECT_FALSE(encode(r).at("think").as_bool());
  r.options.reasoning_budget_tokens = 100;
  EXPECT_TRUE(encode(r).at("think").as_bool());
  r.options.tools = {ToolDefinition{"f", "", "{}"}};
  r.options.tool_choice = ToolChoice{ToolChoice::Mode::none, ""};
  EXPECT_FALSE(encode(r).contains("tools"));  // none: the model gets no tools to call
  r.options.tool_choice = ToolChoice{};
  EXPECT_TRUE(encode(r).contains("tools"));
  r.options.tool_choice = ToolChoice{ToolChoice::Mode::required, ""};
  EXPECT_THROW(encode(r), InvalidArgumentError);
  r.options.tool_choice = ToolChoice::tool("f");
  EXPECT_THROW(encode(r), InvalidArgumentError);

  EXPECT_EQ(providers::ollama_base_url("0.0.0.0"), "http://127.0.0.1:11434");
  EXPECT_EQ(providers::ollama_base_url("example.com:8000"), "http://example.com:8000");
  EXPECT_EQ(providers::ollama_base_url(":9999"), "http://127.0.0.1:9999");
  EXPECT_EQ(providers::ollama_base_url("https://ollama.example.com/prefix/"), "https://ollama.example.com:443/prefix");
  EXPECT_EQ(providers::ollama_base_url("http://localhost:11434"), "http://localhost:11434");
  EXPECT_EQ(providers::ollama_base_url("[::1]:5000"), "http://[::1]:5000");
  EXPECT_EQ(providers::map_ollama_done_reason("load"), FinishReason::stop);
  EXPECT_EQ(providers::map_ollama_done_reason("length"), FinishReason::length);
}

TEST_F(OllamaTest, HttpErrorsMapToTypedErrors) {
  struct Case {
    int status;
    std::string body;
    errc expected;
  };
  const std::vector<Case> cases = {
      {404, R"({"error":"model 'nope' not found, try pulling it first"})", errc::model_not_found},
      {400, R"({"error":"invalid options"})", errc::invalid_request},
      {503, R"({"error":"server busy, please try again.  maximum pending requests exceeded"})", errc::overloaded},
      {500, R"({"error":"llama runner process has terminated"})", errc::server_error},
  };
  std::size_t next = 0;
  TestServer server(server_rt.get_executor(), [&](const RecordedRequest&) {
    const Case& c = cases[next++];
    return Transcript::response(c.status, c.body);
  });
  auto p = provider(server);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    try {
      p->generate(request());
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), c.expected) << e.what();
      EXPECT_EQ(e.http_status(), c.status);
      EXPECT_EQ(e.provider(), "ollama");
      EXPECT_NE(std::string(e.what()).find(bj::parse(c.body).at("error").as_string().c_str()),
                std::string::npos);
    }
  }
}

TEST_F(OllamaTest, ErrorLinesAndTruncatedStreams) {
  Decoded mid = decode_ndjson({test::join(test::ndjson_lines(
      {kToolLines[1], R"({"error":"an error was encountered while running the model"})"}))});
  EXPECT_TRUE(mid.error.starts_with("server_error")) << mid.error;
  EXPECT_EQ(mid.response.content, "Hel");
  Decoded truncated = decode_ndjson({test::join(test::ndjson_lines({kToolLines[1], kToolLines[2]}))});
  EXPECT_TRUE(truncated.error.starts_with("protocol_error")) << truncated.error;
  Decoded garbage = decode_ndjson({"{\"message\":\n"});
  EXPECT_TRUE(garbage.error.starts_with("protocol_error")) << garbage.error;

  TestServer server(server_rt.get_executor(), [](const RecordedRequest&) {
    return Transcript::chunked(200, test::ndjson_lines({kToolLines[1], R"({"error":"boom"})"}), 0ms,
                               0ms, "application/x-ndjson");
  });
  auto p = provider(server);
  Stream s = p->async_stream(request());
  try {
    while (s.next()) {
    }
    FAIL() << "no error";
  } catch (const ServerError& e) {
    ASSERT_NE(e.partial(), nullptr);
    EXPECT_EQ(e.partial()->content, "Hel");
  }
  EXPECT_THROW(p->generate(request()), Error);  // {"error"} as a whole body
}

TEST_F(OllamaTest, EveryTruncationAndCorruptionIsACleanError) {
  const std::string bytes = test::join(test::ndjson_lines(kToolLines));
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    Decoded cut = decode_ndjson({std::string_view(bytes).substr(0, i)});
    ASSERT_TRUE(cut.error.starts_with("protocol_error")) << i << ": " << cut.error;
    std::string corrupt = bytes;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    Decoded bad = decode_ndjson({corrupt});
    EXPECT_TRUE(bad.error.empty() || bad.error.find(": ollama: ") != std::string::npos) << bad.error;
  }
}

TEST_F(OllamaTest, ModelListingFromTags) {
  TestServer server(server_rt.get_executor(), [](const RecordedRequest& r) {
    EXPECT_EQ(r.target, "/api/tags");
    return Transcript::response(200, R"({"models":[
      {"name":"qwen3:0.6b","model":"qwen3:0.6b","modified_at":"2025-05-01T12:00:00.123456789-07:00","size":523,"digest":"ab","details":{"family":"qwen3"}},
      {"name":"llama3.2:latest","modified_at":"2024-01-01T00:00:00Z"}]})");
  });
  auto models = provider(server)->list_models();
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].id, "qwen3:0.6b");
  EXPECT_EQ(models[0].created, 1746126000);
  EXPECT_EQ(models[1].id, "llama3.2:latest");
  EXPECT_EQ(models[1].created, 1704067200);
  EXPECT_THROW(providers::decode_ollama_tags("[]", "ollama"), ProtocolError);
}

TEST_F(OllamaTest, RegistryEntry) {
  const ProviderRegistry registry = ProviderRegistry::builtin();
  auto info = registry.find("ollama");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->base_url_env, "OLLAMA_HOST");
  EXPECT_FALSE(info->requires_api_key);
  EXPECT_THROW(create_llm("ollama", test::loopback_config("", "", "", {{"num_ctx", "x"}}), client_rt),
               InvalidArgumentError);
}

}  // namespace
}  // namespace llmux
