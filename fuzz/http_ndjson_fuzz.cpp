// libFuzzer target for llmux::http::NdjsonDecoder. Each input is decoded three ways that must
// agree: the whole stream in one feed(), the stream in fuzzer-chosen pieces, and a plain
// reference that splits the whole stream at every LF. Any disagreement, crash, sanitizer report
// or exception other than llmux::ProtocolError aborts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <llmux/error.hpp>

#include "http/ndjson.hpp"
#include "http_fuzz_input.hpp"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_ndjson_fuzz: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  std::vector<std::string> lines;
  bool threw = false;
};

Outcome run(const std::vector<std::string>& pieces, std::size_t limit) {
  llmux::http::NdjsonDecoder decoder(limit);
  Outcome o;
  try {
    for (const auto& piece : pieces) decoder.feed(piece, o.lines);
  } catch (const llmux::ProtocolError& e) {
    check(e.code() == llmux::errc::protocol_error, "ProtocolError with another errc");
    o.threw = true;
  }
  decoder.finish(o.lines);
  return o;
}

std::vector<std::string> reference(std::string_view stream) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= stream.size()) {
    std::size_t end = stream.find('\n', start);
    if (end == std::string_view::npos) end = stream.size();
    std::string line(stream.substr(start, end - start));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t\r") != std::string::npos) out.push_back(line);
    start = end + 1;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = llmux::fuzz::split_input(data, size);
  const Outcome whole = run({input.whole}, input.limit);
  const Outcome pieces = run(input.pieces, input.limit);
  check(whole.lines == pieces.lines, "lines differ between one feed and pieces");
  check(whole.threw == pieces.threw, "limit error differs between one feed and pieces");
  for (const auto& line : whole.lines) {
    check(!line.empty() && line.size() <= input.limit, "empty line or line over the limit");
    check(line.find('\n') == std::string::npos, "LF inside a line");
  }
  if (!whole.threw) {
    check(whole.lines == reference(input.whole), "lines differ from the reference");
  } else {
    // Before the error, the lines are a prefix of what an unlimited decoder gives.
    const auto all = reference(input.whole);
    check(whole.lines.size() <= all.size() &&
              std::equal(whole.lines.begin(), whole.lines.end(), all.begin()),
          "lines before the limit error are not a prefix of the full decode");
  }
  return 0;
}
