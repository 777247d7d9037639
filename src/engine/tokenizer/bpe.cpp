// Byte-level BPE and SentencePiece merging. Both keep the symbols in a doubly linked list and
// the candidate pairs in a heap, so a piece of n characters costs O(n log n) (long whitespace
// runs are single pieces).
#include <queue>

#include <fmt/format.h>

#include <llmux/error.hpp>

#include "engine/tokenizer/unicode.hpp"
#include "engine/tokenizer/vocab.hpp"

namespace llmux::engine::tokenizer {
namespace {

struct Symbol {
  std::size_t begin;  // byte range in the piece
  std::size_t len;
  int prev;
  int next;
  TokenId id;  // BPE: token id of the symbol; SPM: unused
};

std::vector<Symbol> char_symbols(std::string_view s) {
  std::vector<Symbol> syms;
  syms.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = valid_utf8_length(s, i);
    if (len == 0) len = 1;  // not reachable for sanitized input; keep the loop total anyway
    const int idx = static_cast<int>(syms.size());
    syms.push_back(Symbol{i, len, idx - 1, idx + 1, -1});
    i += len;
  }
  if (!syms.empty()) syms.back().next = -1;
  return syms;
}

struct BpeCandidate {
  std::uint32_t rank;
  int left;
  std::size_t left_len, right_len;  // lengths when queued, to detect stale entries
  TokenId result;
  bool operator>(const BpeCandidate& o) const {
    return rank != o.rank ? rank > o.rank : left > o.left;
  }
};

}  // namespace

void bpe_encode(const Vocab& vocab, std::string_view piece, bool ignore_merges,
                std::vector<TokenId>& out) {
  if (piece.empty()) return;
  if (ignore_merges) {
    if (TokenId whole = vocab.find(piece); whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  std::vector<Symbol> syms = char_symbols(piece);
  for (auto& s : syms) {
    s.id = vocab.find(piece.substr(s.begin, s.len));
    if (s.id < 0) {
      throw_error(errc::invalid_argument,
                  fmt::format("tokenizer: character '{}' is not in the BPE vocabulary",
                              piece.substr(s.begin, s.len)));
    }
  }
  std::priority_queue<BpeCandidate, std::vector<BpeCandidate>, std::greater<>> heap;
  auto push = [&](int left) {
    if (left < 0 || syms[left].next < 0) return;
    const Symbol& l = syms[left];
    const Symbol& r = syms[l.next];
    auto it = vocab.merges.find(Vocab::pair_key(l.id, r.id));
    if (it == vocab.merges.end()) return;
    heap.push(BpeCandidate{it->second.rank, left, l.len, r.len, it->second.result});
  };
  for (int i = 0; i + 1 < static_cast<int>(syms.size()); ++i) push(i);
  while (!heap.empty()) {
    BpeCandidate c = heap.top();
    heap.pop();
    Symbol& l = syms[c.left];
    if (l.len == 0 || l.len != c.left_len || l.next < 0) continue;
    Symbol& r = syms[l.next];
    if (r.len != c.right_len) continue;
    l.len += r.len;
    l.id = c.result;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = c.left;
    push(l.prev);
    push(c.left);
  }
  for (int i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

namespace {

struct SpmCandidate {
  float score;
  int left;
  std::size_t total_len;
  TokenId result;
  bool operator<(const SpmCandidate& o) const {  // max-heap: highest score, then leftmost
    return score != o.score ? score < o.score : left > o.left;
  }
};

bool mergeable(const Vocab& v, TokenId id) {
  if (v.types.empty()) return true;
  const TokenType t = v.types[static_cast<std::size_t>(id)];
  return t == TokenType::normal || t == TokenType::user_defined || t == TokenType::undefined;
}

}  // namespace

void spm_encode(const Vocab& vocab, std::string_view text, TokenId unk,
                std::vector<TokenId>& out) {
  if (text.empty()) return;
  std::vector<Symbol> syms = char_symbols(text);
  std::priority_queue<SpmCandidate> heap;
  auto push = [&](int left) {
    if (left < 0 || syms[left].next < 0) return;
    const Symbol& l = syms[left];
    const Symbol& r = syms[l.next];
    const std::size_t total = l.len + r.len;
    TokenId id = vocab.find(text.substr(l.begin, total));
    if (id < 0 || !mergeable(vocab, id)) return;
    const float score = vocab.scores.empty() ? 0.0f : vocab.scores[static_cast<std::size_t>(id)];
    heap.push(SpmCandidate{score, left, total, id});
  };
  for (int i = 0; i + 1 < static_cast<int>(syms.size()); ++i) push(i);
  while (!heap.empty()) {
    SpmCandidate c = heap.top();
    heap.pop();
    Symbol& l = syms[c.left];
    if (l.len == 0 || l.next < 0) continue;
    Symbol& r = syms[l.next];
    if (l.len + r.len != c.total_len) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = c.left;
    push(l.prev);
    push(c.left);
  }
  for (int i = 0; i >= 0; i = syms[i].next) {
    const std::string_view s = text.substr(syms[i].begin, syms[i].len);
    TokenId id = vocab.find(s);
    if (id >= 0 && mergeable(vocab, id)) {
      out.push_back(id);
      continue;
    }
    for (char ch : s) {
      TokenId b = vocab.byte_tokens.empty()
                      ? -1
                      : vocab.byte_tokens[static_cast<unsigned char>(ch)];
      if (b >= 0) {
        out.push_back(b);
      } else if (unk >= 0) {
        out.push_back(unk);
        break;  // one <unk> per unknown character, as SentencePiece does
      } else {
        throw_error(errc::invalid_argument,
                    "tokenizer: character not in the vocabulary and no byte or unk token");
      }
    }
  }
}

}  // namespace llmux::engine::tokenizer
