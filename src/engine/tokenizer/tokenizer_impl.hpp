// Private parts of Tokenizer shared by tokenizer.cpp and encode.cpp.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "engine/tokenizer/pretokenizer.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/unicode.hpp"

namespace llmux::engine::tokenizer {

// Special-token candidates bucketed by first byte, longest first, so that a left-to-right scan
// finds the leftmost-longest match.
struct Tokenizer::Impl {
  std::unique_ptr<Pretokenizer> pretokenizer;  // BPE only
  ByteLevelMap byte_map;
  std::array<std::vector<TokenId>, 256> special_by_first_byte;
  bool has_user_defined = false;
};

}  // namespace llmux::engine::tokenizer
