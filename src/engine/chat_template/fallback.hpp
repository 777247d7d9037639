// Built-in chat templates for models whose file carries none, chosen from the architecture and
// the vocabulary the way the model family's own template would format a conversation.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

namespace llmux::engine::chat_template {

enum class Fallback { chatml, llama2, llama3, mistral, gemma, zephyr };

std::string_view to_string(Fallback f) noexcept;
std::optional<Fallback> fallback_from_name(std::string_view name) noexcept;

// The Jinja source of a built-in template. Each renders system, user, assistant and tool
// messages and honours add_generation_prompt; bos_token/eos_token come from the model.
std::string_view fallback_source(Fallback f) noexcept;

// Picks a template from the GGUF architecture (`general.architecture`) and the vocabulary
// (`has_token` says whether a token text exists):
//   <|im_start|>                   -> chatml (Qwen, SmolLM, Hermes, ...)
//   <|start_header_id|>, <|eot_id|> -> llama3
//   <start_of_turn> or gemma*       -> gemma
//   [INST] as a token               -> mistral
//   <|user|> as a token             -> zephyr
//   architecture llama              -> llama2 (its [INST] markers are plain text)
//   anything else                   -> chatml
Fallback choose_fallback(std::string_view architecture,
                         const std::function<bool(std::string_view)>& has_token);

}  // namespace llmux::engine::chat_template
