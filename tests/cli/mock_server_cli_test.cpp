// `llmux mock-server` as a process: startup line, option errors, clean stop on SIGTERM.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "cli/cli_runner.hpp"
#include "cli/mock_server_process.hpp"

namespace llmux::test {
namespace {

TEST(MockServerCli, ServesUntilSigtermThenReports) {
  MockServerProcess server({"--slots", "4", "--ttft-ms", "1", "--output-tokens", "3", "--seed", "1"});
  ASSERT_FALSE(server.base_url().empty()) << server.first_line() << server.stderr_text();
  EXPECT_NE(server.first_line().find("slots 4"), std::string::npos) << server.first_line();
  auto r = run_cli({"generate", "--provider", "openai-compatible", "--model", "m", "--base-url",
                    server.base_url() + "/v1", "--json", "hi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto v = boost::json::parse(r.out);
  EXPECT_EQ(v.at("usage").at("output_tokens").as_int64(), 3);
  EXPECT_EQ(v.at("model").as_string(), "m");
  EXPECT_EQ(server.stop(), 0);
  EXPECT_NE(server.stderr_text().find("1 admitted, 1 completed"), std::string::npos)
      << server.stderr_text();
}

TEST(MockServerCli, ErrorRateOneFailsEveryRequest) {
  MockServerProcess server({"--error-rate", "1", "--error-status", "503"});
  ASSERT_FALSE(server.base_url().empty()) << server.stderr_text();
  auto r = run_cli({"generate", "--provider", "openai-compatible", "--model", "m", "--base-url",
                    server.base_url() + "/v1", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("503"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(MockServerCli, RejectsBadOptionsWithOneLine) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"mock-server"},
                                             {"mock-server", "--port", "70000"},
                                             {"mock-server", "--port", "0", "--slots", "0"},
                                             {"mock-server", "--port", "0", "--error-rate", "2"},
                                             {"mock-server", "--port", "0", "--tok-per-s", "-1"},
                                             {"mock-server", "--port", "0", "--error-status", "200"},
                                             {"mock-server", "--port", "x"}}) {
    auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST(MockServerCli, PortInUseIsAClearError) {
  MockServerProcess first({});
  ASSERT_FALSE(first.base_url().empty());
  const std::string port = first.base_url().substr(first.base_url().rfind(':') + 1);
  auto r = run_cli({"mock-server", "--port", port});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("llmux: error"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace llmux::test
