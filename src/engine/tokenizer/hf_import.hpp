// Converts a Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) into a
// vocabulary-only GGUF, the way llama.cpp's convert_hf_to_gguf.py lays one out, so tests and
// tools can run llmux's tokenizers on real vocabularies shipped outside GGUF files.
//
// - Byte-level BPE (no byte_fallback): tokenizer.ggml.model "gpt2", the token list with added
//   tokens typed CONTROL when special or when they look special (<|...|>, <｜...｜>,
//   <unused...>, ...), USER_DEFINED otherwise, "[PADn]" UNUSED fillers for holes, the merges,
//   and tokenizer.ggml.pre named from the pre-tokenizer's regex (llama-bpe, qwen2, gpt-2,
//   smollm, tekken).
// - SentencePiece-style BPE (byte_fallback): model "llama", pre "default", BYTE/CONTROL/NORMAL
//   types. One deliberate difference: llama.cpp's converter writes a score of -1000 for every
//   token when it has only tokenizer.json (no tokenizer.model), which makes its own SPM merge
//   order arbitrary; here a token's score is minus the rank of the first merge that produces
//   it, which reproduces the merge order of the original SentencePiece model.
// - Special ids and add_bos/add_eos from tokenizer_config.json (else from a TemplateProcessing
//   post-processor, else false: what the Hugging Face tokenizer itself adds), and
//   tokenizer.chat_template.
// Throws llmux::Error(invalid_argument) on malformed or unsupported input.
#pragma once

#include <string>
#include <string_view>

#include "engine/gguf/gguf_writer.hpp"

namespace llmux::engine::tokenizer {

// `tokenizer_config_json` may be empty. `name` becomes general.name.
gguf::GgufWriter vocab_gguf_from_hf(std::string_view tokenizer_json,
                                    std::string_view tokenizer_config_json,
                                    const std::string& name = "vocab");

// Reads a whole file (helper for tools and tests); throws with the path on failure.
std::string read_file(const std::string& path);

}  // namespace llmux::engine::tokenizer
