#include <llmux/error.hpp>

#include <gtest/gtest.h>

namespace llmux {
namespace {

TEST(Error, MakeErrorGivesTheTypedSubclass) {
  ErrorInfo info;
  info.provider = "openai";
  info.http_status = 429;
  info.retry_after = std::chrono::milliseconds(1500);
  auto e = make_error(errc::rate_limited, "slow down", info);
  try {
    std::rethrow_exception(e);
  } catch (const RateLimitError& err) {
    EXPECT_EQ(err.code(), errc::rate_limited);
    EXPECT_STREQ(err.what(), "slow down");
    EXPECT_EQ(err.provider(), "openai");
    EXPECT_EQ(err.http_status(), 429);
    EXPECT_EQ(err.retry_after(), std::chrono::milliseconds(1500));
    EXPECT_EQ(err.error_code(), make_error_code(errc::rate_limited));
    return;
  }
  FAIL() << "not a RateLimitError";
}

TEST(Error, EveryCodeRoundTripsThroughItsNameAndClass) {
  for (int i = static_cast<int>(errc::authentication); i <= static_cast<int>(errc::invalid_output);
       ++i) {
    auto code = static_cast<errc>(i);
    auto name = to_string(code);
    EXPECT_NE(name, "unknown") << i;
    EXPECT_EQ(errc_from_string(name), code) << name;
    EXPECT_EQ(error_code_of(make_error(code, "x")), code) << name;
    EXPECT_NE(error_category().message(i), "unknown llmux error") << name;
  }
  EXPECT_EQ(errc_from_string("nonsense"), std::nullopt);
  EXPECT_EQ(error_code_of(std::make_exception_ptr(std::runtime_error("x"))), std::nullopt);
  EXPECT_EQ(error_code_of(nullptr), std::nullopt);
}

TEST(Error, ErrorCodesCompareWithStandardConditions) {
  std::error_code ec = errc::timeout;
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(std::error_code(errc::cancelled), std::errc::operation_canceled);
  EXPECT_STREQ(ec.category().name(), "llmux");
}

TEST(Error, RetryableClassification) {
  EXPECT_TRUE(is_retryable(errc::rate_limited));
  EXPECT_TRUE(is_retryable(errc::overloaded));
  EXPECT_TRUE(is_retryable(errc::connection_error));
  EXPECT_FALSE(is_retryable(errc::authentication));
  EXPECT_FALSE(is_retryable(errc::invalid_request));
  EXPECT_FALSE(is_retryable(errc::cancelled));
}

}  // namespace
}  // namespace llmux
