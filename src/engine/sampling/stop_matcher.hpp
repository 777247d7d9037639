// Stop sequences over streamed text.
//
// The local provider feeds each piece of decoded text as it is generated. Text that could be
// the beginning of a stop string is held back until it either completes a stop string or can
// no longer become one. When a stop string completes, everything before it is returned,
// `stopped` is set and generation should end; the stop string itself and anything after it are
// never returned. At the end of generation without a stop, flush() returns the held-back text.
//
// Works on bytes; stop strings match byte for byte (no normalization). The returned text never
// ends inside a UTF-8 character: an incomplete (but so far valid) UTF-8 sequence at the end of
// what could be emitted is held back with it, so deltas that split a character — in the input
// or at a hold-back boundary — come out whole. Bytes that can never become valid UTF-8 are
// passed through unchanged (the detokenizer already replaces them with U+FFFD).
//
// Concatenating every `text` returned by feed() and flush() gives the input up to (not
// including) the stop string that completes first (the earliest end; on a tie, the earliest
// start), or all of it when none occurs — whatever the split of the input. Empty stop strings
// are ignored. Not thread-safe; one per sequence.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmux::engine::sampling {

class StopMatcher {
 public:
  struct Result {
    std::string text;      // text safe to emit now (possibly empty)
    bool stopped = false;  // a stop string completed: emit `text`, then stop generating
  };

  explicit StopMatcher(std::vector<std::string> stops);

  // Adds generated text. After a stop, further input is ignored and returns {"", true}.
  Result feed(std::string_view text_delta);
  // End of generation: the text still held back ("" after a stop). The matcher is then empty
  // and may be fed again (as if new) unless it stopped.
  std::string flush();

  bool stopped() const noexcept { return stopped_; }
  // The stop string that matched (empty until stopped()).
  const std::string& matched() const noexcept { return matched_; }
  // Bytes currently held back.
  std::size_t held() const noexcept { return pending_.size(); }

 private:
  std::size_t holdback_length() const noexcept;

  std::vector<std::string> stops_;
  std::size_t max_stop_ = 0;
  std::string pending_;
  std::string matched_;
  bool stopped_ = false;
};

}  // namespace llmux::engine::sampling
