// `llmux tokenize`: ids of the fixture model's prompt, --json, --add-special, --parse-special,
// and one-line errors for bad input.
#include <gtest/gtest.h>

#include "cli/cli_runner.hpp"

namespace llmux::test {
namespace {

const std::string kModel = std::string(LLMUX_TEST_DATA_DIR) + "/tokenizer/llama-f32.gguf";
// reference64.json, model "llama", prompt p0 (without its BOS).
const std::string kPrompt =
    "Return a new list containing all items from the iterable in ascending order.";
const std::string kIds =
    "419 470 420 325 261 281 420 446 303 425 307 279 274 421 424 259 275 261 428 428 271 269 "
    "437 426 388 268 271 405 384 270 365 429 273 430 275 297 430 262 438";

TEST(TokenizeCli, PrintsIdsSpaceSeparated) {
  auto r = run_cli({"tokenize", "--model", kModel, kPrompt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kIds + "\n");
  EXPECT_EQ(r.err, "");
}

TEST(TokenizeCli, JsonAndAddSpecial) {
  auto r = run_cli({"tokenize", "--model", kModel, "--json", "--add-special", "order."});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[1,297,430,262,438]\n");  // BOS, then " order." with the SPM space prefix
}

TEST(TokenizeCli, SpecialTokenTextStaysTextUnlessParsed) {
  auto plain = run_cli({"tokenize", "--model", kModel, "</s>"});
  auto parsed = run_cli({"tokenize", "--model", kModel, "--parse-special", "</s>"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_EQ(parsed.out, "2\n");
  EXPECT_NE(plain.out, "2\n");
  EXPECT_GT(plain.out.size(), 4u);
}

TEST(TokenizeCli, EmptyTextGivesAnEmptyLine) {
  auto r = run_cli({"tokenize", "--model", kModel, ""});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\n");
}

TEST(TokenizeCli, ErrorsAreOneLine) {
  auto missing = run_cli({"tokenize", "--model", "/nonexistent/model.gguf", "hi"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_EQ(count_lines(missing.err), 1) << missing.err;
  EXPECT_NE(missing.err.find("/nonexistent/model.gguf"), std::string::npos);
  auto not_gguf = run_cli({"tokenize", "--model", std::string(LLMUX_TEST_DATA_DIR) +
                                                      "/tokenizer/reference64.json", "hi"});
  EXPECT_NE(not_gguf.exit_code, 0);
  EXPECT_NE(not_gguf.err.find("not a GGUF file"), std::string::npos) << not_gguf.err;
  auto no_model = run_cli({"tokenize", "hi"});
  EXPECT_EQ(no_model.exit_code, 2);
  EXPECT_EQ(count_lines(no_model.err), 1) << no_model.err;
}

}  // namespace
}  // namespace llmux::test
