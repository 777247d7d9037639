// libFuzzer target for llmux::http::SseDecoder. Each input is decoded three ways that must agree:
//   1. the whole stream in one feed(),
//   2. the stream in fuzzer-chosen pieces (empty ones included),
//   3. a plain, non-incremental reference written straight from the WHATWG text (split the
//      whole stream into lines, decode UTF-8 by the Unicode table of well-formed sequences).
// Any disagreement, crash, sanitizer report or exception other than llmux::ProtocolError aborts.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <llmux/error.hpp>

#include "http/sse.hpp"
#include "http_fuzz_input.hpp"

namespace {

using llmux::http::SseDecoder;
using llmux::http::SseEvent;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_sse_fuzz: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  std::vector<SseEvent> events;
  bool threw = false;
  bool truncated = false;
  std::string last_event_id;
  std::optional<std::chrono::milliseconds> reconnection_time;
};

Outcome run(const std::vector<std::string>& pieces, std::size_t limit) {
  SseDecoder decoder(limit);
  Outcome o;
  try {
    for (const auto& piece : pieces) decoder.feed(piece, o.events);
  } catch (const llmux::ProtocolError& e) {
    check(e.code() == llmux::errc::protocol_error, "ProtocolError with another errc");
    o.threw = true;
  }
  o.last_event_id = decoder.last_event_id();
  o.reconnection_time = decoder.reconnection_time();
  o.truncated = decoder.finish();
  return o;
}

// Unicode Table 3-7 (well-formed UTF-8 byte sequences): per lead byte range, the ranges of the
// following bytes.
struct Row {
  unsigned char lo[4];
  unsigned char hi[4];
  int length;
};
constexpr Row kRows[] = {
    {{0x00}, {0x7F}, 1},
    {{0xC2, 0x80}, {0xDF, 0xBF}, 2},
    {{0xE0, 0xA0, 0x80}, {0xE0, 0xBF, 0xBF}, 3},
    {{0xE1, 0x80, 0x80}, {0xEC, 0xBF, 0xBF}, 3},
    {{0xED, 0x80, 0x80}, {0xED, 0x9F, 0xBF}, 3},
    {{0xEE, 0x80, 0x80}, {0xEF, 0xBF, 0xBF}, 3},
    {{0xF0, 0x90, 0x80, 0x80}, {0xF0, 0xBF, 0xBF, 0xBF}, 4},
    {{0xF1, 0x80, 0x80, 0x80}, {0xF3, 0xBF, 0xBF, 0xBF}, 4},
    {{0xF4, 0x80, 0x80, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}, 4},
};

// Each maximal subpart of an ill-formed sequence becomes one U+FFFD.
std::string reference_utf8(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    int best = 0;
    bool complete = false;
    for (const Row& row : kRows) {
      int matched = 0;
      while (matched < row.length && i + matched < in.size()) {
        const auto b = static_cast<unsigned char>(in[i + matched]);
        if (b < row.lo[matched] || b > row.hi[matched]) break;
        ++matched;
      }
      if (matched == row.length) {
        complete = true;
        best = matched;
        break;
      }
      if (matched > best) best = matched;
    }
    if (complete) {
      out.append(in.substr(i, best));
    } else {
      out.append("\xEF\xBF\xBD");
      if (best == 0) best = 1;
    }
    i += best;
  }
  return out;
}

Outcome reference(std::string_view stream) {
  Outcome o;
  if (stream.substr(0, 3) == "\xEF\xBB\xBF") stream.remove_prefix(3);
  std::string data, type, id_buffer;
  std::optional<std::chrono::milliseconds> retry;
  bool pending = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    if (stream[i] != '\r' && stream[i] != '\n') continue;
    const std::string line = reference_utf8(stream.substr(start, i - start));
    if (stream[i] == '\r' && i + 1 < stream.size() && stream[i + 1] == '\n') ++i;
    start = i + 1;
    if (line.empty()) {  // dispatch
      o.last_event_id = id_buffer;
      pending = false;
      if (!data.empty()) {
        SseEvent e;
        e.type = type.empty() ? "message" : type;
        e.data = data.substr(0, data.size() - 1);
        e.id = o.last_event_id;
        e.retry = retry;
        retry.reset();
        o.events.push_back(e);
      }
      data.clear();
      type.clear();
      continue;
    }
    if (line[0] == ':') continue;
    pending = true;
    const std::size_t colon = line.find(':');
    const std::string name = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (name == "data") {
      data += value + "\n";
    } else if (name == "event") {
      type = value;
    } else if (name == "id") {
      if (value.find('\0') == std::string::npos) id_buffer = value;
    } else if (name == "retry") {
      const bool digits = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
      if (digits) {
        // Values beyond the range of milliseconds saturate.
        constexpr unsigned __int128 kMax = std::chrono::milliseconds::max().count();
        unsigned __int128 n = 0;
        for (char c : value) n = std::min<unsigned __int128>(n * 10 + (c - '0'), kMax);
        const auto ms = std::chrono::milliseconds(static_cast<std::int64_t>(n));
        retry = ms;
        o.reconnection_time = ms;
      }
    }
  }
  o.truncated = pending || start < stream.size();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = llmux::fuzz::split_input(data, size);
  const Outcome whole = run({input.whole}, input.limit);
  const Outcome pieces = run(input.pieces, input.limit);
  check(whole.events == pieces.events, "events differ between one feed and pieces");
  check(whole.threw == pieces.threw, "limit error differs between one feed and pieces");
  check(whole.last_event_id == pieces.last_event_id, "last event id differs");
  check(whole.reconnection_time == pieces.reconnection_time, "reconnection time differs");
  check(whole.truncated == pieces.truncated, "finish() differs");
  for (const SseEvent& e : whole.events) {
    check(!e.type.empty(), "empty event type");
    check(e.data.size() < input.limit, "event data over the limit");
    check(e.type.find_first_of("\r\n") == std::string::npos, "line break in type");
    check(e.id.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
          "line break or NUL in id");
    check(e.data.find('\r') == std::string::npos, "CR in data");
    check(reference_utf8(e.data) == e.data, "invalid UTF-8 in data");
  }
  if (!whole.threw) {
    const Outcome ref = reference(input.whole);
    check(whole.events == ref.events, "events differ from the reference");
    check(whole.last_event_id == ref.last_event_id, "last event id differs from the reference");
    check(whole.reconnection_time == ref.reconnection_time, "retry differs from the reference");
    check(whole.truncated == ref.truncated, "finish() differs from the reference");
  }
  return 0;
}
