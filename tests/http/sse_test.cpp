#include "http/sse.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <llmux/error.hpp>

namespace llmux::http {
namespace {

using std::chrono::milliseconds;

struct Decoded {
  std::vector<SseEvent> events;
  bool truncated = false;
};

Decoded decode_chunks(const std::vector<std::string_view>& chunks, std::size_t limit = 16 << 20) {
  SseDecoder decoder(limit);
  Decoded result;
  for (std::string_view chunk : chunks) decoder.feed(chunk, result.events);
  result.truncated = decoder.finish();
  return result;
}

Decoded decode(std::string_view stream) { return decode_chunks({stream}); }

SseEvent event(std::string data, std::string type = "message", std::string id = {},
               std::optional<milliseconds> retry = std::nullopt) {
  SseEvent e;
  e.type = std::move(type);
  e.data = std::move(data);
  e.id = std::move(id);
  e.retry = retry;
  return e;
}

std::vector<std::string> datas(const std::vector<SseEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.data);
  return out;
}

using Strings = std::vector<std::string>;

TEST(SseDecoder, DispatchesOnBlankLine) {
  SseDecoder decoder;
  std::vector<SseEvent> events;
  decoder.feed("data: hello\n", events);
  EXPECT_TRUE(events.empty()) << "an event is dispatched only by the blank line";
  decoder.feed("\n", events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], event("hello"));
  EXPECT_FALSE(decoder.finish());
}

TEST(SseDecoder, LineEndingsLfCrCrlfAndMixed) {
  EXPECT_EQ(datas(decode("data: a\n\ndata: b\n\n").events), (Strings{"a", "b"}));
  EXPECT_EQ(datas(decode("data: a\r\rdata: b\r\r").events), (Strings{"a", "b"}));
  EXPECT_EQ(datas(decode("data: a\r\n\r\ndata: b\r\n\r\n").events), (Strings{"a", "b"}));
  EXPECT_EQ(datas(decode("data: a\r\ndata: b\rdata: c\n\r\n").events), (Strings{"a\nb\nc"}));
  // "\n\r" is two line endings (LF, then CR), not one.
  EXPECT_EQ(datas(decode("data: a\n\rdata: b\n\n").events), (Strings{"a", "b"}));
}

TEST(SseDecoder, CrAtEndOfReadAndLfAtStartOfNextAreOneLineEnding) {
  // Were the split CRLF taken as two line endings, "a" would be dispatched on its own.
  auto r = decode_chunks({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  EXPECT_EQ(r.events, (std::vector<SseEvent>{event("a\nb")}));
  EXPECT_FALSE(r.truncated);
  // A lone CR ending a read is a complete line ending: the event is dispatched at once.
  SseDecoder decoder;
  std::vector<SseEvent> events;
  decoder.feed("data: x\r\r", events);
  ASSERT_EQ(events.size(), 1u);
  decoder.feed("data: y\r", events);
  decoder.feed("", events);  // an empty read between CR and LF changes nothing
  decoder.feed("\n\r\n", events);
  EXPECT_EQ(datas(events), (Strings{"x", "y"}));
}

TEST(SseDecoder, CommentsAreIgnoredAndBlankLineAfterCommentDispatchesNothing) {
  auto r = decode(": hello\n\n:\n\n: keep-alive\r\n\r\ndata: x\n: inside\ndata: y\n\n");
  EXPECT_EQ(r.events, (std::vector<SseEvent>{event("x\ny")}));
  EXPECT_FALSE(r.truncated);
}

TEST(SseDecoder, MultiLineDataJoinedWithLfAndFinalLfRemoved) {
  EXPECT_EQ(datas(decode("data: one\ndata: two\ndata: three\n\n").events),
            (Strings{"one\ntwo\nthree"}));
  EXPECT_EQ(datas(decode("data:\ndata:\n\n").events), (Strings{"\n"}));
  EXPECT_EQ(datas(decode("data: x\ndata:\n\n").events), (Strings{"x\n"}));
  EXPECT_EQ(datas(decode("data: \n\n").events), (Strings{""}));
}

TEST(SseDecoder, FieldWithoutColonHasEmptyValue) {
  // WPT eventsource/format-field-data: "data" alone appends an empty line.
  EXPECT_EQ(datas(decode("data\n\ndata\ndata\n\ndata:end\n\n").events),
            (Strings{"", "\n", "end"}));
  auto r = decode("event\ndata: x\n\n");
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].type, "message");
}

TEST(SseDecoder, OnlyOneLeadingSpaceIsStripped) {
  EXPECT_EQ(datas(decode("data:x\n\ndata: x\n\ndata:  x\n\ndata:\tx\n\n").events),
            (Strings{"x", "x", " x", "\tx"}));
  EXPECT_EQ(datas(decode("data: a: b :c\n\n").events), (Strings{"a: b :c"}));
}

TEST(SseDecoder, FieldNamesAreExactAndUnknownOnesIgnored) {
  auto r = decode("Data: no\ndata : no\nfoo: bar\ndata: yes\nDATA: no\nevent : no\n\n");
  EXPECT_EQ(r.events, (std::vector<SseEvent>{event("yes")}));
}

TEST(SseDecoder, EventFieldSetsTypeForOneEventOnly) {
  auto r = decode("event: add\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\nevent: a\nevent: b\ndata: 4\n\n");
  EXPECT_EQ(r.events, (std::vector<SseEvent>{event("1", "add"), event("2"), event("3"),
                                             event("4", "b")}));
}

TEST(SseDecoder, EmptyDataDispatchesNothingAndResetsEventType) {
  auto r = decode("event: lost\n\ndata: x\n\nevent: lost2\nid: 7\n\ndata: y\n\n");
  EXPECT_EQ(r.events, (std::vector<SseEvent>{event("x"), event("y", "message", "7")}));
}

TEST(SseDecoder, LastEventIdPersistsAcrossEvents) {
  SseDecoder decoder;
  std::vector<SseEvent> events;
  decoder.feed("id: 1\ndata: a\n\ndata: b\n\nid: 2\n\ndata: c\n\nid\ndata: d\n\n", events);
  EXPECT_EQ(events, (std::vector<SseEvent>{event("a", "message", "1"), event("b", "message", "1"),
                                           event("c", "message", "2"), event("d")}));
  EXPECT_EQ(decoder.last_event_id(), "");
  decoder.feed("id: 42\n\n", events);
  EXPECT_EQ(decoder.last_event_id(), "42") << "an id-only block updates the last event id";
  decoder.feed("id: 43\n", events);
  EXPECT_EQ(decoder.last_event_id(), "42") << "the id becomes current at the blank line";
  EXPECT_EQ(events.size(), 4u);
}

TEST(SseDecoder, IdContainingNulIsIgnored) {
  using namespace std::string_literals;
  auto r = decode("id: good\ndata: a\n\n"s + "id: b\0d\ndata: b\n\n"s);
  EXPECT_EQ(r.events, (std::vector<SseEvent>{event("a", "message", "good"),
                                             event("b", "message", "good")}));
}

TEST(SseDecoder, RetryAcceptsOnlyAsciiDigits) {
  SseDecoder decoder;
  std::vector<SseEvent> events;
  EXPECT_FALSE(decoder.reconnection_time());
  decoder.feed("retry: 1500\ndata: a\n\n", events);
  decoder.feed("retry: 12x\nretry: -5\nretry:  7\nretry: 1.5\nretry:\ndata: b\n\n", events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].retry, milliseconds(1500));
  EXPECT_EQ(events[1].retry, std::nullopt) << "invalid retry values are ignored";
  EXPECT_EQ(decoder.reconnection_time(), milliseconds(1500));
  // A retry in a block without data is carried to the next event.
  decoder.feed("retry: 0\n\n: c\n\ndata: c\n\ndata: d\n\n", events);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2].retry, milliseconds(0));
  EXPECT_EQ(events[3].retry, std::nullopt);
  EXPECT_EQ(decoder.reconnection_time(), milliseconds(0));
  // Huge values saturate instead of overflowing.
  decoder.feed("retry: 99999999999999999999999999\n\n", events);
  EXPECT_EQ(decoder.reconnection_time(), milliseconds::max());
}

TEST(SseDecoder, LeadingBomIsIgnoredOnceEvenWhenSplit) {
  EXPECT_EQ(datas(decode("\xEF\xBB\xBF" "data: a\n\n").events), (Strings{"a"}));
  EXPECT_EQ(datas(decode_chunks({"\xEF", "\xBB", "\xBF" "da", "ta: a\n\n"}).events),
            (Strings{"a"}));
  // WPT eventsource/format-bom-2: a second BOM is part of the field name, so no "data" field.
  EXPECT_EQ(datas(decode("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n").events),
            (Strings{"b"}));
  // A BOM anywhere else is data.
  EXPECT_EQ(datas(decode("data: \xEF\xBB\xBFx\n\n").events), (Strings{"\xEF\xBB\xBFx"}));
  EXPECT_EQ(datas(decode("\n\xEF\xBB\xBF" "data: a\n\ndata: b\n\n").events), (Strings{"b"}));
}

TEST(SseDecoder, Utf8CharactersSplitAcrossReads) {
  const std::string text = "data: caf\xC3\xA9 \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x8C\x8D\n\n";
  const std::string want = "caf\xC3\xA9 \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x8C\x8D";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    const std::string_view v(text);
    auto r = decode_chunks({v.substr(0, cut), v.substr(cut)});
    EXPECT_EQ(datas(r.events), (Strings{want})) << "cut at " << cut;
  }
}

TEST(SseDecoder, InvalidUtf8BecomesReplacementCharacter) {
  const std::string fffd = "\xEF\xBF\xBD";
  // A lone continuation byte, a truncated 3-byte sequence before the line end, an overlong
  // encoding (C0 is never a lead byte), a surrogate (ED A0..), a code point above U+10FFFF.
  EXPECT_EQ(datas(decode("data: a\x80z\n\n").events), (Strings{"a" + fffd + "z"}));
  EXPECT_EQ(datas(decode("data: \xE4\xB8\n\n").events), (Strings{fffd}));
  EXPECT_EQ(datas(decode("data: \xE4\xB8z\n\n").events), (Strings{fffd + "z"}));
  EXPECT_EQ(datas(decode("data: \xC0\xAF\n\n").events), (Strings{fffd + fffd}));
  EXPECT_EQ(datas(decode("data: \xED\xA0\x80\n\n").events), (Strings{fffd + fffd + fffd}));
  EXPECT_EQ(datas(decode("data: \xF4\x90\x80\x80\n\n").events),
            (Strings{fffd + fffd + fffd + fffd}));
  EXPECT_EQ(datas(decode("data: \xF0\x9F\x8C\n\n").events), (Strings{fffd}));
  // A truncated sequence before a CR: the CR still ends the line.
  EXPECT_EQ(datas(decode("data: \xF0\x9F\rdata: b\r\r").events), (Strings{fffd + "\nb"}));
}

TEST(SseDecoder, FinishDiscardsAndReportsAPartialEvent) {
  {
    auto r = decode("data: a\n\ndata: b\n");
    EXPECT_EQ(datas(r.events), (Strings{"a"}));
    EXPECT_TRUE(r.truncated) << "data without the terminating blank line";
  }
  {
    auto r = decode("data: a\n\ndata: b");
    EXPECT_EQ(datas(r.events), (Strings{"a"}));
    EXPECT_TRUE(r.truncated) << "an unterminated line";
  }
  EXPECT_TRUE(decode("event: x\n").truncated);
  EXPECT_TRUE(decode(": partial comment").truncated);
  EXPECT_FALSE(decode("data: a\n\n: comment\n").truncated) << "a complete comment is no event";
  EXPECT_TRUE(decode("data: a\r").truncated) << "the CR ends the line: data pending";
  EXPECT_FALSE(decode("data: a\r\r").truncated);
  EXPECT_FALSE(decode("").truncated);
  EXPECT_FALSE(decode("\xEF\xBB\xBF").truncated) << "a lone BOM is an empty stream";
  EXPECT_TRUE(decode("\xEF\xBB").truncated) << "a partial BOM is a partial line";
}

TEST(SseDecoder, FinishStartsANewStreamKeepingLastEventId) {
  SseDecoder decoder;
  std::vector<SseEvent> events;
  decoder.feed("id: 5\ndata: a\n\nevent: x\ndata: partial\n", events);
  EXPECT_TRUE(decoder.finish());
  decoder.feed("\xEF\xBB\xBF" "data: b\n\n", events);
  EXPECT_EQ(events, (std::vector<SseEvent>{event("a", "message", "5"), event("b", "message", "5")}));
  EXPECT_FALSE(decoder.finish());
}

TEST(SseDecoder, LineLongerThanLimitThrowsProtocolError) {
  // "data:" + 11 bytes = 16 bytes: exactly the limit.
  auto r = decode_chunks({"data:" + std::string(11, 'y') + "\n\n"}, 16);
  EXPECT_EQ(datas(r.events), (Strings{std::string(11, 'y')}));

  SseDecoder decoder(16);
  std::vector<SseEvent> events;
  decoder.feed("data: a\n\n", events);
  try {
    decoder.feed("data:" + std::string(12, 'y') + "\n\n", events);
    FAIL() << "expected a ProtocolError";
  } catch (const ProtocolError& e) {
    EXPECT_EQ(e.code(), errc::protocol_error);
    EXPECT_NE(std::string(e.what()).find("limit"), std::string::npos) << e.what();
  }
  EXPECT_EQ(datas(events), (Strings{"a"})) << "events before the error are kept";
  EXPECT_THROW(decoder.feed("data: b\n\n", events), ProtocolError) << "the decoder stays failed";
  EXPECT_TRUE(decoder.finish());
  decoder.feed("data: c\n\n", events);  // a new stream works again
  EXPECT_EQ(datas(events), (Strings{"a", "c"}));
}

TEST(SseDecoder, UnterminatedLineOverLimitThrowsBeforeItsEnd) {
  SseDecoder decoder(64);
  std::vector<SseEvent> events;
  decoder.feed(std::string(64, 'x'), events);  // exactly the limit, still possible
  EXPECT_THROW(decoder.feed("x", events), ProtocolError);
  // The same across many small reads.
  SseDecoder slow(64);
  const std::string line = "data: " + std::string(100, 'z');
  std::size_t fed = 0;
  EXPECT_THROW(
      {
        for (; fed < line.size(); ++fed) slow.feed(std::string_view(line).substr(fed, 1), events);
      },
      ProtocolError);
  EXPECT_EQ(fed, 64u) << "the 65th byte of the line is refused";
}

TEST(SseDecoder, EventDataOverLimitThrows) {
  SseDecoder decoder(32);
  std::vector<SseEvent> events;
  // Each line fits, the event does not: 3 x ("0123456789" + '\n') = 33 > 32.
  decoder.feed("data: 0123456789\ndata: 0123456789\n", events);
  EXPECT_THROW(decoder.feed("data: 0123456789\n", events), ProtocolError);
  SseDecoder exact(33);
  exact.feed("data: 0123456789\ndata: 0123456789\ndata: 0123456789\n\n", events);
  ASSERT_EQ(events.size(), 1u);
}

TEST(SseDecoder, NulAndOtherControlBytesInDataAreKept) {
  using namespace std::string_literals;
  // WPT eventsource/format-null-character: NUL is an ordinary character in data.
  EXPECT_EQ(datas(decode("data: a\0b\n\n"s).events), (Strings{"a\0b"s}));
  EXPECT_EQ(datas(decode("data: \t\x01\x7f\n\n").events), (Strings{"\t\x01\x7f"}));
}

TEST(SseDecoder, AwkwardStreamSplitIntoThreePiecesAtEveryPairOfPositions) {
  // BOM, CR/LF/CRLF, a comment block, multi-byte UTF-8 at the cut points, event/id/retry.
  constexpr std::string_view stream =
      "\xEF\xBB\xBF:c\r\n\r\nretry: 9\revent: e\r\nid: \xC3\xA9\ndata: \xF0\x9F\x8C\x8D\r"
      "data\r\n\r\ndata:\xE4\xB8\x96\n\r\n";
  const std::vector<SseEvent> want = {
      event("\xF0\x9F\x8C\x8D\n", "e", "\xC3\xA9", milliseconds(9)),
      event("\xE4\xB8\x96", "message", "\xC3\xA9"),
  };
  ASSERT_EQ(decode(stream).events, want);
  for (std::size_t a = 0; a <= stream.size(); ++a) {
    for (std::size_t b = a; b <= stream.size(); ++b) {
      auto r = decode_chunks({stream.substr(0, a), stream.substr(a, b - a), stream.substr(b)});
      ASSERT_EQ(r.events, want) << "cuts at " << a << " and " << b;
      ASSERT_FALSE(r.truncated) << "cuts at " << a << " and " << b;
    }
  }
}

// An OpenAI-style chat completion stream with the awkward parts of real servers: comments
// (OpenRouter's "PROCESSING" keep-alives), CRLF, CR-only and LF-only blocks, a multi-line data
// field, an `event`/`id`/`retry` block, multi-byte UTF-8 and the closing [DONE].
constexpr std::string_view kTranscript =
    "\xEF\xBB\xBF: OPENROUTER PROCESSING\r\n\r\n"
    "retry: 3000\r\n\r\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\r\n\r\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"H\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x8C\x8D\"}}]}\r\n\r\n"
    ": keep-alive\r\n"
    "\r\n"
    "id: 17\r\n"
    "event: chunk\r\n"
    "data: {\"id\":\"chatcmpl-1\",\r\n"
    "data:  \"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
    "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\"}}]}}]}\r\n"
    "\r\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12}}\r\r"
    "data: [DONE]\r\n\r\n";

std::vector<SseEvent> transcript_events() {
  return {
      event("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
            "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}",
            "message", "", milliseconds(3000)),
      event("{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
            "\"H\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x8C\x8D\"}}]}"),
      event("{\"id\":\"chatcmpl-1\",\n \"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
            "\"index\":0,\"id\":\"call_1\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
            "\"{\\\"city\\\":\"}}]}}]}",
            "chunk", "17"),
      event("{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}", "message",
            "17"),
      event("{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12}}", "message",
            "17"),
      event("[DONE]", "message", "17"),
  };
}

TEST(SseDecoder, TranscriptWholeMatchesExpectedEvents) {
  auto r = decode(kTranscript);
  EXPECT_EQ(r.events, transcript_events());
  EXPECT_FALSE(r.truncated);
}

TEST(SseDecoder, TranscriptSplitAtEveryBytePositionDecodesIdentically) {
  const auto want = transcript_events();
  for (std::size_t cut = 0; cut <= kTranscript.size(); ++cut) {
    auto r = decode_chunks({kTranscript.substr(0, cut), kTranscript.substr(cut)});
    ASSERT_EQ(r.events, want) << "split at byte " << cut;
    ASSERT_FALSE(r.truncated) << "split at byte " << cut;
  }
}

TEST(SseDecoder, TranscriptFedOneByteAtATimeDecodesIdentically) {
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < kTranscript.size(); ++i) bytes.push_back(kTranscript.substr(i, 1));
  auto r = decode_chunks(bytes);
  EXPECT_EQ(r.events, transcript_events());
  EXPECT_FALSE(r.truncated);
}

TEST(SseDecoder, TranscriptInRandomPiecesDecodesIdentically) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string_view> pieces;
    std::size_t pos = 0;
    while (pos < kTranscript.size()) {
      const std::size_t n = std::uniform_int_distribution<std::size_t>(0, 9)(rng);
      pieces.push_back(kTranscript.substr(pos, n));
      pos += std::min(n, kTranscript.size() - pos);
    }
    ASSERT_EQ(decode_chunks(pieces).events, transcript_events()) << "round " << round;
  }
}

}  // namespace
}  // namespace llmux::http
