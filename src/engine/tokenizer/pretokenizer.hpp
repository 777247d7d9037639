// Pre-tokenizers: split text into the pieces that byte-level BPE then encodes one by one.
//
// Each family's split is a sequence of regexes, each applied to every piece produced by the
// previous one, keeping both matches and the text between them (Hugging Face's `Split` with the
// "Isolated" behaviour). Regexes run on Oniguruma, the engine Hugging Face `tokenizers` embeds,
// with its default syntax and UTF-8 encoding, so the patterns mean exactly what they mean there.
//
// A Pretokenizer is immutable after construction and may be used from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::engine::tokenizer {

// The regexes of a pre-tokenizer type as tokenizer.ggml.pre names it ("llama-bpe", "qwen2",
// "smollm", "gpt-2", "tekken", ...); empty when the name is unknown.
std::vector<std::string> pretokenizer_regexes(std::string_view pre);

class Regex;

class Pretokenizer {
 public:
  // Throws llmux::Error(invalid_argument) if a regex does not compile.
  explicit Pretokenizer(const std::vector<std::string>& regexes);
  Pretokenizer(Pretokenizer&&) noexcept;
  Pretokenizer& operator=(Pretokenizer&&) noexcept;
  ~Pretokenizer();

  // Splits valid UTF-8 `text` into non-empty pieces that concatenate back to `text`.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace llmux::engine::tokenizer
