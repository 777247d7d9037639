// Qwen2 / Qwen2.5: NEOX RoPE ordering and Q/K/V biases.
#include "engine/model/hparams.hpp"

namespace llmux::engine::model {

const ArchTraits& qwen2_arch() noexcept {
  static constexpr ArchTraits kTraits{"qwen2", /*rope_neox=*/true, /*qkv_bias=*/true,
                                      /*qk_norm=*/false};
  return kTraits;
}

}  // namespace llmux::engine::model
