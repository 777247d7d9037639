// Small JSON scanners for the output parser: find where a JSON object or array ends in text
// that is still streaming in, and locate the raw text of an object's top-level members.
// They balance brackets and skip strings; they do not validate scalars — complete values are
// validated by Boost.JSON before use (tool_call_json.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::engine::output {

enum class ScanStatus { incomplete, complete, invalid };

// Finds the end of the object or array that starts at text[0] ('{' or '['), resuming where the
// previous call stopped: call again with the same text plus more bytes at the end. Nesting
// deeper than kMaxDepth, a mismatched closing bracket or a first byte other than '{'/'[' is
// invalid. Once complete or invalid, the status sticks until reset().
class JsonScanner {
 public:
  static constexpr int kMaxDepth = 128;

  ScanStatus scan(std::string_view text) noexcept;
  // complete: one past the closing bracket; invalid: the offset of the offending byte.
  std::size_t end() const noexcept { return pos_; }
  void reset() noexcept { *this = JsonScanner{}; }

 private:
  ScanStatus status_ = ScanStatus::incomplete;
  std::size_t pos_ = 0;
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  std::array<char, kMaxDepth> open_{};
};

// One top-level member of a JSON object: its key (decoded) and the raw text of its value.
struct JsonMember {
  std::string key;
  std::string_view value;
};

// The members of the JSON object `text` (which must already be known to be valid JSON, e.g.
// parsed by Boost.JSON), in order, duplicates included. Empty for a non-object.
std::vector<JsonMember> object_members(std::string_view text);

// `text` without leading and trailing JSON whitespace (space, tab, CR, LF).
std::string_view trim_json_space(std::string_view text) noexcept;

}  // namespace llmux::engine::output
