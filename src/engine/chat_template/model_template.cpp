#include "engine/chat_template/model_template.hpp"

#include <unordered_set>

#include "engine/chat_template/fallback.hpp"

namespace llmux::engine::chat_template {
namespace {

std::optional<std::string> token_text(const gguf::TokenizerMetadata& t,
                                      std::optional<std::int32_t> id) {
  if (!id || *id < 0 || static_cast<std::size_t>(*id) >= t.tokens.size()) return std::nullopt;
  return std::string(t.tokens[static_cast<std::size_t>(*id)]);
}

}  // namespace

ModelTemplate template_for_model(const gguf::GgufFile& file,
                                 const gguf::TokenizerMetadata& tokenizer) {
  ModelTemplate out;
  out.bos_token = token_text(tokenizer, tokenizer.bos_id);
  out.eos_token = token_text(tokenizer, tokenizer.eos_id);
  if (tokenizer.chat_template && !tokenizer.chat_template->empty()) {
    out.source = std::string(*tokenizer.chat_template);
    return out;
  }
  const std::string arch(file.get_string("general.architecture").value_or(""));
  const std::unordered_set<std::string_view> vocab(tokenizer.tokens.begin(), tokenizer.tokens.end());
  const auto has_token = [&](std::string_view text) { return vocab.contains(text); };
  out.source = std::string(fallback_source(choose_fallback(arch, has_token)));
  out.is_fallback = true;
  return out;
}

}  // namespace llmux::engine::chat_template
