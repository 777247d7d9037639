#include "engine/sampling/stop_matcher.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace llmux::engine::sampling {
namespace {

struct Run {
  std::vector<std::string> emitted;  // each non-empty piece, in order
  std::string text;                  // their concatenation, flush included
  bool stopped = false;
};

Run run(const std::vector<std::string>& stops, const std::vector<std::string>& deltas) {
  StopMatcher m(stops);
  Run r;
  for (const auto& d : deltas) {
    auto res = m.feed(d);
    if (!res.text.empty()) r.emitted.push_back(res.text);
    r.text += res.text;
    if (res.stopped) {
      r.stopped = true;
      break;
    }
  }
  const auto rest = m.flush();
  if (!rest.empty()) r.emitted.push_back(rest);
  r.text += rest;
  return r;
}

std::vector<std::string> bytes(std::string_view s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}

TEST(StopMatcher, PassesTextWithoutStops) {
  const auto r = run({}, {"Hello", ", ", "world"});
  EXPECT_EQ(r.text, "Hello, world");
  EXPECT_EQ(r.emitted, (std::vector<std::string>{"Hello", ", ", "world"}));
  EXPECT_FALSE(r.stopped);
}

TEST(StopMatcher, StopInsideOneDelta) {
  StopMatcher m({"END"});
  const auto res = m.feed("abc END def");
  EXPECT_TRUE(res.stopped);
  EXPECT_EQ(res.text, "abc ");
  EXPECT_EQ(m.matched(), "END");
  EXPECT_EQ(m.flush(), "");
  const auto after = m.feed("more");
  EXPECT_TRUE(after.stopped);
  EXPECT_EQ(after.text, "");
}

TEST(StopMatcher, HoldsBackAPossibleStopAcrossDeltas) {
  StopMatcher m({"</end>"});
  auto r = m.feed("value </e");
  EXPECT_EQ(r.text, "value ");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(m.held(), 3u);
  r = m.feed("n");
  EXPECT_EQ(r.text, "");
  r = m.feed("d> tail");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
}

TEST(StopMatcher, ReleasesAFalseStartOnceItCannotMatch) {
  StopMatcher m({"</end>"});
  EXPECT_EQ(m.feed("a </e").text, "a ");
  EXPECT_EQ(m.feed("x").text, "</ex");
  EXPECT_EQ(m.feed("</").text, "");
  EXPECT_EQ(m.flush(), "</");
}

TEST(StopMatcher, ByteByByteEqualsWhole) {
  const std::string text = "one two ##thr##ee ## four###STOP five";
  const std::vector<std::string> stops{"###STOP", "xyz"};
  const auto whole = run(stops, {text});
  const auto split = run(stops, bytes(text));
  EXPECT_EQ(whole.text, "one two ##thr##ee ## four");
  EXPECT_EQ(split.text, whole.text);
  EXPECT_TRUE(whole.stopped);
  EXPECT_TRUE(split.stopped);
}

TEST(StopMatcher, TheStopThatCompletesFirstWins) {
  StopMatcher m({"world", "lo"});
  const auto r = m.feed("hello world");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "hel");
  EXPECT_EQ(m.matched(), "lo");
  // "abcd" starts first but "bc" completes first: streaming cannot wait for "abcd", so a whole
  // feed does the same.
  for (const auto& deltas : {std::vector<std::string>{"xab", "cd"}, std::vector<std::string>{"xabcd"}}) {
    StopMatcher n({"abcd", "bc"});
    std::string text;
    bool stopped = false;
    for (const auto& d : deltas) {
      const auto s = n.feed(d);
      text += s.text;
      stopped = s.stopped;
    }
    EXPECT_TRUE(stopped);
    EXPECT_EQ(text, "xa");
    EXPECT_EQ(n.matched(), "bc");
  }
  // Same end: the longer (earlier-starting) stop.
  StopMatcher t({"cd", "bcd"});
  EXPECT_EQ(t.feed("abcde").text, "a");
  EXPECT_EQ(t.matched(), "bcd");
}

TEST(StopMatcher, OverlappingPrefixesOfTheStop) {
  // "aab" inside "aaab": the hold-back must keep the longest possible start.
  const auto r = run({"aab"}, bytes("xaaab!"));
  EXPECT_EQ(r.text, "xa");
  EXPECT_TRUE(r.stopped);
}

TEST(StopMatcher, IgnoresEmptyStops) {
  const auto r = run({"", "Z"}, {"abc"});
  EXPECT_EQ(r.text, "abc");
  EXPECT_FALSE(r.stopped);
}

TEST(StopMatcher, NeverEmitsHalfAUtf8Character) {
  // "é" is C3 A9, "€" is E2 82 AC. Deltas that split them come out whole, and a stop
  // string that starts with the same lead byte as the text does not split the text either.
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC!";
  StopMatcher m({"\xE2\x82\xAD"});  // U+20AD shares E2 82 with the euro sign
  std::vector<std::string> pieces;
  for (const auto& b : bytes(text)) {
    const auto r = m.feed(b);
    EXPECT_FALSE(r.stopped);
    if (!r.text.empty()) pieces.push_back(r.text);
  }
  if (auto rest = m.flush(); !rest.empty()) pieces.push_back(rest);
  std::string joined;
  for (const auto& p : pieces) {
    joined += p;
    // every piece is whole UTF-8: it does not start with a continuation byte
    ASSERT_FALSE(p.empty());
    EXPECT_NE(static_cast<unsigned char>(p.front()) & 0xC0, 0x80) << p;
  }
  EXPECT_EQ(joined, text);
  EXPECT_EQ(pieces.front(), "c");
  EXPECT_TRUE(std::find(pieces.begin(), pieces.end(), "\xC3\xA9") != pieces.end());
  EXPECT_TRUE(std::find(pieces.begin(), pieces.end(), "\xE2\x82\xAC") != pieces.end());
}

TEST(StopMatcher, StopMadeOfMultibyteCharacters) {
  const auto r = run({"\xE3\x80\x82"}, bytes("\xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80\x82\xE5\x86\x8D"));
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "\xE4\xBD\xA0\xE5\xA5\xBD");
}

TEST(StopMatcher, InvalidBytesPassThrough) {
  const auto r = run({"zz"}, {"a\xFF", "b\xC3", "("});
  EXPECT_EQ(r.text, "a\xFF" "b\xC3(");
  EXPECT_EQ(r.emitted.front(), "a\xFF");
}

}  // namespace
}  // namespace llmux::engine::sampling
