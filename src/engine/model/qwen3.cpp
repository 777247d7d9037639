// Qwen3: NEOX RoPE ordering, per-head RMS norms of Q and K before RoPE, and an explicit head size
// (attention.key_length) that need not equal embedding_length / head_count.
#include "engine/model/hparams.hpp"

namespace llmux::engine::model {

const ArchTraits& qwen3_arch() noexcept {
  static constexpr ArchTraits kTraits{"qwen3", /*rope_neox=*/true, /*qkv_bias=*/false,
                                      /*qk_norm=*/true};
  return kTraits;
}

}  // namespace llmux::engine::model
