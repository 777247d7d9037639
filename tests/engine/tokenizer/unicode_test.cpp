// UTF-8 sanitizing, incomplete-tail detection, NFC and the byte-level map.
#include <gtest/gtest.h>

#include "engine/tokenizer/unicode.hpp"

namespace llmux::engine::tokenizer {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, SanitizeReplacesEachMaximalSubpartOnce) {
  EXPECT_EQ(sanitize_utf8("abc"), "abc");
  EXPECT_EQ(sanitize_utf8("a\x80z"), "a" + kFffd + "z");
  EXPECT_EQ(sanitize_utf8("\xE2\x82 x"), kFffd + " x");             // truncated 3-byte: one
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98"), kFffd);                   // truncated 4-byte: one
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), kFffd + kFffd);               // overlong: two
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);   // surrogate: three
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(sanitize_utf8("\xFF"), kFffd);
  EXPECT_EQ(sanitize_utf8("\xE4\xBD\xA0\xE5\xA5"), "\xE4\xBD\xA0" + kFffd);
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x8D\x95"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x8D"));
}

TEST(Utf8, IncompleteTailOnlyForValidPrefixes) {
  EXPECT_EQ(incomplete_utf8_tail(""), 0u);
  EXPECT_EQ(incomplete_utf8_tail("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("a\xF0"), 1u);
  EXPECT_EQ(incomplete_utf8_tail("a\xF0\x9F"), 2u);
  EXPECT_EQ(incomplete_utf8_tail("a\xF0\x9F\x8D"), 3u);
  EXPECT_EQ(incomplete_utf8_tail("a\xF0\x9F\x8D\x95"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("a\xC3"), 1u);
  EXPECT_EQ(incomplete_utf8_tail("a\xE0\x80"), 0u);  // can never complete: not held back
  EXPECT_EQ(incomplete_utf8_tail("a\x80"), 0u);
}

TEST(Utf8, NfcComposes) {
  EXPECT_EQ(nfc("cafe\xCC\x81"), "caf\xC3\xA9");
  EXPECT_EQ(nfc("\xE2\x84\xAB"), "\xC3\x85");  // U+212B ANGSTROM SIGN -> U+00C5
  EXPECT_EQ(nfc("plain ascii"), "plain ascii");
}

TEST(ByteLevel, MapsAllBytesReversibly) {
  ByteLevelMap m;
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string encoded;
  m.encode_append(encoded, all);
  EXPECT_TRUE(is_valid_utf8(encoded));
  EXPECT_EQ(m.decode(encoded), all);
  EXPECT_EQ(m.encode(' '), "\xC4\xA0");   // U+0120 'Ġ'
  EXPECT_EQ(m.encode('\n'), "\xC4\x8A");  // U+010A 'Ċ'
  EXPECT_EQ(m.encode('A'), "A");
  EXPECT_EQ(m.decode("\xE4\xB8\x80"), std::nullopt);  // not a byte-level character
}

}  // namespace
}  // namespace llmux::engine::tokenizer
