// The vocabulary shared by the tokenizer algorithms: owned token texts, types, scores, BPE merge
// ranks and lookups. Built once from GGUF metadata; immutable and thread-safe afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/gguf/metadata.hpp"

namespace llmux::engine::tokenizer {

using TokenId = std::int32_t;
using gguf::TokenType;

struct Merge {
  std::uint32_t rank;
  TokenId result;
};

struct Vocab {
  std::vector<std::string> texts;
  std::vector<TokenType> types;
  std::vector<float> scores;                         // SPM only (empty otherwise)
  std::unordered_map<std::string_view, TokenId> ids;  // keys point into `texts`
  std::unordered_map<std::uint64_t, Merge> merges;    // (left << 32 | right) -> merge (BPE)
  std::vector<TokenId> byte_tokens;                   // SPM "<0xXX>" ids, -1 when absent

  std::size_t size() const noexcept { return texts.size(); }
  TokenId find(std::string_view text) const noexcept {
    auto it = ids.find(text);
    return it == ids.end() ? -1 : it->second;
  }
  static std::uint64_t pair_key(TokenId a, TokenId b) noexcept {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }
};

// Greedy merging by rank (lowest first, leftmost on ties) of one pre-tokenized piece already in
// byte-level form; appends the ids. `ignore_merges`: a piece that is itself a token is emitted
// whole (Llama 3). Throws if a character of the piece is not in the vocabulary.
void bpe_encode(const Vocab& vocab, std::string_view byte_level_piece, bool ignore_merges,
                std::vector<TokenId>& out);

// SentencePiece BPE: merges the adjacent pair whose concatenation is the highest-scoring token
// (leftmost on ties); unknown characters fall back to byte tokens, else to `unk`.
void spm_encode(const Vocab& vocab, std::string_view text, TokenId unk, std::vector<TokenId>& out);

}  // namespace llmux::engine::tokenizer
