// Typed views of the GGUF metadata the engine needs: architecture and hyper-parameters (keys
// prefixed by "<architecture>."), RoPE settings, and the tokenizer ("tokenizer.ggml.*",
// "tokenizer.chat_template"). Key names follow llama.cpp's GGUF conventions.
//
// The readers validate what they return (positive sizes, heads dividing the embedding, token
// ids inside the vocabulary, arrays of matching lengths) and throw llmux::Error
// (errc::invalid_argument) naming the key otherwise. Results are plain values; the
// TokenizerMetadata string_views point into the GgufFile and live as long as it does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gguf/gguf.hpp"

namespace llmux::engine::gguf {

struct RopeInfo {
  std::uint64_t dimension_count = 0;   // rotated dimensions per head
  double freq_base = 10000.0;
  std::string scaling_type = "none";   // none | linear | yarn | llama3 | longrope
  double scaling_factor = 1.0;
  std::uint64_t original_context_length = 0;  // 0 when absent
};

struct ModelInfo {
  std::string architecture;      // general.architecture, e.g. "llama", "qwen2", "qwen3"
  std::string name;              // general.name, may be empty
  std::uint64_t context_length = 0;
  std::uint64_t embedding_length = 0;
  std::uint64_t block_count = 0;
  std::uint64_t feed_forward_length = 0;
  std::uint64_t head_count = 0;
  std::uint64_t head_count_kv = 0;
  std::uint64_t key_length = 0;    // per-head K size (defaults to embedding / heads)
  std::uint64_t value_length = 0;  // per-head V size (defaults to embedding / heads)
  double rms_norm_epsilon = 1e-5;
  std::uint64_t vocab_size = 0;    // from <arch>.vocab_size or the token list
  RopeInfo rope;
};

// Reads and validates the hyper-parameters. Per-layer arrays (e.g. head_count_kv given per
// layer) must hold one value repeated; anything else is rejected as unsupported.
ModelInfo read_model_info(const GgufFile& file);

// GGUF token types (tokenizer.ggml.token_type).
enum class TokenType : std::int32_t {
  undefined = 0, normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6,
};

struct TokenizerMetadata {
  std::string_view model;   // tokenizer.ggml.model: "llama" (SPM), "gpt2" (BPE), ...
  std::string_view pre;     // tokenizer.ggml.pre, empty when absent
  std::vector<std::string_view> tokens;
  std::vector<float> scores;         // empty when absent
  std::vector<TokenType> token_types;  // empty when absent
  std::vector<std::string_view> merges;  // "left right" pairs, rank = index
  std::optional<std::int32_t> bos_id, eos_id, unk_id, sep_id, pad_id, eot_id, eom_id;
  std::optional<std::int32_t> fim_pre_id, fim_suf_id, fim_mid_id, fim_pad_id, fim_rep_id,
      fim_sep_id;
  std::optional<bool> add_bos, add_eos, add_space_prefix, remove_extra_whitespaces;
  std::optional<std::string_view> chat_template;  // tokenizer.chat_template
};

// Reads the tokenizer metadata; throws if tokenizer.ggml.model or tokens are missing, arrays
// have mismatched lengths, or a special id is outside the vocabulary.
TokenizerMetadata read_tokenizer_metadata(const GgufFile& file);

}  // namespace llmux::engine::gguf
