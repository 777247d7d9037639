// Incremental decoder for `text/event-stream` (server-sent events), following the WHATWG HTML
// standard's "interpreting an event stream" rules exactly:
//   - the stream is UTF-8; one leading byte order mark (EF BB BF) is ignored; every invalid byte
//     sequence becomes U+FFFD, as the WHATWG "UTF-8 decode" algorithm does;
//   - lines end with CRLF, LF or CR; a CR ending one read and an LF starting the next are one
//     line ending;
//   - a line starting with ':' is a comment; "name:value" strips one leading space of the value;
//     a line without ':' is a field with an empty value; field names are case-sensitive and
//     unknown ones are ignored;
//   - `data` lines are joined with '\n'; a blank line dispatches the event; an event whose data
//     buffer is empty dispatches nothing (and resets the event type);
//   - `event` sets the type ("message" when empty); `id` sets the last event id unless the value
//     contains NUL; the id persists across events; `retry` is taken only if it is all ASCII
//     digits.
// Bytes may be split anywhere across feed() calls (inside a line ending, a UTF-8 character, the
// BOM): the events produced are the same as when the whole stream is fed at once.
//
// Plain C++ (no Asio/Beast). Not thread-safe: one decoder per stream, used by one thread at a
// time. Memory is bounded by a small multiple of the limit given to the constructor.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::http {

struct SseEvent {
  std::string type = "message";  // the `event` field, or "message"
  std::string data;              // `data` lines joined with '\n' (never ends with the added '\n')
  std::string id;                // the last event id at dispatch (persists across events)
  // The last valid `retry` value processed since the previous dispatched event (a `retry` in a
  // block without data is reported with the next event); SseDecoder::reconnection_time() keeps
  // the stream-level value.
  std::optional<std::chrono::milliseconds> retry;

  friend bool operator==(const SseEvent&, const SseEvent&) = default;
};

class SseDecoder {
 public:
  // `max_event_bytes` bounds one line (without its line ending) and one event's data buffer.
  explicit SseDecoder(std::size_t max_event_bytes = 16 << 20);

  // Appends every event completed by `bytes` to `out` (events already appended stay there if it
  // throws). Throws llmux::ProtocolError (errc::protocol_error) when a line or an event's data
  // exceeds the limit; the decoder is then failed and every later feed() throws again.
  void feed(std::string_view bytes, std::vector<SseEvent>& out);

  // End of stream. Per the standard an event without its terminating blank line is discarded.
  // Returns whether anything was pending — a partial line, or fields received since the last
  // blank line — so callers can report a truncated stream (also true after a limit error).
  // Afterwards the decoder is ready for a new stream (a reconnection): a BOM is accepted again,
  // last_event_id() and reconnection_time() are kept.
  bool finish();

  // The last event id string: updated at every blank line from the latest valid `id` field.
  const std::string& last_event_id() const noexcept { return last_event_id_; }
  // The stream's reconnection time: the latest valid `retry` field, if any.
  std::optional<std::chrono::milliseconds> reconnection_time() const noexcept {
    return reconnection_time_;
  }

 private:
  void process_line(std::string_view line, std::vector<SseEvent>& out);
  void process_field(std::string_view name, std::string_view value);
  void dispatch(std::vector<SseEvent>& out);
  void append_to_line(std::string_view bytes);
  [[noreturn]] void fail(const char* what);

  std::size_t max_bytes_;
  std::string line_;            // the current unterminated line (raw bytes)
  bool skip_lf_ = false;        // the previous byte was a CR: an LF next ends no line
  bool at_stream_start_ = true; // no line completed yet: the first line may start with a BOM
  bool block_pending_ = false;  // a field was processed since the last blank line
  bool failed_ = false;
  std::string data_;
  std::string event_type_;
  std::string id_buffer_;
  std::string last_event_id_;
  std::optional<std::chrono::milliseconds> pending_retry_;
  std::optional<std::chrono::milliseconds> reconnection_time_;
  std::string utf8_scratch_;
};

}  // namespace llmux::http
