// Pre-tokenizer splits on Oniguruma for each family's regexes.
#include <gtest/gtest.h>

#include <llmux/error.hpp>

#include "engine/tokenizer/pretokenizer.hpp"

namespace llmux::engine::tokenizer {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(std::string_view pre, std::string_view text) {
  Pretokenizer p(pretokenizer_regexes(pre));
  Pieces out;
  for (auto s : p.split(text)) out.emplace_back(s);
  return out;
}

TEST(Pretokenizer, Gpt2) {
  EXPECT_EQ(split("gpt-2", "Hello world's  end\n"),
            (Pieces{"Hello", " world", "'s", " ", " end", "\n"}));
  EXPECT_EQ(split("gpt-2", "12345"), (Pieces{"12345"}));
}

TEST(Pretokenizer, Llama3GroupsDigitsByThreeAndFoldsContractionCase) {
  EXPECT_EQ(split("llama-bpe", "12345 IT'S"), (Pieces{"123", "45", " IT", "'S"}));
  EXPECT_EQ(split("llama-bpe", "a  \n\n b"), (Pieces{"a", "  \n\n", " b"}));
}

TEST(Pretokenizer, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("qwen2", "x=123"), (Pieces{"x", "=", "1", "2", "3"}));
}

TEST(Pretokenizer, SmollmSplitsDigitsFirst) {
  EXPECT_EQ(split("smollm", "ab 42"), (Pieces{"ab", " ", "4", "2"}));
}

TEST(Pretokenizer, TekkenSplitsCamelCase) {
  EXPECT_EQ(split("tekken", "getHTTPResponse 42"),
            (Pieces{"get", "HTTPResponse", " ", "4", "2"}));
}

TEST(Pretokenizer, U180EIsNotWhitespaceButNbspIs) {
  // Oniguruma's \s follows Unicode White_Space: U+00A0 yes, U+180E (a format character) no.
  EXPECT_EQ(split("gpt-2", "a \xC2\xA0 b"), (Pieces{"a", " \xC2\xA0", " b"}));
  EXPECT_EQ(split("gpt-2", "a \xE1\xA0\x8E b"), (Pieces{"a", " \xE1\xA0\x8E", " b"}));
}

TEST(Pretokenizer, PiecesAlwaysConcatenateToTheInput) {
  const std::string text = "  mixed \t\r\n ünï 😀😀 42,000.5 don't\n\n  ";
  for (const char* pre : {"gpt-2", "llama-bpe", "qwen2", "smollm", "tekken"}) {
    std::string joined;
    for (const auto& p : split(pre, text)) {
      EXPECT_FALSE(p.empty());
      joined += p;
    }
    EXPECT_EQ(joined, text) << pre;
  }
}

TEST(Pretokenizer, UnknownNamesHaveNoRegexAndBadRegexesThrow) {
  EXPECT_TRUE(pretokenizer_regexes("no-such-family").empty());
  EXPECT_THROW(Pretokenizer({"(unclosed"}), Error);
}

}  // namespace
}  // namespace llmux::engine::tokenizer
