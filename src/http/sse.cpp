#include "http/sse.hpp"

#include <limits>
#include <utility>

#include <llmux/error.hpp>

namespace llmux::http {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// The first CR or LF in `s` at or after `from`, or npos.
std::size_t find_line_end(std::string_view s, std::size_t from) noexcept {
  for (std::size_t i = from; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') return i;
  }
  return std::string_view::npos;
}

// "retry": only a non-empty run of ASCII digits counts; huge values saturate.
std::optional<std::chrono::milliseconds> parse_retry(std::string_view value) noexcept {
  if (value.empty()) return std::nullopt;
  using Rep = std::chrono::milliseconds::rep;
  constexpr Rep kMax = std::numeric_limits<Rep>::max();
  Rep ms = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    const Rep digit = c - '0';
    ms = ms > (kMax - digit) / 10 ? kMax : ms * 10 + digit;
  }
  return std::chrono::milliseconds(ms);
}

// The WHATWG "UTF-8 decode" of `in` without BOM handling: valid sequences are kept, each maximal
// invalid subpart becomes U+FFFD. Returns `in` itself when it is valid, else a view of `scratch`.
// Decoding line by line equals decoding the whole stream: CR and LF are never continuation bytes,
// so they end any unfinished sequence and are then read as themselves.
std::string_view utf8_decode_replacing(std::string_view in, std::string& scratch) {
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::size_t i = 0;
  while (i < in.size() && static_cast<unsigned char>(in[i]) < 0x80) ++i;
  if (i == in.size()) return in;  // ASCII: the common case
  scratch.assign(in.substr(0, i));
  bool replaced = false;
  while (i < in.size()) {
    const auto lead = static_cast<unsigned char>(in[i]);
    std::size_t needed = 0;
    unsigned char lower = 0x80;
    unsigned char upper = 0xBF;
    if (lead < 0x80) {
      needed = 0;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      needed = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      needed = 2;
      if (lead == 0xE0) lower = 0xA0;
      if (lead == 0xED) upper = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      needed = 3;
      if (lead == 0xF0) lower = 0x90;
      if (lead == 0xF4) upper = 0x8F;
    } else {
      scratch.append(kReplacement);  // not a lead byte
      replaced = true;
      ++i;
      continue;
    }
    std::size_t seen = 0;
    while (seen < needed && i + 1 + seen < in.size()) {
      const auto b = static_cast<unsigned char>(in[i + 1 + seen]);
      if (b < lower || b > upper) break;
      lower = 0x80;
      upper = 0xBF;
      ++seen;
    }
    if (seen == needed) {
      scratch.append(in.substr(i, needed + 1));
    } else {
      // The lead byte and the continuation bytes accepted so far are one maximal subpart; the
      // byte that broke the sequence is read again as the start of the next one.
      scratch.append(kReplacement);
      replaced = true;
    }
    i += seen + 1;
  }
  return replaced ? std::string_view(scratch) : in;
}

}  // namespace

SseDecoder::SseDecoder(std::size_t max_event_bytes) : max_bytes_(max_event_bytes) {}

void SseDecoder::fail(const char* what) {
  failed_ = true;
  line_.clear();
  line_.shrink_to_fit();
  data_.clear();
  data_.shrink_to_fit();
  llmux::throw_error(errc::protocol_error,
                     std::string("server-sent events: ") + what + " exceeds the limit of " +
                         std::to_string(max_bytes_) + " bytes");
}

void SseDecoder::append_to_line(std::string_view bytes) {
  if (bytes.size() > max_bytes_ - line_.size()) fail("a line");
  line_.append(bytes);
}

void SseDecoder::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (failed_) fail("an earlier line or event");
  std::size_t i = 0;
  if (skip_lf_ && !bytes.empty()) {
    skip_lf_ = false;
    if (bytes[0] == '\n') i = 1;
  }
  while (i < bytes.size()) {
    const std::size_t end = find_line_end(bytes, i);
    if (end == std::string_view::npos) {
      append_to_line(bytes.substr(i));
      break;
    }
    const std::string_view piece = bytes.substr(i, end - i);
    if (line_.empty()) {
      // Fast path: the whole line is inside this read.
      if (piece.size() > max_bytes_) fail("a line");
      process_line(piece, out);
    } else {
      append_to_line(piece);
      process_line(line_, out);
      line_.clear();
    }
    i = end + 1;
    if (bytes[end] == '\r') {
      if (i < bytes.size()) {
        if (bytes[i] == '\n') ++i;
      } else {
        skip_lf_ = true;  // the LF of a CRLF may start the next read
      }
    }
  }
}

void SseDecoder::process_line(std::string_view raw, std::vector<SseEvent>& out) {
  if (at_stream_start_) {
    at_stream_start_ = false;
    if (raw.substr(0, kBom.size()) == kBom) raw.remove_prefix(kBom.size());
  }
  const std::string_view line = utf8_decode_replacing(raw, utf8_scratch_);
  if (line.empty()) {
    dispatch(out);
    return;
  }
  if (line.front() == ':') return;  // a comment
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    process_field(line, {});
    return;
  }
  std::string_view value = line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  process_field(line.substr(0, colon), value);
}

void SseDecoder::process_field(std::string_view name, std::string_view value) {
  block_pending_ = true;
  if (name == "data") {
    if (value.size() + 1 > max_bytes_ - data_.size()) fail("an event's data");
    data_.append(value);
    data_.push_back('\n');
  } else if (name == "event") {
    event_type_.assign(value);
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos) id_buffer_.assign(value);
  } else if (name == "retry") {
    if (auto ms = parse_retry(value)) {
      reconnection_time_ = ms;
      pending_retry_ = ms;
    }
  }
  // Any other field name is ignored.
}

void SseDecoder::dispatch(std::vector<SseEvent>& out) {
  last_event_id_ = id_buffer_;
  block_pending_ = false;
  if (data_.empty()) {
    event_type_.clear();
    return;
  }
  data_.pop_back();  // the '\n' appended after the last data line
  SseEvent event;
  if (!event_type_.empty()) event.type = std::move(event_type_);
  event.data = std::move(data_);
  event.id = last_event_id_;
  event.retry = std::exchange(pending_retry_, std::nullopt);
  out.push_back(std::move(event));
  data_.clear();
  event_type_.clear();
}

bool SseDecoder::finish() {
  // A stream holding nothing but its byte order mark is complete, not truncated.
  const bool only_bom = at_stream_start_ && line_ == kBom;
  const bool pending = failed_ || (!line_.empty() && !only_bom) || block_pending_;
  line_.clear();
  skip_lf_ = false;
  at_stream_start_ = true;
  block_pending_ = false;
  failed_ = false;
  data_.clear();
  event_type_.clear();
  id_buffer_ = last_event_id_;
  pending_retry_.reset();
  return pending;
}

}  // namespace llmux::http
