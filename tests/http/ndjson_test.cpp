#include "http/ndjson.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <llmux/error.hpp>

namespace llmux::http {
namespace {

using Lines = std::vector<std::string>;

Lines decode_chunks(const std::vector<std::string_view>& chunks, std::size_t limit = 16 << 20) {
  NdjsonDecoder decoder(limit);
  Lines lines;
  for (std::string_view chunk : chunks) decoder.feed(chunk, lines);
  decoder.finish(lines);
  return lines;
}

Lines decode(std::string_view stream) { return decode_chunks({stream}); }

TEST(NdjsonDecoder, SeveralObjectsInOneRead) {
  NdjsonDecoder decoder;
  Lines lines;
  decoder.feed("{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n", lines);
  EXPECT_EQ(lines, (Lines{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  decoder.finish(lines);
  EXPECT_EQ(lines.size(), 3u);
}

TEST(NdjsonDecoder, ObjectSplitAcrossReads) {
  NdjsonDecoder decoder;
  Lines lines;
  decoder.feed("{\"message\":{\"content\":\"Hel", lines);
  EXPECT_TRUE(lines.empty()) << "a line is delivered only once complete";
  decoder.feed("lo\"}}\n{\"do", lines);
  EXPECT_EQ(lines, (Lines{"{\"message\":{\"content\":\"Hello\"}}"}));
  decoder.feed("ne\":true}", lines);
  decoder.feed("\n", lines);
  EXPECT_EQ(lines, (Lines{"{\"message\":{\"content\":\"Hello\"}}", "{\"done\":true}"}));
}

TEST(NdjsonDecoder, CrlfLineEndingsEvenWhenSplit) {
  EXPECT_EQ(decode("{\"a\":1}\r\n{\"b\":2}\r\n"), (Lines{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(decode_chunks({"{\"a\":1}\r", "\n{\"b\":2}\r", "\n"}), (Lines{"{\"a\":1}", "{\"b\":2}"}));
  // Only one CR belongs to the line ending.
  EXPECT_EQ(decode("x\r\r\n"), (Lines{"x\r"}));
}

TEST(NdjsonDecoder, LoneCrIsNotALineEnding) {
  EXPECT_EQ(decode("{\"a\":1}\r{\"b\":2}\n"), (Lines{"{\"a\":1}\r{\"b\":2}"}));
}

TEST(NdjsonDecoder, BlankLinesAreSkipped) {
  EXPECT_EQ(decode("\n\n{\"a\":1}\n\r\n  \n\t \r\n{\"b\":2}\n\n"), (Lines{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(decode("\n \n"), Lines{});
  // Surrounding whitespace of a non-blank line is kept: the JSON parser accepts it.
  EXPECT_EQ(decode("  {\"a\":1} \n"), (Lines{"  {\"a\":1} "}));
}

TEST(NdjsonDecoder, FinalLineWithoutNewlineIsDeliveredByFinish) {
  NdjsonDecoder decoder;
  Lines lines;
  decoder.feed("{\"a\":1}\n{\"done\":true}", lines);
  EXPECT_EQ(lines, (Lines{"{\"a\":1}"}));
  decoder.finish(lines);
  EXPECT_EQ(lines, (Lines{"{\"a\":1}", "{\"done\":true}"}));
  EXPECT_EQ(decode("{\"done\":true}\r"), (Lines{"{\"done\":true}"}));
  EXPECT_EQ(decode("{\"a\":1}\n  "), (Lines{"{\"a\":1}"})) << "a blank final line is skipped";
}

TEST(NdjsonDecoder, FinishStartsANewStream) {
  NdjsonDecoder decoder;
  Lines lines;
  decoder.feed("{\"a\"", lines);
  decoder.finish(lines);
  decoder.feed(":1}\n", lines);
  EXPECT_EQ(lines, (Lines{"{\"a\"", ":1}"}));
}

TEST(NdjsonDecoder, Utf8IsPassedThroughUnchangedWhenSplit) {
  const std::string text = "{\"c\":\"caf\xC3\xA9 \xF0\x9F\x8C\x8D\"}\n";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    const std::string_view v(text);
    EXPECT_EQ(decode_chunks({v.substr(0, cut), v.substr(cut)}),
              (Lines{"{\"c\":\"caf\xC3\xA9 \xF0\x9F\x8C\x8D\"}"}))
        << "cut at " << cut;
  }
}

TEST(NdjsonDecoder, LineOverLimitThrowsProtocolError) {
  EXPECT_EQ(decode_chunks({std::string(8, 'x') + "\n"}, 8), (Lines{std::string(8, 'x')}));
  // A CRLF does not count, even when its CR arrives in its own read.
  EXPECT_EQ(decode_chunks({std::string(8, 'x'), "\r", "\n"}, 8), (Lines{std::string(8, 'x')}));

  NdjsonDecoder decoder(8);
  Lines lines;
  decoder.feed("{\"a\":1}\n", lines);
  try {
    decoder.feed("{\"b\":222}\n", lines);
    FAIL() << "expected a ProtocolError";
  } catch (const ProtocolError& e) {
    EXPECT_EQ(e.code(), errc::protocol_error);
    EXPECT_NE(std::string(e.what()).find("limit"), std::string::npos) << e.what();
  }
  EXPECT_EQ(lines, (Lines{"{\"a\":1}"}));
  EXPECT_THROW(decoder.feed("{}\n", lines), ProtocolError) << "the decoder stays failed";
  decoder.finish(lines);
  EXPECT_EQ(lines.size(), 1u) << "nothing is delivered after a limit error";
  decoder.feed("{}\n", lines);
  EXPECT_EQ(lines, (Lines{"{\"a\":1}", "{}"})) << "a new stream works again";
}

TEST(NdjsonDecoder, UnterminatedLineOverLimitThrowsBeforeItsEnd) {
  NdjsonDecoder decoder(8);
  Lines lines;
  decoder.feed(std::string(8, 'x'), lines);
  decoder.feed("\r", lines);  // may still be a CRLF
  EXPECT_THROW(decoder.feed("y", lines), ProtocolError);

  NdjsonDecoder bytewise(8);
  const std::string long_line(20, 'z');
  std::size_t fed = 0;
  EXPECT_THROW(
      {
        for (; fed < long_line.size(); ++fed) {
          bytewise.feed(std::string_view(long_line).substr(fed, 1), lines);
        }
      },
      ProtocolError);
  EXPECT_EQ(fed, 8u) << "the 9th byte of the line is refused";
}

TEST(NdjsonDecoder, ShortStreamSplitIntoThreePiecesAtEveryPairOfPositions) {
  constexpr std::string_view stream = "{\"a\":\"\xC3\xA9\"}\r\n\r\n \n{}\n\r{\"b\":1}\r";
  const Lines want = {"{\"a\":\"\xC3\xA9\"}", "{}", "\r{\"b\":1}"};
  ASSERT_EQ(decode(stream), want);
  for (std::size_t a = 0; a <= stream.size(); ++a) {
    for (std::size_t b = a; b <= stream.size(); ++b) {
      ASSERT_EQ(decode_chunks({stream.substr(0, a), stream.substr(a, b - a), stream.substr(b)}), want)
          << "cuts at " << a << " and " << b;
    }
  }
}

// An Ollama /api/chat stream: several objects in some reads, CRLF from a proxy, blank lines, a
// final object without newline.
constexpr std::string_view kTranscript =
    "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"H\xC3\xA9\"},\"done\":false}\n"
    "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"llo \xF0\x9F\x8C\x8D\"},"
    "\"done\":false}\r\n"
    "\n"
    "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{"
    "\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1}}}]},\"done\":false}\r\n"
    "\r\n"
    "{\"model\":\"llama3\",\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":9,"
    "\"eval_count\":12}";

Lines transcript_lines() {
  return {
      "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"H\xC3\xA9\"},\"done\":false}",
      "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"llo \xF0\x9F\x8C\x8D\"},"
      "\"done\":false}",
      "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{"
      "\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1}}}]},\"done\":false}",
      "{\"model\":\"llama3\",\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":9,"
      "\"eval_count\":12}",
  };
}

TEST(NdjsonDecoder, TranscriptSplitAtEveryBytePositionDecodesIdentically) {
  EXPECT_EQ(decode(kTranscript), transcript_lines());
  for (std::size_t cut = 0; cut <= kTranscript.size(); ++cut) {
    ASSERT_EQ(decode_chunks({kTranscript.substr(0, cut), kTranscript.substr(cut)}),
              transcript_lines())
        << "split at byte " << cut;
  }
}

TEST(NdjsonDecoder, TranscriptFedOneByteAtATimeAndInRandomPieces) {
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < kTranscript.size(); ++i) bytes.push_back(kTranscript.substr(i, 1));
  EXPECT_EQ(decode_chunks(bytes), transcript_lines());
  std::mt19937 rng(777);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string_view> pieces;
    std::size_t pos = 0;
    while (pos < kTranscript.size()) {
      const std::size_t n = std::uniform_int_distribution<std::size_t>(0, 9)(rng);
      pieces.push_back(kTranscript.substr(pos, n));
      pos += std::min(n, kTranscript.size() - pos);
    }
    ASSERT_EQ(decode_chunks(pieces), transcript_lines()) << "round " << round;
  }
}

}  // namespace
}  // namespace llmux::http
