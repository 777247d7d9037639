// Streaming detokenizer: turns generated token ids into text as they arrive, never emitting
// half a UTF-8 character. Bytes of an incomplete character are held back until the rest
// arrives; bytes that can never become valid UTF-8 come out as U+FFFD (one per maximal invalid
// subpart), so every string returned is valid UTF-8 and the concatenation of all of them equals
// sanitize_utf8(tokenizer.decode(ids)).
//
// One Detokenizer per sequence; not thread-safe. It keeps a reference to the Tokenizer, which
// must outlive it.
#pragma once

#include <string>

#include "engine/tokenizer/tokenizer.hpp"

namespace llmux::engine::tokenizer {

class Detokenizer {
 public:
  explicit Detokenizer(const Tokenizer& tokenizer, DecodeOptions options = {})
      : tok_(tokenizer), options_(options) {}

  // The text that became complete with this token (possibly empty).
  std::string push(TokenId id);
  // Flushes held-back bytes (an unfinished character becomes U+FFFD) and resets the state.
  std::string finish();

 private:
  const Tokenizer& tok_;
  DecodeOptions options_;
  std::string pending_;
  bool first_ = true;
};

}  // namespace llmux::engine::tokenizer
