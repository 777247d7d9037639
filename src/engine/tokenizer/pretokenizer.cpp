#include "engine/tokenizer/pretokenizer.hpp"

#include <mutex>

#include <fmt/format.h>
#include <oniguruma.h>

#include <llmux/error.hpp>

namespace llmux::engine::tokenizer {
namespace {

// GPT-2's pattern, also the ByteLevel pre-tokenizer's built-in one (use_regex = true).
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3 (tokenizer.ggml.pre = "llama-bpe").
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen 2 / 2.5 / 3: as Llama 3 but one digit per piece.
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Mistral's Tekken (Mistral Nemo and later).
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Hugging Face's Digits(individual_digits = true).
constexpr const char* kDigits = R"(\p{N})";

}  // namespace

std::vector<std::string> pretokenizer_regexes(std::string_view pre) {
  if (pre == "llama-bpe" || pre == "llama3" || pre == "dbrx" || pre == "smaug-bpe") {
    return {kLlama3};
  }
  if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "megrez") return {kQwen2};
  if (pre == "gpt-2" || pre == "default" || pre == "phi-2" || pre == "jina-v2-code" ||
      pre == "roberta-bpe" || pre == "olmo" || pre == "gpt2") {
    return {kGpt2};
  }
  if (pre == "smollm" || pre == "starcoder" || pre == "refact" || pre == "codeshell") {
    return {kDigits, kGpt2};
  }
  if (pre == "tekken") return {kTekken};
  return {};
}

class Regex {
 public:
  explicit Regex(const std::string& pattern) {
    static std::once_flag init;  // Oniguruma's own one-time encoding setup
    std::call_once(init, [] {
      OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
      onig_initialize(encodings, 1);
    });
    OnigErrorInfo info;
    const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
    int r = onig_new(&re_, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                     ONIG_SYNTAX_DEFAULT, &info);
    if (r != ONIG_NORMAL) {
      OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
      onig_error_code_to_str(msg, r, &info);
      throw_error(errc::invalid_argument,
                  fmt::format("tokenizer: bad pre-tokenizer regex: {}",
                              reinterpret_cast<const char*>(msg)));
    }
  }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex() { onig_free(re_); }

  // Appends to `out` the pieces of `text`: every match and every non-empty gap between them.
  void split(std::string_view text, std::vector<std::string_view>& out,
             OnigRegion* region) const {
    const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
    const auto* end = begin + text.size();
    std::size_t pos = 0, last = 0;
    while (pos <= text.size()) {
      onig_region_clear(region);
      const int r = onig_search(re_, begin, end, begin + pos, end, region, ONIG_OPTION_NONE);
      if (r < 0) break;  // ONIG_MISMATCH (or an error: treat the rest as one gap)
      const auto mb = static_cast<std::size_t>(region->beg[0]);
      const auto me = static_cast<std::size_t>(region->end[0]);
      if (me == mb) {  // empty match: not a piece; step one character
        pos = mb + 1;
        while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
        continue;
      }
      if (mb > last) out.push_back(text.substr(last, mb - last));
      out.push_back(text.substr(mb, me - mb));
      last = pos = me;
    }
    if (last < text.size()) out.push_back(text.substr(last));
  }

 private:
  OnigRegex re_ = nullptr;
};

Pretokenizer::Pretokenizer(const std::vector<std::string>& regexes) {
  for (const auto& r : regexes) regexes_.push_back(std::make_unique<Regex>(r));
}
Pretokenizer::Pretokenizer(Pretokenizer&&) noexcept = default;
Pretokenizer& Pretokenizer::operator=(Pretokenizer&&) noexcept = default;
Pretokenizer::~Pretokenizer() = default;

std::vector<std::string_view> Pretokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  std::unique_ptr<OnigRegion, void (*)(OnigRegion*)> region(
      onig_region_new(), [](OnigRegion* r) { onig_region_free(r, 1); });
  for (const auto& re : regexes_) {
    std::vector<std::string_view> next;
    next.reserve(pieces.size() * 2);
    for (auto piece : pieces) re->split(piece, next, region.get());
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace llmux::engine::tokenizer
