// Tokenizer::encode and decode: special-token partition, per-fragment encoding, pieces.
#include <cstring>

#include <fmt/format.h>

#include <llmux/error.hpp>

#include "engine/tokenizer/tokenizer_impl.hpp"

namespace llmux::engine::tokenizer {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581

struct Fragment {
  std::string_view text;  // empty when this fragment is a token
  TokenId token = -1;
};

}  // namespace

void Tokenizer::encode_fragment(std::string_view text, bool after_special,
                                std::vector<TokenId>& out) const {
  if (kind_ == Kind::spm) {
    if (remove_extra_whitespaces_) {
      while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
      while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
      if (text.empty()) return;
    }
    std::string s;
    s.reserve(text.size() + text.size() / 2 + 3);
    if (add_space_prefix_ && after_special) s.append(kSpmSpace);
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != ' ') {
        s.push_back(text[i]);
      } else if (!(remove_extra_whitespaces_ && i > 0 && text[i - 1] == ' ')) {
        s.append(kSpmSpace);
      }
    }
    spm_encode(vocab_, s, unk_.value_or(-1), out);
    return;
  }
  std::string normalized;
  if (nfc_) {
    normalized = nfc(text);
    text = normalized;
  }
  std::string piece;
  for (std::string_view word : impl_->pretokenizer->split(text)) {
    piece.clear();
    impl_->byte_map.encode_append(piece, word);
    bpe_encode(vocab_, piece, ignore_merges_, out);
  }
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, EncodeOptions options) const {
  std::string sanitized;
  if (!is_valid_utf8(text)) {
    sanitized = sanitize_utf8(text);
    text = sanitized;
  }

  // Partition on special tokens: control/unknown only when asked, user-defined always.
  std::vector<Fragment> fragments;
  const bool scan = options.parse_special || impl_->has_user_defined;
  std::size_t start = 0;
  for (std::size_t i = 0; scan && i < text.size(); ++i) {
    const auto& bucket = impl_->special_by_first_byte[static_cast<unsigned char>(text[i])];
    for (TokenId id : bucket) {
      const std::string& t = vocab_.texts[static_cast<std::size_t>(id)];
      if (!options.parse_special && vocab_.types[static_cast<std::size_t>(id)] !=
                                        TokenType::user_defined) {
        continue;
      }
      if (text.size() - i < t.size() || std::memcmp(text.data() + i, t.data(), t.size()) != 0) {
        continue;
      }
      if (i > start) fragments.push_back(Fragment{text.substr(start, i - start)});
      fragments.push_back(Fragment{{}, id});
      i += t.size() - 1;
      start = i + 1;
      break;
    }
  }
  if (start < text.size()) fragments.push_back(Fragment{text.substr(start)});

  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  if (options.add_special && add_bos_ && bos_ &&
      !(!fragments.empty() && fragments.front().token == *bos_)) {
    out.push_back(*bos_);
  }
  bool after_special = true;  // SPM: the first fragment gets the space prefix
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      encode_fragment(f.text, after_special, out);
      after_special = false;
    }
  }
  if (options.add_special && add_eos_ && eos_) out.push_back(*eos_);
  return out;
}

std::string Tokenizer::token_to_piece(TokenId id, bool render_special) const {
  (void)token_text(id);  // validates the id
  const std::string& text = vocab_.texts[static_cast<std::size_t>(id)];
  switch (vocab_.types[static_cast<std::size_t>(id)]) {
    case TokenType::control:
    case TokenType::unknown:
      return render_special ? text : std::string();
    case TokenType::unused:
      return {};
    case TokenType::user_defined:
      return text;
    case TokenType::byte:
      if (auto b = parse_byte_token(text)) return std::string(1, static_cast<char>(*b));
      return text;
    default:
      break;
  }
  if (kind_ == Kind::spm) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
      if (text.compare(i, kSpmSpace.size(), kSpmSpace) == 0) {
        out.push_back(' ');
        i += kSpmSpace.size();
      } else {
        out.push_back(text[i++]);
      }
    }
    return out;
  }
  if (auto bytes = impl_->byte_map.decode(text)) return std::move(*bytes);
  return text;
}

std::string Tokenizer::decode(std::span<const TokenId> ids, DecodeOptions options) const {
  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::string piece = token_to_piece(ids[i], options.render_special);
    if (i == 0 && kind_ == Kind::spm && add_space_prefix_ && options.strip_leading_space &&
        !piece.empty() && piece[0] == ' ') {
      piece.erase(0, 1);
    }
    out += piece;
  }
  return out;
}

}  // namespace llmux::engine::tokenizer
