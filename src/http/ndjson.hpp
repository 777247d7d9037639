// Incremental splitter for newline-delimited JSON (NDJSON / JSON Lines, as Ollama streams it):
// one JSON text per line, lines ending with LF or CRLF. Lines are returned as raw bytes (the JSON
// parser validates them); blank lines — empty or only JSON whitespace (space, tab, CR) — are
// skipped. A lone CR is not a line ending (JSON text never contains a raw CR or LF, and NDJSON
// allows only LF and CRLF). Bytes may be split anywhere across feed() calls: the lines produced
// are the same as when the whole stream is fed at once.
//
// Plain C++ (no Asio/Beast). Not thread-safe: one decoder per stream, used by one thread at a
// time. Memory is bounded by the limit given to the constructor.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::http {

class NdjsonDecoder {
 public:
  // `max_line_bytes` bounds one line, without its LF or CRLF.
  explicit NdjsonDecoder(std::size_t max_line_bytes = 16 << 20);

  // Appends each complete non-blank line (without its \n or \r\n) to `out` (lines already
  // appended stay there if it throws). Throws llmux::ProtocolError (errc::protocol_error) when a
  // line exceeds the limit; the decoder is then failed and every later feed() throws again.
  void feed(std::string_view bytes, std::vector<std::string>& out);

  // End of stream: a final non-blank line without a newline is delivered (a final CR is removed,
  // as if it were the start of a CRLF); nothing is delivered after a limit error. Afterwards the
  // decoder is ready for a new stream.
  void finish(std::vector<std::string>& out);

 private:
  void deliver(std::string_view line, std::vector<std::string>& out) const;
  [[noreturn]] void fail();

  std::size_t max_bytes_;
  std::string line_;  // the current unterminated line
  bool failed_ = false;
};

}  // namespace llmux::http
