#include "engine/tokenizer/detokenizer.hpp"

#include "engine/tokenizer/unicode.hpp"

namespace llmux::engine::tokenizer {

std::string Detokenizer::push(TokenId id) {
  std::string piece = tok_.token_to_piece(id, options_.render_special);
  if (first_ && !piece.empty()) {
    if (tok_.kind() == Tokenizer::Kind::spm && tok_.add_space_prefix() &&
        options_.strip_leading_space && piece[0] == ' ') {
      piece.erase(0, 1);
    }
    first_ = false;
  }
  pending_ += piece;
  const std::size_t hold = incomplete_utf8_tail(pending_);
  const std::string_view ready = std::string_view(pending_).substr(0, pending_.size() - hold);
  std::string out = is_valid_utf8(ready) ? std::string(ready) : sanitize_utf8(ready);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string Detokenizer::finish() {
  std::string out = sanitize_utf8(pending_);
  pending_.clear();
  first_ = true;
  return out;
}

}  // namespace llmux::engine::tokenizer
