// Text <-> token ids for a model's vocabulary, built from its GGUF metadata.
//
// Two algorithms: SentencePiece-style BPE (tokenizer.ggml.model = "llama": scores, byte
// fallback, add_space_prefix) and byte-level BPE (model = "gpt2": merges ranked by order, with
// the pre-tokenizer named by tokenizer.ggml.pre, run on Oniguruma). Results match Hugging Face
// `tokenizers` on the vocabularies in tests/data/tokenizer (see docs/tokenizers.md).
//
// Contract:
// - encode() accepts any bytes. Invalid UTF-8 is replaced by U+FFFD per maximal invalid subpart
//   (what Python's decode(errors="replace") does), never dropped and never a crash.
// - Text that spells a control token ("<|im_end|>") stays text unless parse_special is set.
//   User-defined added tokens (type USER_DEFINED, e.g. Qwen's "<think>") are always matched,
//   as in Hugging Face and llama.cpp.
// - add_special adds BOS/EOS as the metadata says (add_bos_token / add_eos_token, with
//   llama.cpp's defaults when absent); BOS is not added when the text already starts with it.
// - SPM honours tokenizer.ggml.remove_extra_whitespaces (SentencePiece's normalizer option:
//   leading and trailing spaces dropped, runs of spaces collapsed to one) when it is set.
// - A Tokenizer is immutable after construction; all methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gguf/gguf.hpp"
#include "engine/gguf/metadata.hpp"
#include "engine/tokenizer/vocab.hpp"

namespace llmux::engine::tokenizer {

struct EncodeOptions {
  bool add_special = false;    // add BOS/EOS per the metadata
  bool parse_special = false;  // turn the text of control tokens into those tokens
};

struct DecodeOptions {
  bool render_special = false;       // include the text of control tokens
  bool strip_leading_space = true;   // SPM: drop the space add_space_prefix put in front
};

class Tokenizer {
 public:
  enum class Kind { spm, bpe };

  // Throws llmux::Error(invalid_argument) for unsupported or inconsistent vocabularies.
  explicit Tokenizer(const gguf::TokenizerMetadata& meta);
  static Tokenizer from_gguf(const gguf::GgufFile& file);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<TokenId> encode(std::string_view text, EncodeOptions options = {}) const;

  // The bytes a token stands for (control tokens: empty unless render_special). May be a
  // partial UTF-8 sequence (byte tokens, byte-level pieces).
  std::string token_to_piece(TokenId id, bool render_special = false) const;
  // All pieces concatenated; may contain invalid UTF-8 if the ids do (use the Detokenizer for
  // text shown to people).
  std::string decode(std::span<const TokenId> ids, DecodeOptions options = {}) const;

  Kind kind() const noexcept { return kind_; }
  std::size_t vocab_size() const noexcept { return vocab_.size(); }
  std::string_view token_text(TokenId id) const;  // the raw vocabulary entry
  TokenType token_type(TokenId id) const;
  const std::string& pre() const noexcept { return pre_; }

  std::optional<TokenId> bos() const noexcept { return bos_; }
  std::optional<TokenId> eos() const noexcept { return eos_; }
  std::optional<TokenId> eot() const noexcept { return eot_; }
  bool add_bos() const noexcept { return add_bos_; }
  bool add_eos() const noexcept { return add_eos_; }
  bool add_space_prefix() const noexcept { return add_space_prefix_; }
  // End of generation: EOS, EOT, EOM and the end-of-turn tokens of the common chat formats.
  bool is_eog(TokenId id) const noexcept;
  const std::vector<TokenId>& eog_ids() const noexcept { return eog_; }

 private:
  struct Impl;
  void encode_fragment(std::string_view text, bool after_special,
                       std::vector<TokenId>& out) const;
  void init_specials(const gguf::TokenizerMetadata& meta);

  Kind kind_ = Kind::spm;
  Vocab vocab_;
  std::string pre_;
  bool ignore_merges_ = false;
  bool nfc_ = false;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  bool remove_extra_whitespaces_ = false;  // SPM: SentencePiece's whitespace collapsing
  std::optional<TokenId> bos_, eos_, eot_, unk_;
  std::vector<TokenId> eog_;
  std::unique_ptr<Impl> impl_;  // pre-tokenizer, byte map, special-token matcher
};

}  // namespace llmux::engine::tokenizer
