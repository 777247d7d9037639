// The fake provider's configuration, its deterministic plan, and the provider registry.
#include <cstdlib>

#include <gtest/gtest.h>

#include <llmux/llmux.hpp>

#include "providers/fake.hpp"

namespace llmux {
namespace {

using providers::parse_fake_settings;
using providers::plan_fake_response;

ProviderConfig with_options(std::map<std::string, std::string> options) {
  ProviderConfig c;
  c.options = std::move(options);
  return c;
}

TEST(FakeSettings, ParsesEveryOption) {
  auto s = parse_fake_settings(with_options({{"latency_ms", "7"},
                                             {"ttft_ms", "12.4"},
                                             {"tokens_per_second", "33.5"},
                                             {"output_tokens", "9"},
                                             {"fail", "overloaded"},
                                             {"fail_first", "2"},
                                             {"fail_rate", "0.25"},
                                             {"fail_seed", "42"},
                                             {"fail_after_tokens", "3"},
                                             {"retry_after_ms", "1500"}}));
  EXPECT_EQ(s.latency, std::chrono::milliseconds(7));
  EXPECT_EQ(s.ttft, std::chrono::milliseconds(12));
  EXPECT_DOUBLE_EQ(s.tokens_per_second, 33.5);
  EXPECT_EQ(s.output_tokens, 9);
  EXPECT_EQ(s.fail, errc::overloaded);
  EXPECT_EQ(s.fail_first, 2);
  EXPECT_DOUBLE_EQ(s.fail_rate, 0.25);
  EXPECT_EQ(s.fail_seed, 42u);
  EXPECT_EQ(s.fail_after_tokens, 3);
  EXPECT_EQ(s.retry_after, std::chrono::milliseconds(1500));
}

TEST(FakeSettings, RejectsBadValuesWithClearErrors) {
  const std::vector<std::map<std::string, std::string>> bad = {
      {{"ttft_ms", "soon"}},        {{"ttft_ms", "-1"}},          {{"latency_ms", "1e300"}},
      {{"output_tokens", "-2"}},    {{"output_tokens", "3x"}},    {{"tokens_per_second", "inf"}},
      {{"fail", "meltdown"}},       {{"fail_rate", "1.5"}},       {{"fail_first", "1"}},
      {{"no_such_option", "1"}},    {{"fail_after_tokens", "2"}}, {{"tokens_per_second", ""}}};
  for (const auto& options : bad) {
    SCOPED_TRACE(options.begin()->first + "=" + options.begin()->second);
    EXPECT_THROW(parse_fake_settings(with_options(options)), InvalidArgumentError);
  }
}

TEST(FakeSettings, FailAloneFailsEveryRequest) {
  auto s = parse_fake_settings(with_options({{"fail", "timeout"}}));
  EXPECT_DOUBLE_EQ(s.fail_rate, 1.0);
}

TEST(FakeProvider, FailFirstThenSucceeds) {
  Runtime rt(1);
  ProviderConfig c = with_options({{"fail", "server_error"}, {"fail_first", "2"}});
  auto p = create_llm("fake", c, rt);
  Request r;
  r.messages = {Message::user("hi")};
  EXPECT_THROW(p->generate(r), ServerError);
  EXPECT_THROW(p->generate(r), ServerError);
  EXPECT_NO_THROW(p->generate(r));
}

TEST(FakeProvider, FailRateIsDeterministicAndRoughlyRight) {
  Runtime rt(1);
  auto run = [&] {
    auto p = create_llm("fake", with_options({{"fail", "rate_limited"}, {"fail_rate", "0.3"},
                                              {"fail_seed", "7"}}), rt);
    std::string pattern;
    Request r;
    r.messages = {Message::user("hi")};
    for (int i = 0; i < 200; ++i) {
      try {
        p->generate(r);
        pattern += '.';
      } catch (const RateLimitError&) {
        pattern += 'x';
      }
    }
    return pattern;
  };
  std::string a = run();
  EXPECT_EQ(a, run());
  auto failures = std::count(a.begin(), a.end(), 'x');
  EXPECT_GT(failures, 35);
  EXPECT_LT(failures, 85);
}

TEST(FakePlan, JsonResponseFormatGivesAJsonObject) {
  Request r;
  r.messages = {Message::user("give me json")};
  r.options.response_format.kind = ResponseFormat::Kind::json_object;
  auto plan = plan_fake_response(r, providers::FakeSettings{});
  std::string text;
  for (auto& p : plan.pieces) text += p;
  EXPECT_TRUE(text.starts_with("{\"text\": \"")) << text;
  EXPECT_TRUE(text.ends_with("\"}")) << text;
}

TEST(FakePlan, UnknownForcedToolIsAnInvalidRequest) {
  Request r;
  r.messages = {Message::user("x")};
  r.options.tools = {ToolDefinition{"a", "", "{}"}};
  r.options.tool_choice = ToolChoice::tool("b");
  EXPECT_THROW(plan_fake_response(r, providers::FakeSettings{}), InvalidRequestError);
}

TEST(Registry, UnknownProviderListsTheKnownOnes) {
  Runtime rt(1);
  try {
    create_llm("nope", {}, rt);
    FAIL();
  } catch (const UnknownProviderError& e) {
    EXPECT_NE(std::string(e.what()).find("fake"), std::string::npos);
  }
}

TEST(Registry, CustomProvidersAndEnvironmentResolution) {
  Runtime rt(1);
  ProviderRegistry registry = ProviderRegistry::builtin();
  std::string seen_url, seen_key;
  ProviderInfo info;
  info.name = "custom";
  info.default_base_url = "http://localhost:9/v1";
  info.base_url_env = "LLMUX_TEST_CUSTOM_URL";
  info.api_key_env = "LLMUX_TEST_CUSTOM_KEY";
  info.requires_api_key = true;
  info.create = [&](Executor ex, const ProviderConfig& c) {
    seen_url = c.base_url;
    seen_key = c.api_key;
    return create_llm("fake", {}, std::move(ex));
  };
  const std::size_t builtin = registry.list().size();
  registry.add(info);
  ASSERT_NE(registry.find("custom"), nullptr);
  EXPECT_EQ(registry.list().size(), builtin + 1);
  registry.add(info);  // replaces, does not duplicate
  EXPECT_EQ(registry.list().size(), builtin + 1);

  ::unsetenv("LLMUX_TEST_CUSTOM_KEY");
  EXPECT_THROW(registry.create("custom", {}, rt.get_executor()), AuthenticationError);

  ::setenv("LLMUX_TEST_CUSTOM_KEY", "sk-env", 1);
  ::setenv("LLMUX_TEST_CUSTOM_URL", "http://127.0.0.1:1234/v1", 1);
  registry.create("custom", {}, rt.get_executor());
  EXPECT_EQ(seen_key, "sk-env");
  EXPECT_EQ(seen_url, "http://127.0.0.1:1234/v1");

  ProviderConfig explicit_config;
  explicit_config.api_key = "sk-arg";
  explicit_config.base_url = "http://127.0.0.1:5/v1";
  registry.create("custom", explicit_config, rt.get_executor());
  EXPECT_EQ(seen_key, "sk-arg");
  EXPECT_EQ(seen_url, "http://127.0.0.1:5/v1");

  ::unsetenv("LLMUX_TEST_CUSTOM_URL");
  ProviderConfig no_env;
  no_env.api_key = "k";
  no_env.use_environment = false;
  registry.create("custom", no_env, rt.get_executor());
  EXPECT_EQ(seen_url, "http://localhost:9/v1");
  ::unsetenv("LLMUX_TEST_CUSTOM_KEY");

  EXPECT_THROW(registry.add(ProviderInfo{}), InvalidArgumentError);
}

}  // namespace
}  // namespace llmux
