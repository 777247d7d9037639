// Hyper-parameters of a llama-family decoder, read and validated from GGUF metadata, and the
// architecture traits that distinguish the families (one file per architecture).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/gguf/gguf.hpp"

namespace llmux::engine::model {

// What differs between the supported architectures of the llama family.
struct ArchTraits {
  std::string_view name;  // GGUF general.architecture
  bool rope_neox;         // rotate pairs (i, i + d/2) instead of (2i, 2i + 1)
  bool qkv_bias;          // attn_{q,k,v}.bias required (otherwise optional)
  bool qk_norm;           // per-head RMS norms of Q and K (attn_{q,k}_norm) before RoPE
};

const ArchTraits& llama_arch() noexcept;  // llama, incl. Mistral and Llama 3 RoPE scaling
const ArchTraits& qwen2_arch() noexcept;
const ArchTraits& qwen3_arch() noexcept;

// The traits for general.architecture; throws llmux::Error(invalid_argument) naming the
// architecture and the supported ones if it is not supported.
const ArchTraits& find_arch(std::string_view architecture);

struct HParams {
  const ArchTraits* arch = nullptr;
  std::int64_t n_vocab = 0;
  std::int64_t n_embd = 0;
  std::int64_t n_layer = 0;
  std::int64_t n_head = 0;
  std::int64_t n_head_kv = 0;
  std::int64_t head_dim_k = 0;  // attention.key_length, default n_embd / n_head
  std::int64_t head_dim_v = 0;  // attention.value_length, default head_dim_k
  std::int64_t n_ff = 0;
  std::int64_t n_ctx_train = 0;
  std::int64_t rope_dim = 0;    // rope.dimension_count, default head_dim_k
  double rope_base = 10000.0;
  double rope_position_scale = 1.0;  // linear RoPE scaling: positions multiplied by this
  float rms_eps = 1e-5f;

  std::int64_t q_dim() const noexcept { return n_head * head_dim_k; }
  std::int64_t k_dim() const noexcept { return n_head_kv * head_dim_k; }
  std::int64_t v_dim() const noexcept { return n_head_kv * head_dim_v; }
};

// Reads `<arch>.*` keys; throws llmux::Error(invalid_argument) for missing or inconsistent
// values (naming the key). The vocabulary size comes from the token embedding's shape.
HParams read_hparams(const gguf::GgufFile& file);

}  // namespace llmux::engine::model
