#include "engine/tokenizer/tokenizer.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include <llmux/error.hpp>

#include "engine/tokenizer/tokenizer_impl.hpp"

namespace llmux::engine::tokenizer {
namespace {

[[noreturn]] void invalid(std::string_view what) {
  throw_error(errc::invalid_argument, fmt::format("tokenizer: {}", what));
}

// Tokens that end a turn in the chat formats of common model families.
constexpr std::array<std::string_view, 13> kEndOfTurnTexts{
    "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>", "<EOT>", "_<EOT>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence"
    "\xEF\xBD\x9C>", "<|return|>", "<|call|>", "<end_of_utterance>"};

bool is_llama3_pre(std::string_view pre) {
  return pre == "llama-bpe" || pre == "llama3" || pre == "dbrx" || pre == "smaug-bpe";
}

}  // namespace

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_gguf(const gguf::GgufFile& file) {
  return Tokenizer(gguf::read_tokenizer_metadata(file));
}

Tokenizer::Tokenizer(const gguf::TokenizerMetadata& meta) : impl_(std::make_unique<Impl>()) {
  if (meta.model == "llama") {
    kind_ = Kind::spm;
  } else if (meta.model == "gpt2") {
    kind_ = Kind::bpe;
  } else {
    invalid(fmt::format("unsupported tokenizer model '{}' (supported: llama, gpt2)", meta.model));
  }
  pre_ = std::string(meta.pre);
  const std::size_t n = meta.tokens.size();
  vocab_.texts.reserve(n);
  for (auto t : meta.tokens) vocab_.texts.emplace_back(t);
  vocab_.types = meta.token_types;
  if (vocab_.types.empty()) vocab_.types.assign(n, TokenType::normal);
  vocab_.ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    vocab_.ids.emplace(vocab_.texts[i], static_cast<TokenId>(i));  // first occurrence wins
  }

  if (kind_ == Kind::spm) {
    vocab_.scores = meta.scores;
    vocab_.byte_tokens.assign(256, -1);
    for (std::size_t i = 0; i < n; ++i) {
      if (vocab_.types[i] != TokenType::byte) continue;
      if (auto b = parse_byte_token(vocab_.texts[i])) {
        vocab_.byte_tokens[static_cast<std::size_t>(*b)] = static_cast<TokenId>(i);
      }
    }
    add_space_prefix_ = meta.add_space_prefix.value_or(true);
    remove_extra_whitespaces_ = meta.remove_extra_whitespaces.value_or(false);
    add_bos_ = meta.add_bos.value_or(true);
    auto default_id = [&](std::optional<TokenId> v, TokenId d) -> std::optional<TokenId> {
      if (v) return v;
      if (static_cast<std::size_t>(d) < n) return d;
      return std::nullopt;
    };
    bos_ = default_id(meta.bos_id, 1);
    eos_ = default_id(meta.eos_id, 2);
    unk_ = default_id(meta.unk_id, 0);
  } else {
    auto regexes = pretokenizer_regexes(meta.pre.empty() ? "gpt-2" : meta.pre);
    if (regexes.empty()) invalid(fmt::format("unsupported pre-tokenizer '{}'", meta.pre));
    impl_->pretokenizer = std::make_unique<Pretokenizer>(regexes);
    ignore_merges_ = is_llama3_pre(meta.pre);
    nfc_ = meta.pre == "qwen2" || meta.pre == "deepseek-r1-qwen";
    add_bos_ = meta.add_bos.value_or(is_llama3_pre(meta.pre));
    bos_ = meta.bos_id;
    eos_ = meta.eos_id;
    unk_ = meta.unk_id;
    for (int b = 0; b < 256; ++b) {
      if (vocab_.find(impl_->byte_map.encode(static_cast<std::uint8_t>(b))) < 0) {
        invalid(fmt::format("byte-level vocabulary lacks the token for byte 0x{:02X}", b));
      }
    }
    vocab_.merges.reserve(meta.merges.size());
    for (std::size_t rank = 0; rank < meta.merges.size(); ++rank) {
      const std::string_view m = meta.merges[rank];
      const auto sp = m.find(' ', 1);
      if (sp == std::string_view::npos) invalid(fmt::format("merge {} has no space", rank));
      const std::string_view left = m.substr(0, sp), right = m.substr(sp + 1);
      const TokenId l = vocab_.find(left), r = vocab_.find(right);
      std::string joined = std::string(left) + std::string(right);
      const TokenId result = vocab_.find(joined);
      if (l < 0 || r < 0 || result < 0) {
        invalid(fmt::format("merge {} '{}' names tokens not in the vocabulary", rank, m));
      }
      vocab_.merges.emplace(Vocab::pair_key(l, r),
                            Merge{static_cast<std::uint32_t>(rank), result});
    }
  }
  add_eos_ = meta.add_eos.value_or(false);
  init_specials(meta);
}

void Tokenizer::init_specials(const gguf::TokenizerMetadata& meta) {
  const std::size_t n = vocab_.size();
  for (std::size_t i = 0; i < n; ++i) {
    const TokenType t = vocab_.types[i];
    if (vocab_.texts[i].empty()) continue;
    if (t == TokenType::control || t == TokenType::user_defined || t == TokenType::unknown) {
      impl_->special_by_first_byte[static_cast<unsigned char>(vocab_.texts[i][0])].push_back(
          static_cast<TokenId>(i));
      if (t == TokenType::user_defined) impl_->has_user_defined = true;
    }
  }
  for (auto& bucket : impl_->special_by_first_byte) {
    std::stable_sort(bucket.begin(), bucket.end(), [&](TokenId a, TokenId b) {
      return vocab_.texts[a].size() > vocab_.texts[b].size();
    });
  }

  eot_ = meta.eot_id;
  auto add_eog = [&](std::optional<TokenId> id) {
    if (id && std::find(eog_.begin(), eog_.end(), *id) == eog_.end()) eog_.push_back(*id);
  };
  add_eog(eos_);
  add_eog(meta.eot_id);
  add_eog(meta.eom_id);
  add_eog(meta.fim_pad_id);
  add_eog(meta.fim_rep_id);
  add_eog(meta.fim_sep_id);
  for (auto text : kEndOfTurnTexts) {
    const TokenId id = vocab_.find(text);
    if (id < 0) continue;
    const TokenType t = vocab_.types[static_cast<std::size_t>(id)];
    if (t != TokenType::control && t != TokenType::user_defined) continue;
    add_eog(id);
    if (!eot_ && text != "<|endoftext|>" && text != "<|end_of_text|>") eot_ = id;
  }
}

std::string_view Tokenizer::token_text(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) {
    invalid(fmt::format("token id {} is outside the vocabulary of {}", id, vocab_.size()));
  }
  return vocab_.texts[static_cast<std::size_t>(id)];
}

TokenType Tokenizer::token_type(TokenId id) const {
  (void)token_text(id);
  return vocab_.types[static_cast<std::size_t>(id)];
}

bool Tokenizer::is_eog(TokenId id) const noexcept {
  return std::find(eog_.begin(), eog_.end(), id) != eog_.end();
}

}  // namespace llmux::engine::tokenizer
