#include "http/ndjson.hpp"

#include <cstring>

#include <llmux/error.hpp>

namespace llmux::http {
namespace {

// The line without the CR of a CRLF (or a CR that may become one).
std::string_view strip_cr(std::string_view line) noexcept {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool is_blank(std::string_view line) noexcept {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

NdjsonDecoder::NdjsonDecoder(std::size_t max_line_bytes) : max_bytes_(max_line_bytes) {}

void NdjsonDecoder::fail() {
  failed_ = true;
  line_.clear();
  line_.shrink_to_fit();
  llmux::throw_error(errc::protocol_error, "NDJSON: a line exceeds the limit of " +
                                               std::to_string(max_bytes_) + " bytes");
}

void NdjsonDecoder::deliver(std::string_view line, std::vector<std::string>& out) const {
  if (!is_blank(line)) out.emplace_back(line);
}

void NdjsonDecoder::feed(std::string_view bytes, std::vector<std::string>& out) {
  if (failed_) fail();
  while (!bytes.empty()) {
    const void* found = std::memchr(bytes.data(), '\n', bytes.size());
    if (found == nullptr) {
      line_.append(bytes);
      // A trailing CR may be the first half of a CRLF: it does not count yet.
      if (strip_cr(line_).size() > max_bytes_) fail();
      return;
    }
    const auto end = static_cast<std::size_t>(static_cast<const char*>(found) - bytes.data());
    if (line_.empty()) {
      const std::string_view line = strip_cr(bytes.substr(0, end));
      if (line.size() > max_bytes_) fail();
      deliver(line, out);
    } else {
      line_.append(bytes.substr(0, end));
      const std::string_view line = strip_cr(line_);
      if (line.size() > max_bytes_) fail();
      deliver(line, out);
      line_.clear();
    }
    bytes.remove_prefix(end + 1);
  }
}

void NdjsonDecoder::finish(std::vector<std::string>& out) {
  if (!failed_) deliver(strip_cr(line_), out);
  failed_ = false;
  line_.clear();
}

}  // namespace llmux::http
