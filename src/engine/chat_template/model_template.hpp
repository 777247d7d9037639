// The chat template a model file asks for: its tokenizer.chat_template, or a built-in fallback
// chosen from the architecture and the vocabulary, with the model's BOS/EOS token texts.
#pragma once

#include <optional>
#include <string>

#include "engine/gguf/gguf.hpp"
#include "engine/gguf/metadata.hpp"

namespace llmux::engine::chat_template {

struct ModelTemplate {
  std::string source;
  bool is_fallback = false;
  std::optional<std::string> bos_token;  // the vocabulary's text of BOS/EOS, when they exist
  std::optional<std::string> eos_token;
};

ModelTemplate template_for_model(const gguf::GgufFile& file,
                                 const gguf::TokenizerMetadata& tokenizer);

}  // namespace llmux::engine::chat_template
