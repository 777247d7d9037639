// `llmux bench client` against `llmux mock-server` (and the offline fake provider): the --json
// shape of DESIGN.md, the text table, and its errors. No timing assertions.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "cli/cli_runner.hpp"
#include "cli/mock_server_process.hpp"

namespace llmux::test {
namespace {

namespace bj = boost::json;

std::vector<std::string> keys(const bj::object& o) {
  std::vector<std::string> k;
  for (const auto& kv : o) k.emplace_back(kv.key());
  return k;
}

const std::vector<std::string> kRunKeys = {"c", "wall_s", "rps", "output_tok_s", "speedup",
                                           "ttft_ms_p50", "latency_ms_p50", "latency_ms_p90",
                                           "latency_ms_p99", "errors"};

TEST(BenchClientCli, JsonShapeAgainstTheMockServer) {
  MockServerProcess server({"--slots", "4", "--output-tokens", "5", "--tok-per-s", "2000"});
  ASSERT_FALSE(server.base_url().empty()) << server.stderr_text();
  for (bool stream : {false, true}) {
    std::vector<std::string> args = {"bench", "client", "--provider", "openai-compatible", "--model", "m",
                                     "--base-url", server.base_url() + "/v1", "--requests", "8",
                                     "--concurrency", "1,2,8", "--json"};
    if (stream) args.push_back("--stream");
    auto r = run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;  // no progress line: stderr is not a terminal
    EXPECT_EQ(count_lines(r.out), 1);
    bj::value v = bj::parse(r.out);
    const bj::object& o = v.as_object();
    EXPECT_EQ(keys(o), (std::vector<std::string>{"sequential_s", "runs"}));
    EXPECT_GT(o.at("sequential_s").to_number<double>(), 0);
    const bj::array& runs = o.at("runs").as_array();
    ASSERT_EQ(runs.size(), 3u);
    const std::int64_t levels[] = {1, 2, 8};
    for (std::size_t i = 0; i < runs.size(); ++i) {
      const bj::object& run = runs[i].as_object();
      EXPECT_EQ(keys(run), kRunKeys);
      EXPECT_EQ(run.at("c").to_number<std::int64_t>(), levels[i]);
      EXPECT_EQ(run.at("errors").to_number<std::int64_t>(), 0);
      for (const char* k : {"wall_s", "rps", "output_tok_s", "speedup", "latency_ms_p50"}) {
        EXPECT_GT(run.at(k).to_number<double>(), 0) << k;
      }
      EXPECT_LE(run.at("latency_ms_p50").to_number<double>(), run.at("latency_ms_p90").to_number<double>());
      EXPECT_LE(run.at("latency_ms_p90").to_number<double>(), run.at("latency_ms_p99").to_number<double>());
      // 8 requests x 5 tokens in wall_s seconds.
      EXPECT_NEAR(run.at("output_tok_s").to_number<double>() * run.at("wall_s").to_number<double>(), 40, 0.5);
      // TTFT is measured when streaming; a non-streaming OpenAI answer has none.
      EXPECT_EQ(run.at("ttft_ms_p50").is_null(), !stream);
    }
  }
  server.stop();
  // 2 modes x (sequential + 3 levels) x 8 requests.
  EXPECT_NE(server.stderr_text().find("64 admitted, 64 completed"), std::string::npos)
      << server.stderr_text();
}

TEST(BenchClientCli, TextTableWithTheOfflineFakeProvider) {
  auto r = run_cli({"bench", "client", "--provider", "fake", "--requests", "6", "--concurrency",
                    "3", "-o", "ttft_ms=5", "--max-tokens", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("6 requests to fake"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nsequential "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nc=3 "), std::string::npos) << r.out;
}

TEST(BenchClientCli, CountsFailedRequests) {
  // Half of the requests fail (seeded): the run goes on and counts them.
  MockServerProcess server({"--error-rate", "0.5", "--seed", "3"});
  ASSERT_FALSE(server.base_url().empty());
  auto r = run_cli({"bench", "client", "--provider", "openai-compatible", "--model", "m", "--base-url",
                    server.base_url() + "/v1", "--requests", "20", "--concurrency", "4", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const bj::value v = bj::parse(r.out);
  const auto errors = v.at("runs").at(0).at("errors").to_number<std::int64_t>();
  EXPECT_GT(errors, 0);
  EXPECT_LT(errors, 20);
  EXPECT_NE(r.err.find("failed requests; first:"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(BenchClientCli, EveryRequestFailingIsAnError) {
  MockServerProcess server({"--error-rate", "1", "--error-status", "429"});
  ASSERT_FALSE(server.base_url().empty());
  auto r = run_cli({"bench", "client", "--provider", "openai-compatible", "--model", "m", "--base-url",
                    server.base_url() + "/v1", "--requests", "3", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("rate"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(BenchClientCli, RejectsBadArguments) {
  for (const std::vector<std::string>& extra :
       std::vector<std::vector<std::string>>{{"--requests", "4", "--concurrency", "1,x"},
                                             {"--requests", "4", "--concurrency", "0"},
                                             {"--requests", "4", "--concurrency", ""},
                                             {"--requests", "0"},
                                             {"--concurrency", "2"},
                                             {"--requests", "2", "--provider", "nope"}}) {
    std::vector<std::string> args = {"bench", "client"};
    if (std::find(extra.begin(), extra.end(), "--provider") == extra.end()) {
      args.insert(args.end(), {"--provider", "fake"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_cli(args);
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
  }
  EXPECT_EQ(run_cli({"bench"}).exit_code, 2);  // a child command is required
}

}  // namespace
}  // namespace llmux::test
